"""``tradelane bench pipeline``: the whole chain on the running services, end to end.

Processes: a bridge, a worker (shipment state, pledge and insurance engines) and, when an
InfluxDB answers, the telemetry sink, each started fresh on its own ids. The bench itself
plays the trackers: it publishes readings over MQTT (QoS 1) at a series of steady rates, each
step to its own fresh shipments, all pledged to one demo credit line and insured.

Every shipment's first reading lies off its origin (departure → a drawdown on
``finance.events``) and every tenth reading is a 20 g shock (``shock_detected`` on
``shipments.events``; the first also raises a claim on ``insurance.claims``). The bench keeps
the moment it published each reading and reads the three topics: an event's latency is its
record timestamp (set by the producing process) less the publish moment of the reading that
caused it.

Per step it also samples the worker's consumer lag on ``tracker.readings`` at the start and
end; a rate is *sustained* when the lag at the end is under two seconds of input. Before the
pipeline runs, a pass-through baseline (MQTT → a forwarder with no validation → Kafka → a
consumer, in this process) measures the raw plumbing at full speed, and the report gives
the ratio of the highest sustained pipeline rate to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import subprocess
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from aiokafka import AIOKafkaConsumer

from bench.ingest import cpu_seconds, machine, percentile
from bench.worker import bench_booking
from devices.load_publisher import LoadPublisher
from devtools import children
from devtools.services.manager import services
from finance.demo_publish import publish_demo_terms
from streams.app import finance_topic, pledge_group, shipment_topic
from tradelane.contracts import (
    ClaimEvent,
    Place,
    PlaceKind,
    ShipmentBooking,
    ShipmentEvent,
    ShockDetected,
)
from tradelane.contracts.finance import DrawdownExecuted, FinanceEvent
from tradelane.settings import InfluxSettings, KafkaSettings, MqttSettings
from tradelane.topics import (
    FINANCE_EVENTS,
    INSURANCE_CLAIMS,
    SHIPMENTS_EVENTS,
    SHIPMENTS_REGISTRY,
    TRACKER_READINGS,
    KafkaTopic,
    readings_topic,
)
from transport import kafka as clients
from transport.admin import ensure_topics, topic_partitions, wait_for_group
from transport.mqtt import make_client

ROTTERDAM = Place(locode="NLRTM", name="Rotterdam", kind=PlaceKind.SEAPORT, lat=51.95, lon=4.14)
AT_SEA = (30.5, 122.6)
SHOCK_EVERY = 10


@dataclass
class StepFigures:
    rate_per_s: float
    seconds: float
    published: int
    lag_start: int
    lag_end: int
    sustained: bool
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    cpu_percent: dict[str, float] = field(default_factory=dict)


@dataclass
class PipelineFigures:
    baseline_per_s: float
    sustained_per_s: float
    ratio: float
    steps: list[StepFigures]
    machine: dict[str, object] = field(default_factory=machine)
    workers: int = 1
    """Workers in the group (same app id), sharing the partitions."""

    def text(self) -> str:
        lines = [
            f"pass-through baseline (MQTT -> forwarder -> Kafka -> consumer): "
            f"{self.baseline_per_s:,.0f} readings/s",
        ]
        for s in self.steps:
            lat = "; ".join(
                f"{topic} p50 {v['p50']:.0f} / p95 {v['p95']:.0f} / p99 {v['p99']:.0f} ms "
                f"(n={v['n']:.0f})"
                for topic, v in s.latency_ms.items()
            )
            cpu = ", ".join(f"{k} {v:.0f}%" for k, v in s.cpu_percent.items())
            lines.append(
                f"{s.rate_per_s:>6,.0f}/s for {s.seconds:.0f} s: lag {s.lag_start:,} -> "
                f"{s.lag_end:,} ({'sustained' if s.sustained else 'falling behind'})\n"
                f"        latency: {lat}\n        CPU (100% = one core): {cpu}"
            )
        lines.append(
            f"highest sustained rate: {self.sustained_per_s:,.0f} readings/s = "
            f"{self.ratio:.2f} x the baseline, {self.workers} worker(s) in the group"
        )
        lines.append(f"machine: {self.machine}")
        lines.append("(CPU 'machine' is the sum of the processes listed; 200% is both cores.)")
        return "\n".join(lines)


def _reading(device: str, seq: int, now: datetime | None = None) -> bytes:
    """A tracker reading's JSON, as ``TrackerReading`` writes it (a unit test holds them
    together), from a template: the publisher renders thousands a second on the cores it
    measures, and the model took 9 µs a reading."""
    shock = "20.0" if seq % SHOCK_EVERY == SHOCK_EVERY - 1 else "0.5"
    ts = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f'{{"schema_version":1,"device_id":"{device}","seq":{seq},"ts":"{ts}",'
        f'"gps":{{"lat":{AT_SEA[0]},"lon":{AT_SEA[1]},"speed_kmh":30.0,"heading_deg":0.0,'
        f'"fix":"3d","hdop":null,"satellites":null}},"temperature_c":5.0,"humidity_pct":null,'
        f'"shock_g":{shock},"light_lux":null,"tamper":false,"battery_pct":90.0}}'
    ).encode()


BASELINE_PUBLISHERS = 3
"""Publisher processes of the baseline: one Python publisher tops out below what Mosquitto,
a forwarder and Kafka carry, and the baseline must measure the plumbing, not the publisher."""


def _shares(count: int, parts: int) -> list[int]:
    return [count // parts + (1 if i < count % parts else 0) for i in range(parts)]


def _publish_flat_out(
    settings: MqttSettings, client_id: str, root: str, n: int, count: int
) -> None:
    """A baseline publisher process: ``count`` readings at QoS 1 as fast as the broker takes
    them, then it waits until every one is acknowledged."""
    publisher = _Publisher(settings, client_id)
    try:
        payloads = {d: _reading(f"bb-{n}-{d}", 0) for d in range(200)}
        infos = []
        for i in range(count):
            device = i % 200
            infos.append(
                publisher.client.publish(f"{root}/bb-{n}-{device}/readings", payloads[device], 1)
            )
        for info in infos:
            info.wait_for_publish(120)
    finally:
        publisher.close()


class _Publisher:
    """One paho client (network loop in its thread) publishing at QoS 1."""

    def __init__(self, settings: MqttSettings, client_id: str) -> None:
        self.client = make_client(settings, client_id)
        self.client.max_inflight_messages_set(5000)
        self.client.max_queued_messages_set(0)
        self.client.connect(settings.host, settings.port, keepalive=30)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    return children.spawn(args, log, truncate=True)


async def _wait_for(log: Path, text: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in await asyncio.to_thread(log.read_text, errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = (await asyncio.to_thread(log.read_text, errors="replace"))[-2000:]
            raise RuntimeError(f"{proc.args!r} did not start:\n{tail}")
        await asyncio.sleep(0.1)  # polling a child's log under a deadline


async def _lag(kafka: KafkaSettings, app_id: str) -> int:
    """Inputs the worker has not handled yet: readings it has not routed, routed records its
    shipment loop has not applied, and pledged shipments' events its pledge loop has not."""
    groups = {
        app_id: (TRACKER_READINGS.name, shipment_topic(app_id)),
        pledge_group(app_id): (finance_topic(app_id),),
    }
    lag = 0
    for group, topics in groups.items():
        consumer = clients.consumer(kafka, group_id=group)
        await consumer.start()
        try:
            for topic in topics:
                tps = await topic_partitions(consumer, topic)
                ends = await consumer.end_offsets(tps)
                for tp in tps:
                    lag += ends[tp] - (await consumer.committed(tp) or 0)
        finally:
            await consumer.stop()
    return lag


