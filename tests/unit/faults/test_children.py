"""A supervised child never has two processes: a start while one runs kills that one first
(two overlapping bridge kills each scheduled a restart, and the earlier process, hidden by the
later start, outlived the fault run and forwarded every reading a second time)."""

from __future__ import annotations

import signal
import subprocess
import sys
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
    monkeypatch.setattr(subprocess, "Popen", _Proc)  # the module children starts them with
    child = children.bridge("faults-test", tmp_path)
    child.start()
    child.start()
    first, second = _Proc.started[-2:]
    assert not first.alive
    assert second.alive
    assert id(child.proc) == id(second)


def test_a_child_gets_this_environment_with_overrides_and_without_the_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRADELANE_API_KEYS_FILE", "keys.txt")
    monkeypatch.setenv("TRADELANE_KEPT", "yes")
    env = children.child_env(
        {"TRADELANE_API_CLIENT_QUEUE_MAX": "10000"}, ["TRADELANE_API_KEYS_FILE"]
    )
    assert env["TRADELANE_API_CLIENT_QUEUE_MAX"] == "10000"
    assert env["TRADELANE_KEPT"] == "yes"
    assert "TRADELANE_API_KEYS_FILE" not in env


def test_a_spawned_child_runs_the_module_in_this_interpreter_into_its_log(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "child.log"
    proc = children.spawn(["--help"], log, module="json.tool")
    assert proc.wait(30) == 0
    assert proc.args[:3] == [sys.executable, "-m", "json.tool"]  # type: ignore[index]
    assert "usage:" in log.read_text()


def test_finish_kills_a_child_that_ignores_sigterm() -> None:
    stubborn = subprocess.Popen(
        [sys.executable, "-c", IGNORES_SIGTERM], stdout=subprocess.PIPE, text=True
    )
    assert stubborn.stdout is not None
    assert stubborn.stdout.readline() == "ignoring\n"  # its handler is in place
    children.finish(stubborn, timeout_s=0.5)
    assert stubborn.returncode == -signal.SIGKILL
    stubborn.stdout.close()


IGNORES_SIGTERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ignoring', flush=True); time.sleep(60)"
)
