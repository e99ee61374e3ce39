"""The API serves the same AsyncAPI document that ``tradelane schemas export`` writes."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from cli.main import main
from tradelane.asyncapi import asyncapi_document


def test_exported_and_served(tmp_path: Path, client: TestClient) -> None:
    assert main(["schemas", "export", str(tmp_path)]) == 0
    exported = json.loads((tmp_path / "asyncapi.json").read_text())
    served = client.get("/asyncapi.json")
    assert served.status_code == 200
    assert served.json() == exported == json.loads(json.dumps(asyncapi_document()))
