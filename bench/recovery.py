"""``tradelane bench recovery``: how long a worker takes to rebuild a big shipment table.

A worker that takes over partitions (a restart, a crash, a rebalance) first replays their
changelog into memory; it processes nothing until that is done. This writes ``shipments``
realistic shipment states (a sea shipment after its voyage, fifteen readings in) straight into
a fresh app id's changelog, starts a worker on that app id and sends one probe reading (a 20 g
shock, seq 15) for one of them. The probe yields ``shock_detected`` at once only if the worker
recovered that shipment's state: a fresh state would hold a first reading above seq 0 for the
reorder lateness. So the time from the worker's start to the probe's event is startup +
recovery + one reading. A second run
with an empty table gives the startup baseline in the same conditions.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from datetime import timedelta

import streams.core
from bench.ingest import BenchResult
from bench.worker import T0, bench_booking
from devtools import children
from streams.app import prepare
from tradelane.contracts import Gps, IngestedReading, ShipmentEvent, TrackerReading
from tradelane.settings import KafkaSettings
from tradelane.topics import SHIPMENTS_EVENTS, SHIPMENTS_REGISTRY, TRACKER_READINGS
from transport import kafka as clients

TEMPLATE = "recovery-template"
SINGAPORE_STRAIT = (1.2, 103.8)


def _reading(
    device: str, seq: int, minutes: int, at: tuple[float, float], shock_g: float = 0.5
) -> IngestedReading:
    r = TrackerReading(
        device_id=device,
        seq=seq,
        ts=T0 + timedelta(minutes=minutes),
        gps=Gps(lat=at[0], lon=at[1], speed_kmh=20),
        temperature_c=5.0,
        shock_g=shock_g,
        battery_pct=90,
    )
    return IngestedReading(reading=r, received_at=r.ts, mqtt_topic="bench")


def template_state() -> str:
    """A shipment arrived at Singapore from Shanghai, as the worker keeps it (JSON)."""
    state = streams.core.new_state(TEMPLATE)
    streams.core.apply_in_place(state, bench_booking(TEMPLATE, f"{TEMPLATE}-t"))
    voyage = [(0, (31.23, 121.47)), (120, (30.5, 122.4)), (60 * 24 * 5, (5.0, 108.0))]
    voyage += [(60 * 24 * 6 + 30 * i, (1.27, 103.83)) for i in range(12)]
    for seq, (minutes, at) in enumerate(voyage):
        streams.core.apply_in_place(state, _reading(f"{TEMPLATE}-t", seq, minutes, at))
    return state.model_dump_json()


async def _fill(kafka: KafkaSettings, changelog: str, run: str, shipments: int) -> float:
    """Write the states; returns the megabytes written."""
    template = template_state()
    producer = clients.producer(kafka, linger_ms=50)
    await producer.start()
    size = 0
    try:
        for i in range(shipments):
            shipment = f"rec-{run}-shp{i}"
            value = template.replace(TEMPLATE, shipment).encode()
            size += len(value)
            await producer.send(changelog, value, key=shipment.encode())
            if i % 20_000 == 19_999:
                await producer.flush()
                print(f"  {i + 1:,} states written", flush=True)
        await producer.flush()
    finally:
        await producer.stop()
    return size / 1e6


async def _probe(kafka: KafkaSettings, app_id: str, run: str, table_shipments: int) -> float:
    """Start a worker on ``app_id``; seconds until the probe's event comes back."""
    shipment, device = f"rec-{run}-shp0", f"rec-{run}-shp0-t"
    producer = clients.producer(kafka)
    events = clients.consumer(kafka, SHIPMENTS_EVENTS.name, auto_offset_reset="latest")
    await producer.start()
    await events.start()
    await events.getmany(timeout_ms=500)  # joined at the end of the topic
    await producer.send_and_wait(
        SHIPMENTS_REGISTRY.name,
        bench_booking(shipment, device).model_dump_json().encode(),
        key=shipment.encode(),
    )
    started = time.perf_counter()
    worker = children.spawn_piped(["worker", "--no-finance", "--from-now", "--app-id", app_id])
    try:
        assert worker.stdout is not None
        # It prints once its group starts at the end of the input: a probe sent earlier
        # would be skipped by --from-now.
        line = await asyncio.to_thread(worker.stdout.readline)
        if not line.startswith("worker "):
            raise RuntimeError(f"worker did not start: {line}")
        threading.Thread(target=worker.stdout.read, daemon=True).start()  # never fills the pipe
        seq = 15 if table_shipments else 0
        probe = _reading(device, seq, 60 * 24 * 7, SINGAPORE_STRAIT, shock_g=20.0)
        await producer.send_and_wait(
            TRACKER_READINGS.name, probe.model_dump_json().encode(), key=device.encode()
        )
        deadline = started + 1800
        while time.perf_counter() < deadline:
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited with {worker.returncode}")
            for batch in (await events.getmany(timeout_ms=500)).values():
                for record in batch:
                    if record.key != shipment.encode():
                        continue
                    event = ShipmentEvent.model_validate_json(record.value)
                    if event.data.kind == "shock_detected":
                        return time.perf_counter() - started
        raise RuntimeError("no probe event within 30 minutes")
    finally:
        await producer.stop()
        await events.stop()
        children.finish(worker)


async def _run(shipments: int) -> BenchResult:
    kafka = KafkaSettings()
    run = uuid.uuid4().hex[:8]
    baseline_app, app_id = (
        f"tradelane-streams-recovery-{run}-empty",
        f"tradelane-streams-recovery-{run}",
    )
    print(f"Baseline: a worker on an empty table ({baseline_app})", flush=True)
    await prepare(kafka, baseline_app)
    baseline = await _probe(kafka, baseline_app, f"{run}e", 0)
    print(f"  first event after {baseline:.1f} s", flush=True)
    await prepare(kafka, app_id)
    print(f"Writing {shipments:,} shipment states to {app_id}-shipments-changelog", flush=True)
    megabytes = await _fill(kafka, f"{app_id}-shipments-changelog", run, shipments)
    print(f"  {megabytes:.0f} MB; starting a worker that must recover them", flush=True)
    total = await _probe(kafka, app_id, run, shipments)
    recovery = max(0.0, total - baseline)
    return BenchResult(
        f"worker recovery of a {shipments:,}-shipment table from its changelog",
        shipments,
        recovery,
        shipments / recovery if recovery else 0.0,
        extra={
            "changelog_mb": round(megabytes, 1),
            "first_event_s": round(total, 1),
            "startup_baseline_s": round(baseline, 1),
            "recovery_s": round(recovery, 1),
        },
    )


def bench_recovery(shipments: int = 100_000) -> BenchResult:
    return asyncio.run(_run(shipments))
