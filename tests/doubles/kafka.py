"""An in-memory Kafka: one process's broker, producers and consumers, for unit tests of the
shells (bridge, sink, followers, read models, webhook worker) without a real broker.

:class:`FakeKafka` is the broker. Its :meth:`~FakeKafka.consumer` and
:meth:`~FakeKafka.producer` take the arguments of :func:`transport.kafka.consumer` and
:func:`transport.kafka.producer`, so a shell's factory seam takes them unchanged, and the
clients they build answer the subset of ``AIOKafkaConsumer`` / ``AIOKafkaProducer`` the shells
and :mod:`transport.kafka` use: ``start``/``stop``, ``send``/``send_and_wait``/``flush`` (with
headers, partitions by the key's murmur2 hash as Kafka's default partitioner), ``assign``,
``assignment``, ``seek``, ``position``, ``getmany``, ``end_offsets``, ``beginning_offsets``,
``offsets_for_times``, ``commit``/``committed`` and ``partitions_for_topic``.

What it does not model: transactions, rebalances (a group consumer gets every partition of
its topics at ``start``), retention, compaction, and waiting: ``getmany`` with nothing to
return waits for a new record at most ``FakeKafka.max_wait_ms`` (a few milliseconds, so that
a loop checking a stop event between fetches ends promptly), never the full ``timeout_ms``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition
from aiokafka.partitioner import murmur2
from aiokafka.structs import OffsetAndTimestamp

Headers = Sequence[tuple[str, bytes]]


@dataclass(frozen=True)
class FakeRecord:
    """The fields of an aiokafka ``ConsumerRecord`` the shells read."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int
    headers: Headers = ()
    timestamp_type: int = 0


@dataclass(frozen=True)
class FakeMetadata:
    """What ``send_and_wait`` returns (aiokafka's ``RecordMetadata`` fields used)."""

    topic: str
    partition: int
    offset: int
    timestamp: int


def partition_for(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner: the key's murmur2 hash, as the Java client computes it."""
    hashed: int = murmur2(key)
    return (hashed & 0x7FFFFFFF) % partitions


@dataclass
class FakeKafka:
    """The broker: topics of partitioned logs and the offsets each group committed."""

    topics: dict[str, int] = field(default_factory=dict)
    """topic → partition count; a topic must exist before it is written or read."""
    max_wait_ms: int = 20
    clock_ms: int = 1_700_000_000_000
    """The next record's timestamp when the sender gives none (advances by 1 a record)."""
    logs: dict[TopicPartition, list[FakeRecord]] = field(default_factory=dict)
    committed: dict[tuple[str, TopicPartition], int] = field(default_factory=dict)
    _appended: asyncio.Event = field(default_factory=asyncio.Event)
    _round_robin: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        for name, count in list(self.topics.items()):
            self.create_topic(name, count)

    # --- the broker ----------------------------------------------------------------------

    def create_topic(self, name: str, partitions: int = 1) -> None:
        self.topics[name] = partitions
        for p in range(partitions):
            self.logs.setdefault(TopicPartition(name, p), [])

    def partitions(self, topic: str) -> list[TopicPartition]:
        if topic not in self.topics:
            raise KeyError(f"no topic {topic} in the fake broker")
        return [TopicPartition(topic, p) for p in range(self.topics[topic])]

    def append(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        partition: int | None = None,
        headers: Headers | None = None,
        timestamp_ms: int | None = None,
    ) -> FakeRecord:
        """Store one record, as a producer's send would, and wake waiting fetches."""
        count = len(self.partitions(topic))
        if partition is None:
            partition = (
                partition_for(key, count) if key is not None else next(self._round_robin) % count
            )
        tp = TopicPartition(topic, partition)
        log = self.logs[tp]
        if timestamp_ms is None:
            timestamp_ms, self.clock_ms = self.clock_ms, self.clock_ms + 1
        record = FakeRecord(
            topic, partition, len(log), key, value, timestamp_ms, tuple(headers or ())
        )
        log.append(record)
        self._appended.set()
        return record

    def records(self, topic: str) -> list[FakeRecord]:
        """Every record of ``topic``, partition by partition, each in offset order."""
        return [r for tp in self.partitions(topic) for r in self.logs[tp]]

    def values(self, topic: str) -> list[bytes | None]:
        return [r.value for r in self.records(topic)]

    async def wait_for_append(self, timeout_ms: int) -> None:
        """Wait for the next append, at most ``min(timeout_ms, max_wait_ms)``."""
        self._appended.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._appended.wait(), min(timeout_ms, self.max_wait_ms) / 1000)

    # --- the transport layer's factories -------------------------------------------------

    def consumer(self, _settings: object = None, *topics: str, **overrides: Any) -> FakeConsumer:
        """As :func:`transport.kafka.consumer`: ``group_id`` and ``auto_offset_reset`` are
        honoured, the other options accepted and ignored."""
        return FakeConsumer(
            self,
            topics,
            group_id=overrides.get("group_id"),
            auto_offset_reset=overrides.get("auto_offset_reset", "earliest"),
        )

    def producer(self, _settings: object = None, **_overrides: Any) -> FakeProducer:
        """As :func:`transport.kafka.producer` (options accepted and ignored)."""
        return FakeProducer(self)