async def baseline(
    kafka: KafkaSettings, mqtt_settings: MqttSettings, run: str, count: int
) -> float:
    """Raw plumbing at full speed: readings/s from the first publish to the last consumed."""
    topic = KafkaTopic(f"bench-baseline-{run}", 12, "delete", ShipmentBooking, "device_id")
    await ensure_topics(kafka, (topic,), with_configs=False)
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[tuple[bytes, bytes]] = asyncio.Queue()
    forwarder = make_client(mqtt_settings, f"bench-fwd-{run}")

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        device = msg.topic.rsplit("/", 2)[-2].encode()
        loop.call_soon_threadsafe(inbox.put_nowait, (device, bytes(msg.payload)))

    subscribed = threading.Event()
    forwarder.on_message = on_message
    forwarder.on_subscribe = lambda *_a: subscribed.set()
    forwarder.connect(mqtt_settings.host, mqtt_settings.port)
    forwarder.loop_start()
    forwarder.subscribe(f"bench-baseline/{run}/+/readings", qos=1)
    await asyncio.to_thread(subscribed.wait, 10)
    producer = clients.producer(kafka)
    consumer = clients.consumer(kafka, topic.name)
    await producer.start()
    await consumer.start()

    async def forward() -> None:
        while True:
            device, payload = await inbox.get()
            await producer.send(topic.name, payload, key=device)

    task = asyncio.create_task(forward())
    publishers = [
        multiprocessing.get_context("spawn").Process(
            target=_publish_flat_out,
            args=(mqtt_settings, f"bench-basepub-{run}-{n}", f"bench-baseline/{run}", n, share),
        )
        for n, share in enumerate(_shares(count, BASELINE_PUBLISHERS))
    ]
    try:
        started = time.perf_counter()
        for process in publishers:
            process.start()
        seen = 0
        deadline = started + 300
        while seen < count and time.perf_counter() < deadline:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                seen += len(batch)
        return seen / (time.perf_counter() - started)
    finally:
        for process in publishers:
            process.join(60)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        forwarder.loop_stop()
        forwarder.disconnect()
        await producer.stop()
        await consumer.stop()


