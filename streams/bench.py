"""``tradelane bench worker``: the stream processor's sustained readings/s on real Kafka.

Bookings for ``shipments`` synthetic shipments go to the registry, a worker process starts on a
fresh app id (``--from-now``, shipment state only), ``count`` readings are produced to
``tracker.readings`` as fast as the producer goes, and the clock stops when the worker's group
has committed every reading and every repartitioned record (its internal topic). Figures:
readings/s over that span and the worker's CPU.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from ingest.bench import BenchResult, cpu_seconds
from tradelane.admin import topic_partitions
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
    TrackerReading,
    TransportMode,
)
from tradelane.settings import KafkaSettings
from tradelane.topics import SHIPMENTS_REGISTRY, TRACKER_READINGS

ORIGIN = Place(locode="CNSHA", name="Shanghai", kind=PlaceKind.SEAPORT, lat=31.23, lon=121.47)
DESTINATION = Place(locode="SGSIN", name="Singapore", kind=PlaceKind.SEAPORT, lat=1.26, lon=103.82)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _booking(shipment: str, device: str) -> ShipmentBooking:
    return ShipmentBooking(
        shipment_id=shipment,
        shipper="bench",
        consignee="bench",
        origin=ORIGIN,
        destination=DESTINATION,
        legs=[
            Leg(
                mode=TransportMode.SEA,
                origin=ORIGIN,
                destination=DESTINATION,
                planned_departure=T0,
                planned_arrival=T0 + timedelta(days=6),
            )
        ],
        cargo=Cargo(
            description="bench",
            hs_code="030617",
            quantity=1,
            value=Money(amount=Decimal("1000"), currency="USD"),
        ),
        condition=ConditionProfile(kind=ProfileKind.CHILLED, temp_min_c=2, temp_max_c=8),
        trackers=[device],
        booked_at=T0,
    )


def _reading(device: str, seq: int) -> bytes:
    """A reading drifting south from Shanghai every 15 minutes, in band."""
    r = TrackerReading(
        device_id=device,
        seq=seq,
        ts=T0 + timedelta(minutes=15 * seq),
        gps=Gps(lat=31.0 - 0.05 * seq, lon=121.6, speed_kmh=30),
        temperature_c=5.0,
        battery_pct=90,
    )
    return (
        IngestedReading(reading=r, received_at=r.ts, mqtt_topic="bench").model_dump_json().encode()
    )


async def _committed_everything(kafka: KafkaSettings, group: str, topics: list[str]) -> bool:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers, group_id=group, enable_auto_commit=False
    )
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


async def _run(count: int, shipments: int) -> BenchResult:
    kafka = KafkaSettings()
    run = uuid.uuid4().hex[:8]
    app_id = f"bench-worker-{run}"
    devices = [f"bw-{run}-{i}" for i in range(shipments)]
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers,
        linger_ms=20,
        compression_type=kafka.compression_type,
    )
    await producer.start()
    worker: subprocess.Popen[str] | None = None
    try:
        for i, device in enumerate(devices):
            shipment = f"bw-{run}-shp{i}"
            await producer.send(
                SHIPMENTS_REGISTRY.name,
                _booking(shipment, device).model_dump_json().encode(),
                key=shipment.encode(),
            )
        await producer.flush()
        worker = subprocess.Popen(  # noqa: ASYNC220 - a child we watch, not a blocking call
            [
                sys.executable,
                "-m",
                "tradelane.cli.main",
                "worker",
                "--from-now",
                "--no-finance",
                "--app-id",
                app_id,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(os.environ),
        )
        assert worker.stdout is not None
        line = await asyncio.to_thread(worker.stdout.readline)
        if not line.startswith("worker "):
            raise RuntimeError(f"worker did not start: {line}")
        await asyncio.sleep(5)  # let the group form before the clock starts (not a sync point)
        cpu0, started = cpu_seconds(worker.pid), time.perf_counter()
        per_device = count // shipments
        for seq in range(per_device):
            for device in devices:
                await producer.send(
                    TRACKER_READINGS.name, _reading(device, seq), key=device.encode()
                )
        await producer.flush()
        produced = time.perf_counter() - started
        deadline = started + max(300.0, count / 200)
        topics = [TRACKER_READINGS.name, f"{app_id}-by-shipment"]
        while not await _committed_everything(kafka, app_id, topics):
            if time.perf_counter() > deadline:
                raise RuntimeError("the worker did not catch up before the deadline")
            await asyncio.sleep(0.5)  # polling committed offsets under a deadline
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(worker.pid) - cpu0
    finally:
        await producer.stop()
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(60)
            except subprocess.TimeoutExpired:
                worker.kill()
    total = per_device * shipments
    return BenchResult(
        "worker (tracker.readings -> repartition -> shipment state -> shipments.events)",
        total,
        elapsed,
        total / elapsed,
        cpu_percent={"worker": 100 * cpu / elapsed},
        extra={"shipments": shipments, "producer_seconds": round(produced, 2)},
    )


def bench_worker(count: int = 50_000, shipments: int = 500) -> BenchResult:
    return asyncio.run(_run(count, shipments))
