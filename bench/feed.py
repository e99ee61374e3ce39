"""Live-feed fan-out benchmark: N WebSocket clients, p99 event → client latency, server CPU.

The path measured is the real one: a reading produced to ``tracker.readings`` is folded by the
API's Kafka follower into a position item and fanned out to every client whose filter takes it.
Each reading's event time is the wall clock when it was produced, so a client's latency is its
receive time minus the item's ``at`` (one machine, one clock). The API runs as its own process
(``tradelane api``) so its CPU is read from ``/proc/PID/stat`` (Linux), apart from the clients,
which all run in this process and share its CPU: on a small machine they, not the server, may
be the limit, and the figures say so by reporting both.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from aiokafka import AIOKafkaProducer
from websockets.asyncio.client import ClientConnection, connect

from bench.ingest import cpu_seconds, percentile
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
    TrackerReading,
    TransportMode,
)
from tradelane.settings import KafkaSettings, ServicesSettings
from tradelane.topics import SHIPMENTS_REGISTRY, TRACKER_READINGS
from transport import kafka as kafka_clients
from transport.probes import free_port, http_json


@dataclass
class FanoutResult:
    clients: int
    shipments: int
    events: int
    rate_per_s: float
    deliveries_expected: int
    deliveries: int
    latency_p50_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    server_cpu_pct: float
    bench_cpu_pct: float
    cores: int


async def _client(
    url: str, latencies: list[float], counts: list[int]
) -> tuple[ClientConnection, asyncio.Task[None]]:
    """A connected client (hello received) and the task recording each item's latency."""
    ws = await connect(url, max_queue=None)
    await ws.recv()  # hello

    async def read() -> None:
        async for message in ws:
            item = json.loads(message)
            at = datetime.fromisoformat(item["at"])
            latencies.append((datetime.now(UTC) - at).total_seconds() * 1000)
            counts[0] += 1

    return ws, asyncio.create_task(read())


def _bookings(prefix: str, count: int) -> list[ShipmentBooking]:
    """Bench shipments, one tracker each, Shanghai → Rotterdam."""
    now = datetime.now(UTC)
    origin = Place(locode="CNSHA", name="Shanghai", kind=PlaceKind.SEAPORT, lat=31.2, lon=121.5)
    destination = Place(locode="NLRTM", name="Rotterdam", kind=PlaceKind.SEAPORT, lat=51.9, lon=4.1)
    leg = Leg(
        mode=TransportMode.SEA,
        origin=origin,
        destination=destination,
        planned_departure=now,
        planned_arrival=now + timedelta(days=30),
    )
    return [
        ShipmentBooking(
            shipment_id=f"{prefix}-shp{i:05d}",
            shipper="Bench Shipper",
            consignee="Bench Consignee",
            origin=origin,
            destination=destination,
            legs=[leg],
            cargo=Cargo(
                description="bench cargo",
                hs_code="847130",
                quantity=1,
                value=Money(amount=Decimal(1000), currency="USD"),
            ),
            condition=ConditionProfile(kind=ProfileKind.AMBIENT),
            trackers=[f"{prefix}-t{i:05d}"],
            booked_at=now,
        )
        for i in range(count)
    ]


def _spawn_server(port: int, log: Path) -> subprocess.Popen[bytes]:
    """``tradelane api`` with the demo keys and room for 10,000 items per client."""
    return children.spawn(
        ["api", "--port", str(port)],
        log,
        env={"TRADELANE_API_CLIENT_QUEUE_MAX": "10000"},
        unset=["TRADELANE_API_KEYS_FILE"],
    )


async def _book(kafka_producer: AIOKafkaProducer, bookings: list[ShipmentBooking]) -> None:
    for booking in bookings:
        await kafka_producer.send(
            SHIPMENTS_REGISTRY.name,
            booking.model_dump_json().encode(),
            key=booking.shipment_id.encode(),
        )
    await kafka_producer.flush()


async def _await_ready(server: subprocess.Popen[bytes], port: int, log: Path) -> None:
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while (http_json(base + "/readyz") or {}).get("status") != "ready":
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the API did not get ready (see {log})")
        await asyncio.sleep(0.5)