class _Latencies:
    """Follows the three output topics and pairs each event with its reading's publish time."""

    def __init__(self, kafka: KafkaSettings, facility: str, hops: tuple[str, ...] = ()) -> None:
        self.kafka = kafka
        self.facility = facility
        self.hops = hops
        """Intermediate topics whose shock readings are timed too (where the latency goes)."""
        self.sent: dict[tuple[str, int], float] = {}
        self.device_of: dict[str, str] = {}
        self.samples: dict[str, list[tuple[float, float]]] = defaultdict(list)
        """topic → (publish moment, latency s)."""
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        for topic in (
            SHIPMENTS_EVENTS.name,
            FINANCE_EVENTS.name,
            INSURANCE_CLAIMS.name,
            *self.hops,
        ):
            # Latency comes from record timestamps, not from when a follower reads: large,
            # infrequent fetches keep the followers' load off the broker being measured.
            consumer = clients.consumer(
                self.kafka,
                topic,
                auto_offset_reset="latest",
                fetch_min_bytes=256 * 1024,
                fetch_max_wait_ms=250,
            )
            await consumer.start()
            await consumer.getmany(timeout_ms=500)
            self.tasks.append(asyncio.create_task(self._follow(topic, consumer)))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _cause(self, topic: str, value: bytes) -> tuple[str, int] | None:
        if topic in self.hops:
            if b'"shock_g":20.0' not in value:
                return None
            reading = json.loads(value[value.index(b"{") :])["reading"]
            return str(reading["device_id"]), int(reading["seq"])
        if topic == SHIPMENTS_EVENTS.name:
            if b'"shock_detected"' not in value:
                return None
            event = ShipmentEvent.model_validate_json(value)
            if not isinstance(event.data, ShockDetected):
                return None
            ref = event.data.evidence.readings[0]
            return ref.device_id, ref.seq
        if topic == FINANCE_EVENTS.name:
            if b'"drawdown_executed"' not in value:
                return None
            finance = FinanceEvent.model_validate_json(value)
            if not isinstance(finance.data, DrawdownExecuted) or finance.subject != self.facility:
                return None
            device = self.device_of.get(finance.data.shipment_id)
            return (device, 0) if device else None
        if b'"claim_raised"' not in value:
            return None
        claim = ClaimEvent.model_validate_json(value)
        device = self.device_of.get(claim.data.shipment_id)
        return (device, SHOCK_EVERY - 1) if device else None

    async def _follow(self, topic: str, consumer: AIOKafkaConsumer) -> None:
        try:
            while True:
                for batch in (await consumer.getmany(timeout_ms=200)).values():
                    for record in batch:
                        cause = self._cause(topic, record.value)
                        at = self.sent.get(cause) if cause else None
                        if at is not None:
                            self.samples[topic].append((at, record.timestamp / 1000 - at))
        finally:
            await consumer.stop()

    def summary(self, start: float, end: float) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for topic, samples in sorted(self.samples.items()):
            ms = [1000 * lat for at, lat in samples if start <= at < end]
            if ms:
                out[topic] = {
                    "n": len(ms),
                    "p50": round(percentile(ms, 0.5), 1),
                    "p95": round(percentile(ms, 0.95), 1),
                    "p99": round(percentile(ms, 0.99), 1),
                    "max": round(max(ms), 1),
                }
        return out


