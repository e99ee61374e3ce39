"""JSON Schema export of every wire contract, plus the AsyncAPI document that ties them to
their channels.

The output is stable (sorted keys, fixed indentation, one file per contract plus an index), so
a diff of two exports shows exactly how a contract changed, and the export can be committed
or published for banks and insurers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tradelane.asyncapi import asyncapi_document
from tradelane.contracts import ALL_CONTRACTS
from tradelane.topics import KAFKA_TOPICS

ASYNCAPI_FILE = "asyncapi.json"


def contract_schemas() -> dict[str, dict[str, Any]]:
    """Every contract's JSON Schema (validation mode), by export name."""
    return {
        name: model.model_json_schema(mode="validation") for name, model in ALL_CONTRACTS.items()
    }


def render_json(data: object) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def topic_index() -> dict[str, Any]:
    names = {model: name for name, model in ALL_CONTRACTS.items()}
    return {
        t.name: {
            "partitions": t.partitions,
            "cleanup_policy": t.cleanup_policy,
            "key": t.key,
            "value_schema": f"{names[t.value_model]}.json",
        }
        for t in KAFKA_TOPICS
    }


def export(directory: Path) -> list[Path]:
    """Write ``{name}.json`` per contract, ``index.json`` and ``asyncapi.json`` (AsyncAPI 3);
    return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, schema in contract_schemas().items():
        path = directory / f"{name}.json"
        path.write_text(render_json(schema))
        written.append(path)
    index = directory / "index.json"
    index.write_text(
        render_json({"contracts": sorted(ALL_CONTRACTS), "kafka_topics": topic_index()})
    )
    written.append(index)
    asyncapi = directory / ASYNCAPI_FILE
    asyncapi.write_text(render_json(asyncapi_document()))
    written.append(asyncapi)
    return written
