"""Every function in production code reads at once: at most 70 lines from ``def`` to its end.

Long functions hid parameter convoys and several rules in one place; this keeps them from
coming back. Tests are not counted (a table of cases may be long)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.unit.test_layout import ALLOWED, ROOT

LIMIT = 70


def long_functions(path: Path, root: Path) -> list[str]:
    """``path``'s functions (methods and nested ones included) longer than :data:`LIMIT`."""
    tree = ast.parse(path.read_text())
    return [
        f"{path.relative_to(root)}:{node.lineno} {node.name} ({length} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (length := (node.end_lineno or node.lineno) - node.lineno + 1) > LIMIT
    ]


def test_no_production_function_is_longer_than_the_limit() -> None:
    found = [
        line
        for package in sorted(ALLOWED)
        for path in sorted((ROOT / package).rglob("*.py"))
        for line in long_functions(path, ROOT)
    ]
    assert not found, found


def test_the_count_sees_a_function_one_line_too_long(tmp_path: Path) -> None:
    def sample(lines: int) -> Path:
        body = "\n".join(f"    x{n} = {n}" for n in range(lines - 1))
        path = tmp_path / f"sample_{lines}.py"
        path.write_text(
            f"class C:\n    def m(self) -> None:\n    {body.replace(chr(10), chr(10) + '    ')}\n"
        )
        return path

    assert long_functions(sample(LIMIT), tmp_path) == []
    assert long_functions(sample(LIMIT + 1), tmp_path) == [f"sample_{LIMIT + 1}.py:2 m (71 lines)"]
