"""Schema export is stable, and the committed export (docs/schemas) matches the contracts:
a contract change shows up as a reviewed diff of those files (regenerate with
``tradelane schemas export docs/schemas``)."""

from __future__ import annotations

import json
from pathlib import Path

from cli.main import main
from tradelane.contracts import ALL_CONTRACTS
from tradelane.schemas import export

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "schemas"


def _read(directory: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(directory.glob("*.json"))}


def test_export_is_byte_stable(tmp_path: Path) -> None:
    export(tmp_path / "a")
    export(tmp_path / "b")
    assert _read(tmp_path / "a") == _read(tmp_path / "b")


def test_committed_schemas_match_the_contracts(tmp_path: Path) -> None:
    export(tmp_path)
    assert _read(tmp_path) == _read(COMMITTED), (
        "contracts changed: run `tradelane schemas export docs/schemas` and review the diff"
    )


def test_cli_exports_every_contract_and_an_index(tmp_path: Path) -> None:
    assert main(["schemas", "export", str(tmp_path / "out")]) == 0
    names = {p.stem for p in (tmp_path / "out").glob("*.json")}
    assert names == set(ALL_CONTRACTS) | {"index", "asyncapi"}
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    assert index["kafka_topics"]["tracker.readings"]["value_schema"] == (
        "kafka.tracker.readings.v1.json"
    )
    reading = json.loads((tmp_path / "out" / "mqtt.tracker_reading.v1.json").read_text())
    assert set(reading["required"]) == {"device_id", "seq", "ts"}