class FakeProducer:
    """Sends append at once; ``fail_with`` makes every later send fail with it."""

    def __init__(self, broker: FakeKafka) -> None:
        self.broker = broker
        self.started = False
        self.stopped = False
        self.fail_with: BaseException | None = None

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def flush(self) -> None:
        return None

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        count = self.broker.topics.get(topic)
        return None if count is None else set(range(count))

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(len(self.broker.partitions(topic))))

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: Headers | None = None,
    ) -> asyncio.Future[FakeMetadata]:
        """Append and return an already settled future (failed with ``fail_with``)."""
        future: asyncio.Future[FakeMetadata] = asyncio.get_running_loop().create_future()
        if self.fail_with is not None:
            future.set_exception(self.fail_with)
            return future
        r = self.broker.append(topic, value, key, partition, headers, timestamp_ms)
        future.set_result(FakeMetadata(r.topic, r.partition, r.offset, r.timestamp))
        return future

    async def send_and_wait(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: Headers | None = None,
    ) -> FakeMetadata:
        return await (await self.send(topic, value, key, partition, timestamp_ms, headers))


class FakeConsumer:
    """A consumer of :class:`FakeKafka`: assigned partitions and their positions; a group
    consumer (``topics`` and ``group_id``) is assigned all their partitions at start."""

    def __init__(
        self,
        broker: FakeKafka,
        topics: Iterable[str] = (),
        group_id: str | None = None,
        auto_offset_reset: str = "earliest",
    ) -> None:
        self.broker = broker
        self.topics = tuple(topics)
        self.group_id = group_id
        self.auto_offset_reset = auto_offset_reset
        self.positions: dict[TopicPartition, int] = {}
        self.commits: list[dict[TopicPartition, int]] = []
        self.stopped = False

    async def start(self) -> None:
        if self.topics:
            self.assign([tp for t in self.topics for tp in self.broker.partitions(t)])

    async def stop(self) -> None:
        self.stopped = True

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        count = self.broker.topics.get(topic)
        return None if count is None else set(range(count))

    def assign(self, partitions: Iterable[TopicPartition]) -> None:
        """As aiokafka's: the new set replaces the old; positions of partitions kept stay."""
        wanted = list(partitions)
        self.positions = {tp: self.positions.get(tp, self._reset(tp)) for tp in wanted}

    def assignment(self) -> set[TopicPartition]:
        return set(self.positions)

    def _reset(self, tp: TopicPartition) -> int:
        committed = self.broker.committed.get((self.group_id or "", tp))
        if self.group_id is not None and committed is not None:
            return committed
        return 0 if self.auto_offset_reset == "earliest" else len(self.broker.logs[tp])

    def seek(self, tp: TopicPartition, offset: int) -> None:
        if tp not in self.positions:
            raise AssertionError(f"seek on {tp}, which is not assigned")
        self.positions[tp] = offset

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]

    async def end_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: len(self.broker.logs[tp]) for tp in partitions}

    async def beginning_offsets(
        self, partitions: Iterable[TopicPartition]
    ) -> dict[TopicPartition, int]:
        return dict.fromkeys(partitions, 0)

    async def offsets_for_times(
        self, timestamps: Mapping[TopicPartition, int]
    ) -> dict[TopicPartition, OffsetAndTimestamp | None]:
        """The first record at or after each time, or None when there is none."""
        found: dict[TopicPartition, OffsetAndTimestamp | None] = {}
        for tp, ms in timestamps.items():
            hit = next((r for r in self.broker.logs[tp] if r.timestamp >= ms), None)
            found[tp] = None if hit is None else OffsetAndTimestamp(hit.offset, hit.timestamp)
        return found

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[FakeRecord]]:
        """Records from the positions on (of ``partitions``, default all assigned), at most
        ``max_records`` in all; with none, wait for an append (see the module docstring).
        Always a turn of the event loop, as a real client's fetch is."""
        await asyncio.sleep(0)
        batches = self._take(partitions or tuple(self.positions), max_records)
        if not batches and timeout_ms > 0:
            await self.broker.wait_for_append(timeout_ms)
            batches = self._take(partitions or tuple(self.positions), max_records)
        return batches

    def _take(
        self, partitions: Sequence[TopicPartition], max_records: int | None
    ) -> dict[TopicPartition, list[FakeRecord]]:
        left = max_records if max_records is not None else 1 << 30
        batches: dict[TopicPartition, list[FakeRecord]] = {}
        for tp in partitions:
            start = self.positions[tp]
            batch = self.broker.logs[tp][start : start + left]
            if batch:
                batches[tp] = batch
                self.positions[tp] = batch[-1].offset + 1
                left -= len(batch)
            if left <= 0:
                break
        return batches

    async def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        """Store the group's offsets (default: the current positions)."""
        if self.group_id is None:
            raise AssertionError("commit without a group_id")
        chosen = dict(offsets if offsets is not None else self.positions)
        self.commits.append(chosen)
        for tp, offset in chosen.items():
            self.broker.committed[(self.group_id, tp)] = offset

    async def committed(self, tp: TopicPartition) -> int | None:
        return self.broker.committed.get((self.group_id or "", tp))
