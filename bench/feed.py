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
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

from bench.ingest import cpu_seconds, percentile
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
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "TRADELANE_API_KEYS_FILE"}
    env["TRADELANE_API_CLIENT_QUEUE_MAX"] = "10000"
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cli.main", "api", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


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
    sockets: list[ClientConnection] = []
    readers: list[asyncio.Task[None]] = []
    try:
        for booking in bookings:
            await producer.send(
                SHIPMENTS_REGISTRY.name,
                booking.model_dump_json().encode(),
                key=booking.shipment_id.encode(),
            )
        await producer.flush()
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while (http_json(base + "/readyz") or {}).get("status") != "ready":
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not get ready (see {log})")
            await asyncio.sleep(0.5)
        ids = ",".join(b.shipment_id for b in bookings)
        url = f"ws://127.0.0.1:{port}/api/v1/live/ws?key=demo-operator-key&shipment={ids}"
        latencies: list[float] = []
        counts = [0]
        for _ in range(clients):
            ws, reader = await _client(url, latencies, counts)
            sockets.append(ws)
            readers.append(reader)
        events = int(rate_per_s * duration_s)
        cpu0, bench0, wall0 = cpu_seconds(server.pid), time.process_time(), time.monotonic()
        for n in range(events):
            booking = bookings[n % len(bookings)]
            device = booking.trackers[0]
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
            await producer.send(
                TRACKER_READINGS.name, reading.model_dump_json().encode(), key=device.encode()
            )
            next_at = wall0 + (n + 1) / rate_per_s
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        await producer.flush()
        expected = events * clients
        settle = time.monotonic() + 30
        while counts[0] < expected and time.monotonic() < settle:  # noqa: ASYNC110 - deadline
            await asyncio.sleep(0.1)
        wall = time.monotonic() - wall0
        server_cpu = (cpu_seconds(server.pid) - cpu0) / wall * 100
        bench_cpu = (time.process_time() - bench0) / wall * 100
        return FanoutResult(
            clients=clients,
            shipments=shipments,
            events=events,
            rate_per_s=rate_per_s,
            deliveries_expected=expected,
            deliveries=counts[0],
            latency_p50_ms=round(percentile(latencies, 0.50), 1),
            latency_p99_ms=round(percentile(latencies, 0.99), 1),
            latency_max_ms=round(max(latencies, default=float("nan")), 1),
            server_cpu_pct=round(server_cpu, 1),
            bench_cpu_pct=round(bench_cpu, 1),
            cores=os.cpu_count() or 1,
        )
    finally:
        for ws in sockets:
            await ws.close()
        for reader in readers:
            reader.cancel()
        await producer.stop()
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


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
