"""The stream processor against the real Kafka: a booking and a voyage's readings in, the
shipment's events out (with their deterministic ids), and a clean stop on SIGTERM."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.integration.helpers import Tail, stop_process, wait_for_output
from tests.samples import booking
from tradelane.contracts import Gps, IngestedReading, ShipmentEvent, TrackerReading
from tradelane.settings import KafkaSettings
from tradelane.topics import SHIPMENTS_EVENTS, SHIPMENTS_REGISTRY, TRACKER_READINGS
from transport import kafka as clients

pytestmark = [pytest.mark.integration, pytest.mark.slow]
T0 = datetime(2026, 11, 20, tzinfo=UTC)


def start_worker(app_id: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli.main",
                "worker",
                "--from-now",
                "--app-id",
                app_id,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )


def voyage(device: str) -> list[IngestedReading]:
    points = [(0, (31.23, 121.47), 5.0), (60, (30.9, 121.9), 5.0)]
    points += [(120 + 5 * i, (30.6, 122.3), 12.0) for i in range(10)]
    points += [(180, (30.6, 122.3), 5.0), (60 * 24 * 30, (51.95, 4.14), 5.0)]
    out = []
    for seq, (minutes, (lat, lon), temp) in enumerate(points):
        r = TrackerReading(
            device_id=device,
            seq=seq,
            ts=T0 + timedelta(minutes=minutes),
            gps=Gps(lat=lat, lon=lon, speed_kmh=30 if seq < len(points) - 1 else 0),
            temperature_c=temp,
            battery_pct=90,
        )
        out.append(IngestedReading(reading=r, received_at=r.ts, mqtt_topic="t"))
    return out


async def test_worker_turns_readings_into_shipment_events(
    kafka_settings: KafkaSettings, unique: str, tmp_path: Path
) -> None:
    shipment, device = f"shp-{unique}", f"wk-{unique}"
    log = tmp_path / "worker.log"
    producer = clients.producer(kafka_settings)
    await producer.start()
    worker = start_worker(f"tradelane-streams-it-{unique}", log)
    try:
        wait_for_output(log, f"worker tradelane-streams-it-{unique}:", worker)
        async with Tail(kafka_settings, SHIPMENTS_EVENTS.name) as tail:
            await producer.send_and_wait(
                SHIPMENTS_REGISTRY.name,
                booking(shipment, [device]).model_dump_json().encode(),
                key=shipment.encode(),
            )
            for item in voyage(device):
                await producer.send(
                    TRACKER_READINGS.name, item.model_dump_json().encode(), key=device.encode()
                )
            await producer.flush()

            def mine(records: list[object]) -> list[ShipmentEvent]:
                return [
                    e
                    for e in (
                        ShipmentEvent.model_validate_json(r.value)  # type: ignore[attr-defined]
                        for r in records
                    )
                    if e.subject == shipment
                ]

            records = await tail.until(
                lambda rs: any(
                    e.data.kind == "milestone_reached"
                    and e.data.milestone.value == "arrived_destination"
                    for e in mine(rs)
                ),
                timeout_s=120,
            )
            assert worker.poll() is None, log.read_text()[-3000:]
    finally:
        await producer.stop()
        code = stop_process(worker)
    events = mine(records)
    kinds = [e.data.kind for e in events]
    assert kinds.count("milestone_reached") == 2, (kinds, log.read_text()[-3000:])
    assert "breach_started" in kinds
    assert "breach_ended" in kinds
    assert len({e.id for e in events}) == len(events)
    assert code == 0, log.read_text()[-3000:]
