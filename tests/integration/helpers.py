"""Helpers for integration tests: read a Kafka topic from "now" and wait on conditions."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from tradelane.admin import topic_partitions
from tradelane.settings import KafkaSettings


class Tail:
    """Reads a topic from its end at the moment of entry (no consumer group)."""

    def __init__(self, settings: KafkaSettings, topic: str) -> None:
        self.topic = topic
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False
        )
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
        await self.consumer.seek_to_end(*tps)
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
