"""Benchmarks of the ingest path on the real services. They print figures; they assert nothing.

- ``bridge``: a backlog of valid readings waits in Mosquitto for the bridge's persistent
  session; a ``tradelane bridge`` process drains it to Kafka; we report its sustained
  readings/s (Kafka-acknowledged, from its own metrics) and its CPU.
- ``sink``: readings are preloaded on a private topic, then the sink writes them to InfluxDB;
  we report points/s and CPU.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import platform
import subprocess
import time
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka.admin import NewTopic

from devtools import children
from tradelane.contracts import IngestedReading, TrackerReading
from tradelane.settings import InfluxSettings, KafkaSettings, MqttSettings
from transport import kafka as clients
from transport.mqtt import forget_session
from transport.probes import free_port

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def machine() -> dict[str, object]:
    load = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_1m_at_start": round(load[0], 2),
    }


@dataclass
class BenchResult:
    name: str
    items: int
    seconds: float
    rate_per_s: float
    cpu_percent: dict[str, float] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict)
    machine: dict[str, object] = field(default_factory=machine)

    def text(self) -> str:
        cpu = ", ".join(f"{k} {v:.0f}%" for k, v in self.cpu_percent.items())
        extra = "".join(f"\n  {k}: {v}" for k, v in self.extra.items())
        return (
            f"{self.name}: {self.items:,} in {self.seconds:.2f} s = "
            f"{self.rate_per_s:,.0f}/s\n  CPU (100% = one core): {cpu}{extra}\n"
            f"  machine: {self.machine}"
        )


def reading_payloads(count: int, devices: int, run: str) -> list[tuple[str, bytes]]:
    start = datetime.now(UTC) - timedelta(days=1)
    out = []
    for i in range(count):
        device = f"bench-{run}-{i % devices}"
        reading = TrackerReading(
            device_id=device,
            seq=i // devices,
            ts=start + timedelta(seconds=i // devices),
            battery_pct=88.5,
            temperature_c=4.2,
            humidity_pct=60.0,
            shock_g=0.1,
        )
        out.append((f"tradelane/v1/trackers/{device}/readings", reading.model_dump_json().encode()))
    return out


PUBLISHER = "bench.ingest_publisher"
"""The module a publisher process runs (see its doc)."""


def _metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


def _start_bridge(run: str, port: int) -> subprocess.Popen[str]:
    bridge = children.spawn_piped(
        [
            *("bridge", "--client-id", f"bench-{run}", "--group", f"bench-{run}"),
            *("--metrics-port", str(port), "--stats-interval", "0", "--session-expiry-s", "600"),
        ]
    )
    assert bridge.stdout is not None
    line = bridge.stdout.readline()
    if not line.startswith("bridge "):
        bridge.kill()
        raise RuntimeError(f"bridge did not start: {line}{bridge.stdout.read()}")
    return bridge


def _publish(count: int, devices: int, run: str, processes: int = 2) -> float:
    """Publish ``count`` readings with several publisher processes; returns their rate."""
    share = count // processes
    started = time.perf_counter()
    procs = [
        children.spawn_piped([str(share), str(devices), f"{run}-{i}"], module=PUBLISHER)
        for i in range(processes)
    ]
    for proc in procs:
        out = proc.communicate(timeout=max(300.0, count / 500))[0]
        if proc.returncode != 0:
            raise RuntimeError(f"publisher failed: {out}")
    return share * processes / (time.perf_counter() - started)


def bench_bridge(count: int = 200_000, devices: int = 1000) -> BenchResult:
    """Mosquitto → bridge process → Kafka: how fast the bridge drains a backlog.

    A live race would measure the publishers as much as the bridge (they share its cores).
    Instead the bridge's persistent session is created, the bridge stopped, ``count``
    readings published (Mosquitto queues them for the session), and a fresh bridge process
    started: its steady-state rate (10% → 90% of the backlog acknowledged by Kafka, measured
    from its own metrics) is the bridge's sustained throughput.
    """
    run = uuid.uuid4().hex[:8]
    port = free_port()
    first = _start_bridge(run, port)  # creates the persistent session and its subscription
    children.finish(first, timeout_s=30)
    publish_rate = _publish(count, devices, run)
    bridge = _start_bridge(run, port)
    try:
        cpu0, started = cpu_seconds(bridge.pid), time.perf_counter()
        marks: dict[float, tuple[float, float]] = {}
        deadline = started + max(120.0, count / 1000)
        forwarded = 0.0
        while forwarded < count and time.perf_counter() < deadline:
            forwarded = _metric(port, "tradelane_bridge_forwarded_total")
            for q in (0.1, 0.9):
                if q not in marks and forwarded >= q * count:
                    marks[q] = (time.perf_counter(), forwarded)
            time.sleep(0.05)  # polling the bridge's metrics
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(bridge.pid) - cpu0
        p99 = _metric(port, "tradelane_bridge_kafka_send_latency_seconds_sum") / max(
            1.0, _metric(port, "tradelane_bridge_kafka_send_latency_seconds_count")
        )
    finally:
        children.finish(bridge, timeout_s=30)
        forget_session(MqttSettings(), f"bench-{run}")
    if forwarded < count:
        raise RuntimeError(f"only {forwarded:.0f} of {count} forwarded in {elapsed:.0f}s")
    (t1, f1), (t9, f9) = marks[0.1], marks[0.9]
    # A backlog drained between two polls of the metrics has no steady state to time: its
    # overall rate is the figure then.
    steady = (f9 - f1) / (t9 - t1) if t9 > t1 and f9 > f1 else count / elapsed
    return BenchResult(
        "bridge (Mosquitto backlog -> bridge -> Kafka; QoS 1, manual acks, acks=all, "
        "idempotent, lz4)",
        count,
        elapsed,
        steady,
        cpu_percent={"bridge": 100 * cpu / elapsed},
        extra={
            "overall_rate_per_s": round(count / elapsed),
            "mean_kafka_send_to_ack_ms": round(p99 * 1000, 1),
            "publishers_rate_per_s": round(publish_rate),
            "devices": devices,
        },
    )


async def _preload(kafka: KafkaSettings, topic: str, count: int, devices: int) -> None:
    admin = clients.admin(kafka)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 6, 1)])
    finally:
        await admin.close()
    producer = clients.producer(kafka, linger_ms=20)
    await producer.start()
    try:
        received = datetime.now(UTC)
        futures = []
        for topic_name, payload in reading_payloads(count, devices, topic):
            reading = TrackerReading.model_validate_json(payload)
            record = IngestedReading(reading=reading, received_at=received, mqtt_topic=topic_name)
            futures.append(
                await producer.send(
                    topic, record.model_dump_json().encode(), key=reading.device_id.encode()
                )
            )
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def bench_sink(count: int = 200_000, devices: int = 1000, gzip: bool = True) -> BenchResult:
    """Preloaded readings on a private topic → sink → InfluxDB; points/s."""
    from ingest.sink import Sink, SinkConfig

    kafka, influx = KafkaSettings(), InfluxSettings()
    topic = f"bench.readings.{uuid.uuid4().hex[:8]}"
    asyncio.run(_preload(kafka, topic, count, devices))

    async def run() -> tuple[float, int, float]:
        sink = Sink(
            kafka,
            influx,
            SinkConfig(group_id=f"bench-{topic}", topic=topic, batch_max=10_000, gzip=gzip),
        )
        stop = asyncio.Event()
        task = asyncio.create_task(sink.run(stop))
        await asyncio.wait_for(sink.ready.wait(), 60)
        cpu0, t0 = cpu_seconds(os.getpid()), time.perf_counter()
        while sink.stats.points_written < count:  # progress poll
            if task.done():
                await task
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - t0
        cpu = cpu_seconds(os.getpid()) - cpu0
        stop.set()
        await task
        return elapsed, sink.stats.batches, cpu

    elapsed, batches, cpu = asyncio.run(run())
    return BenchResult(
        f"sink (Kafka -> sink -> InfluxDB, {'gzip' if gzip else 'uncompressed'}, batches of 10k)",
        count,
        elapsed,
        count / elapsed,
        cpu_percent={"sink": 100 * cpu / elapsed},
        extra={"batches": batches, "devices": devices},
    )


def report(result: BenchResult, json_path: Path | None) -> None:
    print(result.text())
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(asdict(result), indent=2, default=str) + "\n")
        print(f"  figures written to {json_path}")