TICK_S = 0.005
"""The publisher's pacing: every 5 ms it sends the readings due by then, in one write."""


async def _publish_step(
    publisher: LoadPublisher,
    latencies: _Latencies,
    devices: list[str],
    rate: float,
    total: int,
    started: float,
) -> None:
    """``total`` readings at ``rate``, round robin over ``devices``; each reading's publish
    moment is when it was handed to the socket (a late publisher counts against the chain)."""
    seqs = dict.fromkeys(devices, 0)
    topics = {d: readings_topic(d) for d in devices}
    sent = 0
    while sent < total:
        now = time.perf_counter()
        due = min(total, int((now - started) * rate) + 1)
        wall, stamp = time.time(), datetime.now(UTC)
        for i in range(sent, due):
            device = devices[i % len(devices)]
            seq = seqs[device]
            seqs[device] = seq + 1
            latencies.sent[(device, seq)] = wall
            publisher.publish(topics[device], _reading(device, seq, stamp))
        sent = due
        await publisher.drain()
        await asyncio.sleep(TICK_S)  # pacing the publisher, not synchronisation


def _measured_pids(procs: dict[str, subprocess.Popen[bytes]]) -> dict[str, int]:
    """The processes whose CPU a step reports: the chain's, the services' this project started
    (their pid files) and the bench itself (the trackers' publisher and the followers)."""
    pids = {name: p.pid for name, p in procs.items()}
    for service in services():
        pid = service.process.pid()
        if pid is not None:
            pids[service.name] = pid
    pids["bench"] = os.getpid()
    return pids


async def _warm_up(publisher: LoadPublisher, latencies: _Latencies, device: str) -> None:
    """Until one reading has gone all the way through: a fresh worker first reads the
    registries to their end and joins its group, and the clock must not run meanwhile."""
    print("Warming up: waiting for a first event through the whole chain ...", flush=True)
    for seq in range(SHOCK_EVERY):
        latencies.sent[(device, seq)] = time.time()
        publisher.publish(readings_topic(device), _reading(device, seq))
    await publisher.drain()
    # every loop warm: the shock's event, its claim, and the departure's drawdown (the
    # pledge loop may run in a process of its own that joins its group later)
    expected = {
        SHIPMENTS_EVENTS.name: latencies.sent[(device, SHOCK_EVERY - 1)],
        INSURANCE_CLAIMS.name: latencies.sent[(device, SHOCK_EVERY - 1)],
        FINANCE_EVENTS.name: latencies.sent[(device, 0)],
    }
    deadline = time.monotonic() + 300
    while not all(
        any(at == sent for at, _ in latencies.samples[topic]) for topic, sent in expected.items()
    ):
        if time.monotonic() > deadline:
            missing = [
                t
                for t, sent in expected.items()
                if all(at != sent for at, _ in latencies.samples[t])
            ]
            raise RuntimeError(f"no event came through to {', '.join(missing)} within 5 minutes")
        await asyncio.sleep(0.2)  # polling the followers' samples under a deadline
    print("  warm", flush=True)


@dataclass
class _Plan:
    """One run's ids: each step's (shipment, device) pairs, the warm-up pair, the facility."""

    run: str
    steps: list[list[tuple[str, str]]]
    warm: tuple[str, str]
    app_id: str
    facility: str

    @classmethod
    def make(cls, run: str, steps: int, shipments_per_step: int) -> _Plan:
        return cls(
            run,
            [
                [(f"bp-{run}-s{k}-{i}", f"bp-{run}-s{k}-{i}-t") for i in range(shipments_per_step)]
                for k in range(steps)
            ],
            (f"bp-{run}-warm", f"bp-{run}-warm-t"),
            f"tradelane-streams-bench-pipe-{run}",
            f"fac-bench-{run}",
        )

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return [pair for step in [*self.steps, [self.warm]] for pair in step]


