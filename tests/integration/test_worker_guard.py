"""One worker group per cluster: a worker with another app id refuses to start while a worker
group is active (two groups would both write every shipment's events and every ledger), and
starts once that group has stopped. A worker with the same app id joins and shares the work."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.integration.helpers import stop_process, wait_for_output
from tradelane.admin import wait_for_group
from tradelane.settings import KafkaSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


WORKER = (sys.executable, "-m", "tradelane.cli.main", "worker", "--from-now", "--no-finance")


def start(app_id: str, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [*WORKER, "--app-id", app_id, *extra],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )


def test_a_second_worker_group_is_refused_until_the_first_stops(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    first_id, second_id = f"it-guard-a-{run}", f"it-guard-b-{run}"
    first = start(first_id, tmp_path / "a.log")
    try:
        wait_for_output(tmp_path / "a.log", f"worker {first_id}:", first)
        asyncio.run(wait_for_group(kafka_settings, first_id))

        second = start(second_id, tmp_path / "b.log", "--other-group-wait", "3")
        status = second.wait(60)
        log = (tmp_path / "b.log").read_text(errors="replace")
        assert status == 3, log[-3000:]
        assert "refused" in log, log[-3000:]
        assert first_id in log, log[-3000:]

        peer = start(first_id, tmp_path / "c.log", "--other-group-wait", "3")
        try:  # the same app id shares the work: it starts
            wait_for_output(tmp_path / "c.log", f"worker {first_id}:", peer)
            asyncio.run(wait_for_group(kafka_settings, first_id, members=2))
        finally:
            assert stop_process(peer) == 0
    finally:
        assert stop_process(first) == 0

    second = start(second_id, tmp_path / "d.log", "--other-group-wait", "30")
    try:
        wait_for_output(tmp_path / "d.log", f"worker {second_id}:", second)
        asyncio.run(wait_for_group(kafka_settings, second_id))  # it runs, not merely starts
    finally:
        assert stop_process(second) == 0
