"""``tradelane bench worker``: the stream processor's sustained readings/s on real Kafka.

Bookings for ``shipments`` synthetic shipments go to the registry, a worker process starts on a
fresh app id (``--from-now``, shipment state only), ``count`` readings are produced to
``tracker.readings`` as fast as the producer goes, and the clock stops when the worker's group
has committed every reading and every repartitioned record (its internal topic). Figures:
readings/s over that span and the worker's CPU.

Then, on the same warm worker, latency: readings that each cause an event (a 20 g shock) are
produced at a steady ``latency_rate`` for ``latency_seconds``, and each event's time on
``shipments.events`` (its record timestamp, set by the worker's producer) less the moment its
reading was handed to the producer gives the reading→event latency: p50/p95/p99/max.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import IO

from aiokafka import AIOKafkaProducer

from bench.ingest import BenchResult, cpu_seconds, percentile
from devtools import children
from tradelane.contracts import (
    Cargo,
    ConditionProfile,
    Gps,
    IngestedReading,
    Leg,
    Money,
    Place,
    PlaceKind,
    ProfileKind,
    ShipmentBooking,
    ShipmentEvent,
    ShockDetected,
    TrackerReading,
    TransportMode,
)
from tradelane.settings import KafkaSettings
from tradelane.topics import SHIPMENTS_EVENTS, SHIPMENTS_REGISTRY, TRACKER_READINGS
from transport import kafka as clients
from transport.admin import ensure_topics, topic_partitions, wait_for_group

ORIGIN = Place(locode="CNSHA", name="Shanghai", kind=PlaceKind.SEAPORT, lat=31.23, lon=121.47)
DESTINATION = Place(locode="SGSIN", name="Singapore", kind=PlaceKind.SEAPORT, lat=1.26, lon=103.82)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def bench_booking(
    shipment: str,
    device: str,
    booked: datetime = T0,
    destination: Place = DESTINATION,
    days: int = 6,
    value_usd: str = "1000",
) -> ShipmentBooking:
    """A chilled sea shipment from Shanghai with one tracker: what every benchmark books."""
    return ShipmentBooking(
        shipment_id=shipment,
        shipper="bench",
        consignee="bench",
        origin=ORIGIN,
        destination=destination,
        legs=[
            Leg(
                mode=TransportMode.SEA,
                origin=ORIGIN,
                destination=destination,
                planned_departure=booked,
                planned_arrival=booked + timedelta(days=days),
            )
        ],
        cargo=Cargo(
            description="bench",
            hs_code="030617",
            quantity=1,
            value=Money(amount=Decimal(value_usd), currency="USD"),
        ),
        condition=ConditionProfile(kind=ProfileKind.CHILLED, temp_min_c=2, temp_max_c=8),
        trackers=[device],
        booked_at=booked,
    )


def _reading(device: str, seq: int, shock_g: float | None = None) -> bytes:
    """A reading drifting south from Shanghai every 15 minutes, in band."""
    r = TrackerReading(
        device_id=device,
        seq=seq,
        ts=T0 + timedelta(minutes=15 * seq),
        gps=Gps(lat=31.0 - 0.05 * seq, lon=121.6, speed_kmh=30),
        temperature_c=5.0,
        shock_g=shock_g,
        battery_pct=90,
    )
    return (
        IngestedReading(reading=r, received_at=r.ts, mqtt_topic="bench").model_dump_json().encode()
    )


async def _committed_everything(kafka: KafkaSettings, group: str, topics: list[str]) -> bool:
    consumer = clients.consumer(kafka, group_id=group)
    await consumer.start()
    try:
        tps = [tp for t in topics for tp in await topic_partitions(consumer, t)]
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            if (await consumer.committed(tp) or 0) < ends[tp]:
                return False
        return True
    finally:
        await consumer.stop()


async def _latency(
    kafka: KafkaSettings, devices: list[str], first_seq: int, rate: float, seconds: float
) -> dict[str, object]:
    """Reading→event latency at a steady ``rate`` on a caught-up worker (see module doc)."""
    producer = clients.producer(kafka, linger_ms=0)
    events = clients.consumer(kafka, SHIPMENTS_EVENTS.name, auto_offset_reset="latest")
    await producer.start()
    await events.start()
    sent: dict[tuple[str, int], float] = {}
    latencies: list[float] = []
    try:
        await events.getmany(timeout_ms=1000)  # positioned at the end before the first probe

        async def collect(until: float) -> None:
            while time.time() < until and len(latencies) < len(sent):
                for batch in (await events.getmany(timeout_ms=200)).values():
                    for record in batch:
                        event = ShipmentEvent.model_validate_json(record.value)
                        if not isinstance(event.data, ShockDetected):
                            continue
                        ref = event.data.evidence.readings[0]
                        at = sent.get((ref.device_id, ref.seq))
                        if at is not None:
                            latencies.append(record.timestamp / 1000 - at)
                if time.time() >= until:
                    return

        total = int(rate * seconds)
        start = time.perf_counter()
        for i in range(total):
            due = start + i / rate
            if (delay := due - time.perf_counter()) > 0:
                await asyncio.sleep(delay)  # pacing the producer, not synchronisation
            device = devices[i % len(devices)]
            seq = first_seq + i // len(devices)
            sent[(device, seq)] = time.time()
            await producer.send(
                TRACKER_READINGS.name, _reading(device, seq, shock_g=20.0), key=device.encode()
            )
        await producer.flush()
        await collect(time.time() + 60)
    finally:
        await producer.stop()
        await events.stop()
    ms = [1000 * x for x in latencies]
    return {
        "latency_rate_per_s": rate,
        "latency_probes": f"{len(ms)} of {len(sent)} events seen",
        "latency_ms_p50": round(percentile(ms, 0.5), 1),
        "latency_ms_p95": round(percentile(ms, 0.95), 1),
        "latency_ms_p99": round(percentile(ms, 0.99), 1),
        "latency_ms_max": round(max(ms, default=0.0), 1),
    }


async def _book(kafka_producer: AIOKafkaProducer, run: str, devices: list[str]) -> None:
    """One bench booking per device, on the registry before the worker starts."""
    for i, device in enumerate(devices):
        shipment = f"bw-{run}-shp{i}"
        await kafka_producer.send(
            SHIPMENTS_REGISTRY.name,
            bench_booking(shipment, device).model_dump_json().encode(),
            key=shipment.encode(),
        )
    await kafka_producer.flush()


async def _await_caught_up(kafka: KafkaSettings, app_id: str, deadline: float) -> None:
    topics = [TRACKER_READINGS.name, f"{app_id}-by-shipment"]
    while not await _committed_everything(kafka, app_id, topics):
        if time.perf_counter() > deadline:
            raise RuntimeError("the worker did not catch up before the deadline")
        await asyncio.sleep(0.5)  # polling committed offsets under a deadline


async def _run(
    count: int, shipments: int, latency_rate: float = 200.0, latency_seconds: float = 20.0
) -> BenchResult:
    kafka = KafkaSettings()
    run = uuid.uuid4().hex[:8]
    app_id = f"tradelane-streams-bench-{run}"
    devices = [f"bw-{run}-{i}" for i in range(shipments)]
    await ensure_topics(kafka)  # a fresh broker has none yet, and the bookings go first
    producer = clients.producer(kafka, linger_ms=20)
    await producer.start()
    worker: subprocess.Popen[str] | None = None
    try:
        await _book(producer, run, devices)
        worker = children.spawn_piped(["worker", "--from-now", "--no-finance", "--app-id", app_id])
        assert worker.stdout is not None
        await asyncio.to_thread(_await_start, worker.stdout)
        await wait_for_group(kafka, app_id)  # the clock starts once the worker consumes
        cpu0, started = cpu_seconds(worker.pid), time.perf_counter()
        per_device = count // shipments
        for seq in range(per_device):
            for device in devices:
                await producer.send(
                    TRACKER_READINGS.name, _reading(device, seq), key=device.encode()
                )
        await producer.flush()
        produced = time.perf_counter() - started
        await _await_caught_up(kafka, app_id, started + max(300.0, count / 200))
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(worker.pid) - cpu0
        latency: dict[str, object] = {}
        if latency_seconds > 0:
            print(f"  latency: {latency_rate:g} shock readings/s for {latency_seconds:g} s ...")
            latency = await _latency(kafka, devices, per_device, latency_rate, latency_seconds)
    finally:
        await producer.stop()
        if worker is not None:
            children.finish(worker)
    total = per_device * shipments
    return BenchResult(
        "worker (tracker.readings -> repartition -> shipment state -> shipments.events)",
        total,
        elapsed,
        total / elapsed,
        cpu_percent={"worker": 100 * cpu / elapsed},
        extra={"shipments": shipments, "producer_seconds": round(produced, 2), **latency},
    )


def _await_start(out: IO[str], limit: int = 500) -> None:
    """Read the worker's output until its start line (it may first say that it waits for a
    fresh broker), then keep draining it in a thread so that its pipe never fills."""
    seen: list[str] = []
    for line in out:
        if line.startswith("worker "):
            threading.Thread(target=lambda: [None for _ in out], daemon=True).start()
            return
        seen.append(line)
        if len(seen) >= limit:
            break
    raise RuntimeError("worker did not start:\n" + "".join(seen[-20:]))


def bench_worker(
    count: int = 50_000,
    shipments: int = 500,
    latency_rate: float = 200.0,
    latency_seconds: float = 20.0,
) -> BenchResult:
    return asyncio.run(_run(count, shipments, latency_rate, latency_seconds))
