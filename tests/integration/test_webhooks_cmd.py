"""``tradelane webhooks`` as a process: it announces itself once it has joined its group,
prints a summary on SIGTERM and exits 0; a replay with nothing to replay exits by itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.helpers import stop_process, wait_for_output
from tradelane.settings import KafkaSettings

pytestmark = pytest.mark.integration


def _start(log: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TRADELANE_WEBHOOKS_START": "latest"}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cli.main", "webhooks", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


def test_runs_announces_and_stops_cleanly(
    kafka_settings: KafkaSettings, unique: str, tmp_path: Path
) -> None:
    log = tmp_path / "webhooks.log"
    proc = _start(log, "--group", f"tradelane-webhooks-cmd-{unique}", "--stats-interval", "0")
    try:
        wait_for_output(log, f"group tradelane-webhooks-cmd-{unique}", proc)
    finally:
        status = stop_process(proc)
    assert status == 0, log.read_text()
    assert "webhooks stopped: 0 delivered" in log.read_text()


def test_a_replay_of_nothing_ends_by_itself(
    kafka_settings: KafkaSettings, unique: str, tmp_path: Path
) -> None:
    log = tmp_path / "replay.log"
    proc = _start(log, "--replay", f"wh_none{unique}", "--since", "2999-01-01T00:00:00+00:00")
    try:
        wait_for_output(log, "webhooks stopped: 0 delivered", proc)
        assert proc.wait(30) == 0
    finally:
        stop_process(proc)
    assert f"replaying wh_none{unique}" in log.read_text()
