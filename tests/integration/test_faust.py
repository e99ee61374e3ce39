"""A minimal faust worker against the real Kafka: starts, processes messages into a table,
and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiokafka.admin import NewTopic

from tradelane.settings import KafkaSettings
from transport import kafka as clients

pytestmark = [pytest.mark.integration, pytest.mark.slow]
HERE = Path(__file__).resolve().parent


async def test_faust_worker_counts_into_a_table_and_stops_cleanly(
    kafka_settings: KafkaSettings, unique: str, tmp_path: Path
) -> None:
    admin = clients.admin(kafka_settings)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(f"probe.in.{unique}", 1, 1), NewTopic(f"probe.out.{unique}", 1, 1)]
        )
    finally:
        await admin.close()

    env = {
        **os.environ,
        "PROBE_SUFFIX": unique,
        "TRADELANE_KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        # the child runs in another folder: the keyring's path must not be relative
        "TRADELANE_KAFKA_CREDENTIALS_FILE": str(kafka_settings.keyring().resolve()),
        "PYTHONPATH": str(HERE),
    }
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(  # noqa: ASYNC220 - a child we watch, not a blocking call
        [
            sys.executable,
            "-m",
            "faust",
            "-A",
            "faust_probe_app",
            "--datadir",
            str(tmp_path / "faust-data"),
            "worker",
            "-l",
            "info",
            "--without-web",
        ],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    out = clients.consumer(kafka_settings, f"probe.out.{unique}", auto_offset_reset="earliest")
    producer = clients.producer(kafka_settings)
    await out.start()
    await producer.start()
    try:
        for value in ["red", "blue", "red", "red", "blue"]:
            await producer.send_and_wait(f"probe.in.{unique}", value.encode(), key=b"k")
        latest: dict[str, int] = {}
        deadline = time.monotonic() + 90
        while latest != {"red": 3, "blue": 2} and time.monotonic() < deadline:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            for messages in (await out.getmany(timeout_ms=500)).values():
                for m in messages:
                    latest[m.key.decode()] = int(m.value.decode())
        assert latest == {"red": 3, "blue": 2}, (tmp_path / "worker.log").read_text()[-3000:]
    finally:
        await producer.stop()
        await out.stop()
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
        try:
            code = worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill()
            raise
        log.close()
    assert code == 0, (tmp_path / "worker.log").read_text()[-3000:]
