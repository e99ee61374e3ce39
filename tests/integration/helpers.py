"""Helpers for integration tests: read a Kafka topic from "now" and wait on conditions."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from aiokafka import ConsumerRecord, TopicPartition
from opentelemetry.trace import TracerProvider

from ingest.bridge import Bridge, BridgeConfig
from tradelane.settings import KafkaSettings, MqttSettings
from transport import kafka as clients
from transport.admin import topic_partitions
from transport.mqtt import forget_session


class Tail:
    """Reads a topic from its end at the moment of entry (no consumer group)."""

    def __init__(self, settings: KafkaSettings, topic: str) -> None:
        self.topic = topic
        self.consumer = clients.consumer(settings, enable_auto_commit=False)
        self.records: list[ConsumerRecord[bytes, bytes]] = []
        self.start_offsets: dict[TopicPartition, int] = {}

    async def __aenter__(self) -> Tail:
        await self.consumer.start()
        try:
            await self._seek_to_end()
        except BaseException:
            await self.consumer.stop()
            raise
        return self

    async def _seek_to_end(self) -> None:
        tps = await topic_partitions(self.consumer, self.topic)
        self.consumer.assign(tps)
        await clients.fast_forward(self.consumer, *tps)
        for tp in tps:  # resolve positions now, so nothing published after entry is missed
            self.start_offsets[tp] = await self.consumer.position(tp)

    async def __aexit__(
        self, *_exc: type[BaseException] | BaseException | TracebackType | None
    ) -> None:
        await self.consumer.stop()

    async def until(
        self, done: Callable[[list[ConsumerRecord[bytes, bytes]]], bool], timeout_s: float = 60.0
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """Poll until ``done(records)`` holds or the deadline passes; returns the records."""
        deadline = time.monotonic() + timeout_s
        while not done(self.records) and time.monotonic() < deadline:
            for batch in (await self.consumer.getmany(timeout_ms=300)).values():
                self.records.extend(batch)
        return self.records


def run_tradelane(*args: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
    """``tradelane ARGS`` to its end, in this interpreter and environment; output captured."""
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=dict(os.environ),
    )


def wait_for_output(
    log: Path, text: str, proc: subprocess.Popen[bytes], timeout_s: float = 60.0
) -> None:
    """Wait until a child process has written ``text`` to its log (or fail with the log)."""
    deadline = time.monotonic() + timeout_s
    while text not in log.read_text(errors="replace"):
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, f"no {text!r} in {timeout_s:.0f}s"
        time.sleep(0.05)  # polling a log file under a deadline


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 90.0) -> int:
    """SIGTERM a child and wait for it; kill it if it does not stop in time (so no test leaks a
    running process), and return its exit status (-9 when it had to be killed)."""
    if proc.poll() is None:
        proc.terminate()
    try:
        return proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(10)


@dataclass
class PipelineRun:
    """What an end-to-end test needs from :func:`bridge_and_worker` after it ends."""

    worker_log: Path
    worker_exit: int | None = None


@contextlib.asynccontextmanager
async def bridge_and_worker(
    mqtt: MqttSettings,
    kafka: KafkaSettings,
    app_id: str,
    tmp_path: Path,
    tracer_provider: TracerProvider | None = None,
    worker_env: Mapping[str, str] | None = None,
) -> AsyncIterator[PipelineRun]:
    """A bridge (in this process) and a worker (a child, ``--from-now``) for an end-to-end test,
    both ready on entry; on exit both stop and the bridge's MQTT session is retired.
    ``tracer_provider`` records the bridge's spans; ``worker_env`` is added to the worker's
    environment."""
    stop = asyncio.Event()
    bridge = Bridge(
        mqtt,
        kafka,
        BridgeConfig(client_id=app_id, share_group=app_id, session_expiry_s=300, metrics_port=None),
        tracer_provider=tracer_provider,
    )
    run = PipelineRun(worker_log=tmp_path / "worker.log")
    with run.worker_log.open("ab") as out:
        worker = subprocess.Popen(  # noqa: ASYNC220 - a child we watch, not a blocking call
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
            env={**os.environ, **(worker_env or {})},
        )
    task = asyncio.create_task(bridge.run(stop))
    try:
        wait_for_output(run.worker_log, f"worker {app_id}:", worker)
        await asyncio.wait_for(bridge.subscribed.wait(), 15)
        yield run
    finally:
        stop.set()
        try:
            await task
            forget_session(mqtt, app_id)
        finally:  # a bridge that failed must not leave the worker running
            run.worker_exit = stop_process(worker)


async def simulate_reefer_failure(prefix: str, *extra: str) -> None:
    """8 single-tracker shipments, half of them with a reefer failure, 25 s at 2 days/s.

    Readings every 30 simulated minutes (10 while alarmed) keep the rate near 700/s, which a
    worker on a loaded 2-core CI machine absorbs as it comes (the default 15/2 minutes gave
    1,800/s and a backlog that outlived the deadlines)."""
    sim = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        "simulate",
        "--trackers",
        "8",
        "--scenario",
        "reefer-failure",
        "--incident-share",
        "0.5",
        "--seed",
        "11",
        "--speedup",
        "172800",
        "--duration",
        "25",
        "--prefix",
        prefix,
        "--max-trackers-per-shipment",
        "1",
        "--interval",
        "1800",
        "--alarm-interval",
        "600",
        "--quiet",
        *extra,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(sim.communicate(), 180)
    assert sim.returncode == 0, out.decode()
