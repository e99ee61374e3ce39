"""Fencing on a real Kafka: a loop whose state partition is claimed by another worker can no
longer write for it. Its open transaction is aborted, so readers never see what it wrote.
It then restarts from its last commit, and every input comes out exactly once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import NewTopic

from streams.loop import LoopConfig, PartitionLoop, Record
from streams.store import Send, Store
from streams.transactions import Transactions
from tradelane.settings import KafkaSettings
from transport import kafka as clients

pytestmark = [pytest.mark.integration]


class EchoStage:
    """Each input becomes one output record and one state (its last value, per key)."""

    def __init__(self, keyed: str, out: str, changelog: str) -> None:
        self.keyed = frozenset({keyed})
        self.out, self.changelog = out, changelog
        self.store: Store[bytes] = Store(bytes, bytes)

    @property
    def stores(self) -> tuple[tuple[Store[Any], str], ...]:
        return ((self.store, self.changelog),)

    def route(self, topic: str, messages: Sequence[Any]) -> list[Send]:
        return []

    def apply(self, records: list[Record]) -> list[Send]:
        sends: list[Send] = []
        for _, partition, key, value, _offset in records:
            self.store.put(partition, key, value)
            sends.append((self.out, key, value, None))
        return sends + [(self.changelog, k, v, p) for p, k, v in self.store.drain()]

    def drop(self, partitions: set[int]) -> None:
        self.store.drop(partitions)


async def _values(kafka: KafkaSettings, topic: str, isolation: str) -> list[bytes]:
    """Every value ``topic`` holds now, as a reader with ``isolation`` sees it."""
    consumer = clients.consumer(kafka, isolation_level=isolation)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await clients.rewind(consumer, tp)
        end = (await consumer.end_offsets([tp]))[tp]
        values: list[bytes] = []
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=500)
            values += [m.value or b"" for m in batch.get(tp, [])]
        return values
    finally:
        await consumer.stop()


async def _until(what: str, check: Any, deadline_s: float = 60.0) -> None:
    deadline = time.monotonic() + deadline_s
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)  # polling a condition, bounded by the deadline


def test_a_fenced_loop_writes_nothing_readers_see_and_resumes_exactly_once(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    asyncio.run(_scenario(kafka_settings, unique))


async def _scenario(base: KafkaSettings, unique: str) -> None:
    # commits only when stopped: the first inputs' transaction stays open until it is fenced
    kafka = base.model_copy(update={"commit_interval_ms": 60_000})
    keyed, out, changelog = f"fence-in-{unique}", f"fence-out-{unique}", f"fence-cl-{unique}"
    admin = clients.admin(kafka)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 1, 1) for t in (keyed, out, changelog)])
    finally:
        await admin.close()
    producer = clients.producer(kafka)
    await producer.start()

    async def feed(values: range) -> None:
        for i in values:
            await producer.send_and_wait(keyed, str(i).encode(), key=b"k")

    ready = asyncio.Event()
    ready.set()
    group = f"fence-{unique}"
    loop = PartitionLoop(
        kafka, LoopConfig(group, (keyed,)), EchoStage(keyed, out, changelog), ready
    )
    task = asyncio.create_task(loop.run())
    try:
        await feed(range(5))

        async def sent_uncommitted() -> bool:
            return len(await _values(kafka, out, "read_uncommitted")) >= 5

        await _until("the loop's first outputs", sent_uncommitted)
        assert await _values(kafka, out, "read_committed") == []  # still in its transaction

        usurper = Transactions(kafka, group)
        await usurper.claim([0])  # what the next owner of partition 0 does first
        await usurper.close()
        assert await _values(kafka, out, "read_committed") == []  # aborted, never visible

        # the fenced loop learns it at its next batch: inputs keep coming until it restarts
        fed = 5
        deadline = time.monotonic() + 60
        while loop.restarts == 0:
            assert time.monotonic() < deadline, "the fenced loop never stopped"
            await feed(range(fed, fed + 1))
            fed += 1
            await asyncio.sleep(0.2)  # one input per poll, bounded by the deadline

        async def caught_up() -> bool:
            return len(await _values(kafka, out, "read_uncommitted")) >= 5 + fed

        await _until("the restarted loop to apply every input again", caught_up)
    finally:
        task.cancel()  # a clean stop commits what was handled
        await asyncio.gather(task, return_exceptions=True)
        await producer.stop()

    expected = [str(i).encode() for i in range(fed)]
    assert await _values(kafka, out, "read_committed") == expected
    changelog_values = await _values(kafka, changelog, "read_committed")
    assert changelog_values[-1:] == expected[-1:]  # the state matches the committed input
    uncommitted = await _values(kafka, out, "read_uncommitted")
    # what the fenced loop wrote (aborted: readers never saw it), then the redo
    fenced = uncommitted[: len(uncommitted) - fed]
    assert fenced[:5] == expected[:5]
    assert uncommitted[len(fenced) :] == expected
