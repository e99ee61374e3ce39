"""One worker group per cluster: a worker with another app id refuses to start while a worker
group is active (two groups would both write every shipment's events and every ledger), and
starts once that group has stopped. A worker with the same app id joins and shares the work."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.integration.helpers import stop_process, wait_for_output
from tradelane.settings import KafkaSettings
from transport.admin import members_with_partitions, wait_for_group

pytestmark = [pytest.mark.integration, pytest.mark.slow]


WORKER = (sys.executable, "-m", "cli.main", "worker", "--from-now", "--no-finance")


def start(
    app_id: str, log: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [*WORKER, "--app-id", app_id, *extra],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )


def test_a_second_worker_group_is_refused_until_the_first_stops(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    first_id, second_id = f"tradelane-streams-guard-a-{run}", f"tradelane-streams-guard-b-{run}"
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


def test_a_group_whose_workers_were_all_killed_keeps_the_cluster_for_its_lease_term(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    """The consumer-group check alone let a second group start while the first group's only
    worker was being restarted: the lease does not."""
    run = uuid.uuid4().hex[:8]
    first_id, second_id = f"tradelane-streams-lease-a-{run}", f"tradelane-streams-lease-b-{run}"
    fast = {"BROKER_SESSION_TIMEOUT": "6", "BROKER_HEARTBEAT_INTERVAL": "1"}
    first = start(first_id, tmp_path / "a.log", env=fast)
    wait_for_output(tmp_path / "a.log", f"worker {first_id}:", first)
    asyncio.run(wait_for_group(kafka_settings, first_id))
    first.kill()
    first.wait(10)
    asyncio.run(_until_no_members(kafka_settings, first_id))

    second = start(second_id, tmp_path / "b.log", "--other-group-wait", "3")
    status = second.wait(90)
    log = (tmp_path / "b.log").read_text(errors="replace")
    assert status == 3, log[-3000:]
    assert f"worker group {first_id} holds this Kafka cluster's worker lease" in log, log[-3000:]


async def _until_no_members(kafka: KafkaSettings, group: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while await members_with_partitions(kafka, group) > 0:
        assert time.monotonic() < deadline, f"{group} still has members after {timeout_s} s"
        await asyncio.sleep(0.5)  # polling the coordinator under a deadline
