"""Grafana's dashboard JSON Schema for the tests, generated rather than copied into the repo.

tools/grafana-schema pins @grafana/schema (the TypeScript types Grafana publishes for its
dashboard model, at the release of the compose ``grafana`` image) and ts-json-schema-generator;
``generate.mjs`` turns the ``Dashboard`` type into a draft-07 JSON Schema. The first run installs
the locked packages with ``npm ci`` (the npm client's own registry configuration) and generates
the schema into the cache; later runs read the cached file, keyed by the lock and the script, so
a version bump regenerates it."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "tools" / "grafana-schema"
_INPUTS = ("package-lock.json", "generate.mjs")


def schema_version() -> str:
    """The @grafana/schema release pinned in tools/grafana-schema/package.json."""
    package = json.loads((TOOLS / "package.json").read_text())
    return str(package["dependencies"]["@grafana/schema"])


def cached_path(cache: Path) -> Path:
    """Where the schema of the current inputs lives in ``cache``."""
    digest = hashlib.sha256(b"".join((TOOLS / name).read_bytes() for name in _INPUTS))
    return cache / f"dashboard-{schema_version()}-{digest.hexdigest()[:16]}.json"


def dashboard_schema(cache: Path) -> dict[str, Any]:
    """The generated schema, from ``cache`` when these inputs already produced it there."""
    path = cached_path(cache)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        node, npm = _tools()
        stamp = TOOLS / "node_modules" / ".package-lock.json"  # npm ci writes it last
        lock = TOOLS / "package-lock.json"
        if not stamp.exists() or stamp.stat().st_mtime < lock.stat().st_mtime:
            _run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], "npm ci")
        _run([node, str(TOOLS / "generate.mjs"), str(path)], "generate.mjs")
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def _tools() -> tuple[str, str]:
    """node and npm, or a failure that says what to install (never a skip: an unchecked
    dashboard would pass silently)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail(
            "node and npm are required to generate Grafana's dashboard schema from "
            "@grafana/schema (tools/grafana-schema); install them (scripts/test.sh does)",
            pytrace=False,
        )
    return node, npm


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(argv, cwd=TOOLS, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        pytest.fail(f"{what} in {TOOLS} failed:\n{done.stdout}\n{done.stderr}", pytrace=False)
