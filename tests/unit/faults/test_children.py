"""A supervised child never has two processes: a start while one runs kills that one first
(two overlapping bridge kills each scheduled a restart, and the earlier process, hidden by the
later start, outlived the fault run and forwarded every reading a second time)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devtools import children


class _Proc:
    started: list[_Proc] = []

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        self.alive = True
        _Proc.started.append(self)

    def poll(self) -> int | None:
        return None if self.alive else -9

    def kill(self) -> None:
        self.alive = False

    def wait(self, _timeout: float | None = None) -> int:
        return -9


def test_a_second_start_kills_the_process_still_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(children.subprocess, "Popen", _Proc)
    child = children.bridge("faults-test", tmp_path)
    child.start()
    child.start()
    first, second = _Proc.started[-2:]
    assert not first.alive
    assert second.alive
    assert child.proc is second