async def _book_and_pledge(kafka: KafkaSettings, plan: _Plan) -> None:
    """Book every shipment of the run and pledge them all to the run's facility, insured."""
    booked = datetime.now(UTC).replace(microsecond=0)
    bookings = [
        bench_booking(s, d, booked, ROTTERDAM, days=30, value_usd="100000") for s, d in plan.pairs
    ]
    producer = clients.producer(kafka)
    await producer.start()
    try:
        for b in bookings:
            await producer.send(
                SHIPMENTS_REGISTRY.name, b.model_dump_json().encode(), key=b.shipment_id.encode()
            )
        await producer.flush()
    finally:
        await producer.stop()
    print(await publish_demo_terms(kafka, bookings, plan.facility, insure=True), flush=True)


def _start_stages(
    plan: _Plan, logs: Path, sink: bool, worker_processes: int
) -> dict[str, subprocess.Popen[bytes]]:
    """The worker (its shipments part first when split in two), the bridge, and the sink when
    InfluxDB answers; the pledge part is started by :func:`_await_stages`."""
    app_id = plan.app_id
    procs: dict[str, subprocess.Popen[bytes]] = {}
    worker = ["worker", "--from-now", "--app-id", app_id]
    if worker_processes == 1:
        procs["worker"] = _start(worker, logs / "worker.log")
    else:  # the pledge process starts once the first holds the lease (same app id: it joins)
        procs["worker"] = _start([*worker, "--part", "shipments"], logs / "worker.log")
    procs["bridge"] = _start(
        # A short session: the broker would otherwise queue every later reading for this
        # bridge for a week after the run (800 MB of queues the broker saves every 5 s).
        [
            *("bridge", "--client-id", app_id, "--group", app_id, "--metrics-port", "-1"),
            *("--session-expiry-s", "30"),
        ],
        logs / "bridge.log",
    )
    from transport.probes import http_json

    if sink and http_json(f"{InfluxSettings().url}/health") is not None:
        procs["sink"] = _start(
            # from now: not the history of earlier runs; uncompressed: InfluxDB is on loopback
            ["sink", "--group", f"tradelane-sink-bench-{plan.run}", "--from-now", "--no-gzip"],
            logs / "sink.log",
        )
    return procs


def _member(name: str, k: int) -> str:
    """The process name of a group's ``k``-th member (1: the name itself)."""
    return name if k == 1 else f"{name}-{k}"


async def _await_stages(
    plan: _Plan,
    procs: dict[str, subprocess.Popen[bytes]],
    logs: Path,
    worker_processes: int,
    workers: int = 1,
) -> None:
    """The first worker ready, then the other members of its group (each a process, or two
    with ``worker_processes`` 2: shipments and pledge parts), then the bridge; returns once
    both groups are stable with ``workers`` members holding partitions."""
    ready = f"worker {plan.app_id}:"
    await _wait_for(logs / "worker.log", ready, procs["worker"], 120)
    base = ["worker", "--from-now", "--app-id", plan.app_id]
    parts = [("worker", ["--part", "shipments"] if worker_processes == 2 else [])]
    if worker_processes == 2:
        parts.append(("pledge", ["--part", "pledge"]))
    for name, extra in parts:
        for k in range(1, workers + 1):
            member = _member(name, k)
            if member in procs:
                continue  # the first worker, started with the bridge
            procs[member] = _start([*base, *extra], logs / f"{member}.log")
            await _wait_for(logs / f"{member}.log", ready, procs[member], 120)
    await _wait_for(logs / "bridge.log", "bridge ", procs["bridge"], 60)
    if workers > 1:  # no rebalance may fall inside a measured step
        kafka = KafkaSettings()
        await wait_for_group(kafka, plan.app_id, workers, timeout_s=120)
        await wait_for_group(kafka, pledge_group(plan.app_id), workers, timeout_s=120)


