"""An explicit, partitioned state store with a coalesced changelog: the worker's live state.

faust's ``Table`` writes one changelog record per assignment and picks the changelog partition
from the event being processed, which rules out batches that span partitions. The hot path
(:mod:`streams.hotpath`) keeps its states here instead:

- states live in memory per input partition, parsed once and mutated in place;
- a batch marks the keys it changed; :meth:`Store.drain` hands back one record per changed key
  (the state serialised once, however many inputs of the batch touched it), which the worker
  produces to a compacted changelog *in the input's partition* before the batch's offsets can be
  committed (faust flushes the producer before every commit and before giving partitions up);
- a partition newly assigned is rebuilt from its changelog before any of its input is applied
  (:func:`recover`); a revoked one is dropped at once, so a partition that comes back is always
  read again from Kafka and never continues from a stale copy in memory.

The store itself does no I/O: recovery and producing are the worker's (thin) shell.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from aiokafka import TopicPartition

from tradelane.settings import KafkaSettings
from transport import kafka as clients

log = logging.getLogger(__name__)

S = TypeVar("S")
Send = tuple[str, bytes, bytes, int | None]
"""A record to produce: (topic, key, value, partition or None for the key's default)."""


@dataclass
class _Partition(Generic[S]):
    raw: dict[bytes, bytes] = field(default_factory=dict)
    """States recovered from the changelog and not yet parsed (parsed on first use)."""
    live: dict[bytes, S] = field(default_factory=dict)
    dirty: set[bytes] = field(default_factory=set)


class Store(Generic[S]):
    """States of type ``S`` by (partition, key); ``parse``/``dump`` convert to the changelog's
    bytes."""

    def __init__(self, parse: Callable[[bytes], S], dump: Callable[[S], bytes]) -> None:
        self._parse, self._dump = parse, dump
        self._partitions: dict[int, _Partition[S]] = {}

    def __contains__(self, partition: int) -> bool:
        """Whether ``partition`` is loaded (assigned and recovered)."""
        return partition in self._partitions

    @property
    def partitions(self) -> frozenset[int]:
        return frozenset(self._partitions)

    def load(self, partition: int, records: Iterable[tuple[bytes, bytes | None]]) -> int:
        """Install ``partition`` from its changelog records, oldest first (a ``None`` value is a
        tombstone); returns how many states it holds."""
        part: _Partition[S] = _Partition()
        for key, value in records:
            if value is None:
                part.raw.pop(key, None)
            else:
                part.raw[key] = value
        self._partitions[partition] = part
        return len(part.raw)

    def drop(self, partitions: Iterable[int]) -> None:
        """Forget ``partitions`` (revoked): their states now belong to another worker."""
        for partition in partitions:
            self._partitions.pop(partition, None)

    def get(self, partition: int, key: bytes) -> S | None:
        part = self._partitions[partition]
        state = part.live.get(key)
        if state is None:
            raw = part.raw.pop(key, None)
            if raw is not None:
                state = part.live[key] = self._parse(raw)
        return state

    def put(self, partition: int, key: bytes, state: S) -> None:
        """``state`` is ``key``'s state now; written to the changelog at the next drain."""
        part = self._partitions[partition]
        part.live[key] = state
        part.dirty.add(key)

    def drain(self) -> Iterator[tuple[int, bytes, bytes]]:
        """(partition, key, bytes) for every state changed since the last drain, once each."""
        for partition, part in self._partitions.items():
            for key in part.dirty:
                yield partition, key, self._dump(part.live[key])
            part.dirty.clear()

    def discard_changes(self) -> set[int]:
        """A batch failed half way: forget every partition it changed (their states may be
        half updated), so they are recovered from their changelogs again. Returns them."""
        touched = {p for p, part in self._partitions.items() if part.dirty}
        self.drop(touched)
        return touched

    def __len__(self) -> int:
        return sum(len(p.live) + len(p.raw) for p in self._partitions.values())


class RawView:
    """One partition of a bytes store as the ``MutableMapping``-like table the engine shells
    (:mod:`finance.shell`) read and write."""

    def __init__(self, store: Store[bytes], partition: int) -> None:
        self._store, self._partition = store, partition

    def get(self, key: bytes, default: bytes | None = None) -> bytes | None:
        value = self._store.get(self._partition, key)
        return default if value is None else value

    def __getitem__(self, key: bytes) -> bytes:
        value = self._store.get(self._partition, key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._store.put(self._partition, key, value)


async def recover(
    kafka: KafkaSettings, topics: Iterable[str], partitions: Iterable[int]
) -> dict[tuple[str, int], list[tuple[bytes, bytes | None]]]:
    """Read ``partitions`` of each of ``topics`` from the beginning to their current end:
    (topic, partition) → [(key, value or None for a tombstone)], oldest first."""
    tps = [TopicPartition(t, p) for t in topics for p in sorted(set(partitions))]
    records: dict[tuple[str, int], list[tuple[bytes, bytes | None]]] = {
        (tp.topic, tp.partition): [] for tp in tps
    }
    if not tps:
        return records
    started = time.perf_counter()
    consumer = clients.consumer(
        kafka,
        auto_offset_reset="latest",
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        await clients.rewind(consumer, *tps)
        ends = await consumer.end_offsets(tps)
        pending = {tp for tp in tps if ends[tp] > 0}
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=1000, max_records=50_000)
            for tp, messages in batches.items():
                got = records[(tp.topic, tp.partition)]
                got += [(m.key, m.value) for m in messages if m.key is not None]
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
    finally:
        await consumer.stop()
    log.info(
        "recovered %d partitions: %d records in %.2f s",
        len(tps),
        sum(len(r) for r in records.values()),
        time.perf_counter() - started,
    )
    return records


async def end_offsets(
    kafka: KafkaSettings, topics: Iterable[str], partitions: Iterable[int]
) -> dict[tuple[str, int], int]:
    """The current end offset of each (topic, partition)."""
    tps = [TopicPartition(t, p) for t in topics for p in partitions]
    consumer = clients.consumer(kafka)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}