async def _produce(
    kafka_producer: AIOKafkaProducer,
    bookings: list[ShipmentBooking],
    events: int,
    rate_per_s: float,
    wall0: float,
) -> None:
    """``events`` readings over the bookings' trackers at ``rate_per_s`` from ``wall0``."""
    for n in range(events):
        device = bookings[n % len(bookings)].trackers[0]
        now = datetime.now(UTC)
        reading = IngestedReading(
            reading=TrackerReading(
                device_id=device,
                seq=n,
                ts=now,
                gps=Gps(lat=(n % 120) - 60.0, lon=(n % 340) - 170.0),
            ),
            received_at=now,
            mqtt_topic=f"tradelane/v1/trackers/{device}/readings",
        )
        await kafka_producer.send(
            TRACKER_READINGS.name, reading.model_dump_json().encode(), key=device.encode()
        )
        next_at = wall0 + (n + 1) / rate_per_s
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    await kafka_producer.flush()


@dataclass
class _Clients:
    """The WebSocket clients, their readers, and what they received."""

    sockets: list[ClientConnection] = field(default_factory=list)
    readers: list[asyncio.Task[None]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=lambda: [0])

    async def connect(self, url: str, clients: int) -> None:
        for _ in range(clients):
            ws, reader = await _client(url, self.latencies, self.counts)
            self.sockets.append(ws)
            self.readers.append(reader)

    async def close(self) -> None:
        for ws in self.sockets:
            await ws.close()
        for reader in self.readers:
            reader.cancel()


async def fanout(
    kafka: KafkaSettings, clients: int, shipments: int, rate_per_s: float, duration_s: float
) -> FanoutResult:
    """Run the benchmark against a fresh ``tradelane api`` process; see the module doc."""
    prefix = f"fan{uuid.uuid4().hex[:8]}"
    bookings = _bookings(prefix, shipments)
    producer = kafka_clients.producer(kafka, enable_idempotence=False)
    await producer.start()
    port = free_port()
    log = ServicesSettings().home.resolve() / "run" / "bench-api.log"
    server = _spawn_server(port, log)
    received = _Clients()
    try:
        await _book(producer, bookings)
        await _await_ready(server, port, log)
        ids = ",".join(b.shipment_id for b in bookings)
        url = f"ws://127.0.0.1:{port}/api/v1/live/ws?key=demo-operator-key&shipment={ids}"
        await received.connect(url, clients)
        events = int(rate_per_s * duration_s)
        cpu0, bench0, wall0 = cpu_seconds(server.pid), time.process_time(), time.monotonic()
        await _produce(producer, bookings, events, rate_per_s, wall0)
        expected = events * clients
        settle = time.monotonic() + 30
        while received.counts[0] < expected and time.monotonic() < settle:  # noqa: ASYNC110
            await asyncio.sleep(0.1)  # waiting for the deliveries under a deadline
        wall = time.monotonic() - wall0
        latencies = received.latencies
        return FanoutResult(
            clients=clients,
            shipments=shipments,
            events=events,
            rate_per_s=rate_per_s,
            deliveries_expected=expected,
            deliveries=received.counts[0],
            latency_p50_ms=round(percentile(latencies, 0.50), 1),
            latency_p99_ms=round(percentile(latencies, 0.99), 1),
            latency_max_ms=round(max(latencies, default=float("nan")), 1),
            server_cpu_pct=round((cpu_seconds(server.pid) - cpu0) / wall * 100, 1),
            bench_cpu_pct=round((time.process_time() - bench0) / wall * 100, 1),
            cores=os.cpu_count() or 1,
        )
    finally:
        await received.close()
        await producer.stop()
        children.finish(server, timeout_s=30)


def report(result: FanoutResult, json_path: Path | None) -> None:
    r = result
    print(
        f"live feed fan-out: {r.clients} WebSocket clients, {r.events} events at "
        f"{r.rate_per_s:g}/s over {r.shipments} shipments\n"
        f"  delivered {r.deliveries:,} of {r.deliveries_expected:,}\n"
        f"  event -> client latency p50 {r.latency_p50_ms} ms, p99 {r.latency_p99_ms} ms, "
        f"max {r.latency_max_ms} ms\n"
        f"  server CPU {r.server_cpu_pct}% (100% = one core), clients (this process) "
        f"{r.bench_cpu_pct}%, {r.cores} cores"
    )
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(asdict(r), indent=2) + "\n")
