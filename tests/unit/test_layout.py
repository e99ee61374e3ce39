"""What may import what: every pair of first-party packages is either allowed or refused here.

The layers, inner to outer (docs/architecture.md draws them):

- ``tradelane`` — the kernel: contracts, topics, settings, ids, geo, roles, tenancy, errors.
  Pure: no other package of ours and no client library of a broker or database.
- ``transport`` — one way to reach Kafka and MQTT (client factories, read-to-end, follow, seek,
  topics, groups, probes).
- the features: ``ingest``, ``devices``, ``finance``, ``webhooks`` on the kernel and transport;
  ``streams`` (the worker: rules, topology and shells) also composes ``finance``; ``api`` reads
  ``finance`` folds and serves ``webhooks`` subscriptions.
- at the edge: ``devtools`` (local services, embedded brokers, child processes), ``faults``
  (the fault-injection suite), ``bench`` (benchmarks) and ``cli`` (the composition root).

The rule holds for every import, at the top of a module or inside a function: a lazy import
is still a dependency.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KERNEL = {"tradelane"}
TRANSPORT = KERNEL | {"transport"}
FEATURES = {"ingest", "devices", "finance", "webhooks", "streams", "api"}
ALLOWED: dict[str, set[str]] = {
    "tradelane": set(),
    "transport": KERNEL,
    "ingest": TRANSPORT,
    "devices": TRANSPORT,
    "finance": TRANSPORT,
    "webhooks": TRANSPORT,
    "streams": TRANSPORT | {"finance"},
    "api": TRANSPORT | {"finance", "webhooks"},
    "devtools": TRANSPORT,
    "faults": TRANSPORT | {"devtools", "ingest", "devices", "finance", "streams"},
    "bench": TRANSPORT | FEATURES | {"devtools", "faults"},
    "cli": TRANSPORT | FEATURES | {"devtools", "faults", "bench"},
}
IO_LIBRARIES = {"aiokafka", "paho", "faust", "influxdb_client", "httpx", "fastapi", "uvicorn"}


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _package_imports(package: str) -> dict[str, set[str]]:
    return {
        str(path.relative_to(ROOT)): _imports(ast.parse(path.read_text()))
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def test_every_first_party_package_is_in_the_matrix() -> None:
    on_disk = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()} - {
        "tests"
    }
    assert on_disk == set(ALLOWED)


def test_packages_import_only_what_the_matrix_allows() -> None:
    offenders = []
    for package, allowed in ALLOWED.items():
        for path, used in _package_imports(package).items():
            refused = (used & set(ALLOWED)) - allowed - {package}
            if refused:
                offenders.append(f"{path} imports {sorted(refused)}")
    assert not offenders, offenders


def test_kernel_uses_no_broker_or_database_client() -> None:
    offenders = [
        f"{path} imports {sorted(used & IO_LIBRARIES)}"
        for path, used in _package_imports("tradelane").items()
        if used & IO_LIBRARIES
    ]
    assert not offenders, offenders


def test_user_layout_is_in_place() -> None:
    for name in [
        "ingest",
        "streams",
        "finance",
        "devices",
        "tests",
        "docker-compose.yml",
        "pyproject.toml",
        "README.md",
        ".ci/run",
        "constraints.txt",
    ]:
        assert (ROOT / name).exists(), name


def test_readers_position_partitions_by_explicit_offset() -> None:
    """``seek_to_beginning``/``seek_to_end`` can be overtaken by a reset already in flight
    (see :func:`transport.kafka.rewind`): every reader uses ``rewind``/``fast_forward``."""
    offenders = [
        str(path.relative_to(ROOT))
        for package in ALLOWED
        for path in (ROOT / package).rglob("*.py")
        if re.search(r"\.seek_to_(beginning|end)\(", path.read_text())
    ]
    assert offenders == []