async def _step(
    kafka: KafkaSettings,
    app_id: str,
    procs: dict[str, subprocess.Popen[bytes]],
    run: tuple[LoadPublisher, _Latencies],
    rate: float,
    step_s: float,
    devices: list[str],
) -> StepFigures:
    """One step: ``rate`` readings/s for ``step_s`` over ``devices``; lag, latency and CPU."""
    publisher, latencies = run
    lag_start = await _lag(kafka, app_id)
    pids = _measured_pids(procs)
    cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started_wall, started = time.time(), time.perf_counter()
    total = int(rate * step_s)
    print(f"Step: {rate:,.0f} readings/s for {step_s:.0f} s ...", flush=True)
    await _publish_step(publisher, latencies, devices, rate, total, started)
    elapsed = time.perf_counter() - started
    cpu = {
        name: round(100 * (cpu_seconds(pid) - cpu0[name]) / elapsed, 1)
        for name, pid in pids.items()
    }
    cpu["machine"] = round(sum(cpu.values()), 1)
    lag_end = await _lag(kafka, app_id)
    ended_wall = time.time()
    await asyncio.sleep(min(30.0, 5 + lag_end / max(rate, 1)))  # stragglers' events
    return StepFigures(
        rate_per_s=rate,
        seconds=round(elapsed, 1),
        published=total,
        lag_start=lag_start,
        lag_end=lag_end,
        sustained=lag_end < 2 * rate,
        latency_ms=latencies.summary(started_wall, ended_wall),
        cpu_percent=cpu,
    )


async def run_pipeline(
    rates: list[float],
    step_s: float,
    shipments_per_step: int,
    baseline_count: int,
    tmp: Path,
    sink: bool = True,
    hops: bool = False,
    worker_processes: int = 2,
    workers: int = 1,
) -> PipelineFigures:
    kafka, mqtt_settings = KafkaSettings(), MqttSettings()
    run = uuid.uuid4().hex[:8]
    await ensure_topics(kafka)  # a fresh cluster has none yet
    print(f"Baseline: {baseline_count:,} readings through a pass-through forwarder ...", flush=True)
    base = await baseline(kafka, mqtt_settings, run, baseline_count)
    print(f"  {base:,.0f} readings/s", flush=True)
    plan = _Plan.make(run, len(rates), shipments_per_step)
    await _book_and_pledge(kafka, plan)
    procs = _start_stages(plan, tmp, sink, worker_processes)
    latencies = _Latencies(
        kafka, plan.facility, (TRACKER_READINGS.name, shipment_topic(plan.app_id)) if hops else ()
    )
    latencies.device_of = dict(plan.pairs)
    publisher: LoadPublisher | None = None
    steps: list[StepFigures] = []
    try:
        await _await_stages(plan, procs, tmp, worker_processes, workers)
        await latencies.start()
        publisher = LoadPublisher(mqtt_settings, f"bench-pub-{run}")
        await publisher.connect()
        await _warm_up(publisher, latencies, plan.warm[1])
        for rate, step in zip(rates, plan.steps, strict=True):
            devices = [d for _, d in step]
            figures = await _step(
                kafka, plan.app_id, procs, (publisher, latencies), rate, step_s, devices
            )
            steps.append(figures)
            print(figures, flush=True)
    finally:
        await latencies.stop()
        if publisher is not None:
            await publisher.close()
        children.finish(*procs.values())
    sustained = max((s.rate_per_s for s in steps if s.sustained), default=0.0)
    ratio = sustained / base if base else 0.0
    return PipelineFigures(base, sustained, ratio, steps, workers=workers)


def bench_pipeline(
    rates: list[float],
    step_s: float = 20.0,
    shipments_per_step: int = 100,
    baseline_count: int = 20_000,
    json_path: Path | None = None,
    sink: bool = True,
    hops: bool = False,
    worker_processes: int = 2,
    workers: int = 1,
) -> PipelineFigures:
    logs = Path(os.environ.get("TRADELANE_HOME", ".tradelane")) / "bench" / "pipeline"
    logs.mkdir(parents=True, exist_ok=True)
    print(f"Process logs in {logs}/", flush=True)
    figures = asyncio.run(
        run_pipeline(
            rates,
            step_s,
            shipments_per_step,
            baseline_count,
            logs,
            sink,
            hops,
            worker_processes,
            workers,
        )
    )
    print(figures.text())
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(asdict(figures), indent=2, default=str) + "\n")
        print(f"figures written to {json_path}")
    return figures
