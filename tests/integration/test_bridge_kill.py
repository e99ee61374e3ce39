"""SIGKILL the bridge mid-stream, several times, and restart it: no (device_id, seq) is lost.

The bridge acks MQTT only after Kafka acked, over a persistent session, so whatever a killed
bridge held unacknowledged is redelivered to its successor; readings published while no bridge
runs wait in the broker's session queue."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.helpers import Tail
from tradelane.contracts import IngestedReading, TrackerReading
from tradelane.settings import KafkaSettings, MqttSettings
from tradelane.topics import TRACKER_READINGS, readings_topic
from transport.mqtt import forget_session, make_client

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KILLS = 3
PER_PHASE = 800
DEVICES = 8


def start_bridge(unique: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli.main",
                "bridge",
                "--client-id",
                f"kill-{unique}",
                "--group",
                f"kill-{unique}",
                "--metrics-port",
                "-1",
                "--stats-interval",
                "0",
                "--session-expiry-s",
                "300",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )
    deadline = time.monotonic() + 30
    while f"bridge kill-{unique}:" not in log.read_text():
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "bridge did not subscribe in 30 s"
        time.sleep(0.05)  # polling a log file under a deadline
    return proc


async def test_sigkill_loses_nothing(
    mqtt_settings: MqttSettings, kafka_settings: KafkaSettings, unique: str, tmp_path: Path
) -> None:
    log = tmp_path / "bridge.log"
    publisher = make_client(mqtt_settings, f"kill-pub-{unique}")
    publisher.connect(mqtt_settings.host, mqtt_settings.port)
    publisher.loop_start()
    sent: set[tuple[str, int]] = set()
    seq = 0

    def publish_phase() -> None:
        nonlocal seq
        infos = []
        for _ in range(PER_PHASE):
            device = f"kill-{unique}-{seq % DEVICES}"
            reading = TrackerReading(
                device_id=device, seq=seq, ts="2026-11-24T10:00:00Z", battery_pct=50
            )
            infos.append(
                publisher.publish(readings_topic(device), reading.model_dump_json(), qos=1)
            )
            sent.add((device, seq))
            seq += 1
        for info in infos:
            info.wait_for_publish(30)  # PUBACK from the broker: it owns the message now

    async with Tail(kafka_settings, TRACKER_READINGS.name) as tail:
        bridge = start_bridge(unique, log)
        try:
            for _ in range(KILLS):
                publish_phase()
                os.kill(bridge.pid, signal.SIGKILL)  # mid-stream: it is still forwarding
                bridge.wait(10)
                publish_phase()  # no bridge running: the broker queues for the session
                bridge = start_bridge(unique, log)
            publish_phase()

            def seen(records: list[object]) -> set[tuple[str, int]]:
                out = set()
                for rec in records:
                    r = IngestedReading.model_validate_json(rec.value).reading  # type: ignore[attr-defined]
                    if r.device_id.startswith(f"kill-{unique}-"):
                        out.add((r.device_id, r.seq))
                return out

            records = await tail.until(lambda rs: seen(rs) >= sent, timeout_s=90)
        finally:
            publisher.loop_stop()
            publisher.disconnect()
            if bridge.poll() is None:
                bridge.send_signal(signal.SIGTERM)
                bridge.wait(30)
            forget_session(mqtt_settings, f"kill-{unique}")
    got = seen(records)
    missing = sent - got
    assert not missing, f"{len(missing)} of {len(sent)} readings lost, e.g. {sorted(missing)[:5]}"
    mine = [
        r
        for r in records
        if IngestedReading.model_validate_json(r.value).reading.device_id.startswith(
            f"kill-{unique}-"
        )
    ]
    print(
        f"\n{len(sent)} readings, {KILLS} SIGKILLs: 0 missing, "
        f"{len(mine) - len(got)} duplicates delivered"
    )
