"""The kernel stays a kernel: nothing in ``tradelane/`` but the CLI (the composition root)
imports the packages built on it, and those only lazily, inside functions."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPENDENTS = {"ingest", "streams", "finance", "devices", "api", "faults"}


def _imports(tree: ast.AST, top_level_only: bool) -> set[str]:
    nodes = tree.body if top_level_only and isinstance(tree, ast.Module) else ast.walk(tree)
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_kernel_imports_none_of_its_dependents() -> None:
    offenders = []
    for path in sorted((ROOT / "tradelane").rglob("*.py")):
        in_cli = "cli" in path.relative_to(ROOT / "tradelane").parts
        used = _imports(ast.parse(path.read_text()), top_level_only=in_cli) & DEPENDENTS
        if used:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(used)}")
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
    (see :func:`tradelane.kafka.rewind`): every reader uses ``rewind``/``fast_forward``."""
    root = Path(__file__).resolve().parents[2]
    offenders = [
        str(path.relative_to(root))
        for package in ("api", "devices", "faults", "finance", "ingest", "streams", "tradelane")
        for path in (root / package).rglob("*.py")
        if re.search(r"\.seek_to_(beginning|end)\(", path.read_text())
    ]
    assert offenders == []
