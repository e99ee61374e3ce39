"""The facility ledger on Kafka: ``finance.ledger`` and its signed heads,
``finance.checkpoints``, both keyed by facility id and kept forever.

A thin I/O shell around :mod:`finance.ledger`. A facility's entries are the records keyed by
its id; they all land on one partition (the key's murmur2 hash, as every Kafka client
computes it, so the finance worker's producer and this reader agree), in append order, and so
do its checkpoints on the checkpoint topic. Reading takes both partitions from offset 0 up to
their ends at the time of the call.

Verification trusts nothing it reads: a record that does not parse as a ledger entry (or
checkpoint) is reported by offset, and :func:`finance.ledger.verify` then checks the chain and
the signatures. Producer retries can store an entry or a checkpoint twice; identical copies
are accepted, anything else fails.

The worker writes a batch's entries and their checkpoint in one transaction, but a reader
cannot take the two topics' ends at one instant. So :meth:`LedgerStore.read` reads the
checkpoints first and the ledger second (every checkpoint read then has its entries in the
ledger read), and when the chain's head is newer than the last checkpoint read it reads the
checkpoints on, keeping those that cover the entries it has: a live worker's latest batch is
not mistaken for an unsigned tail, nor its checkpoint for a truncated chain.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.partitioner import murmur2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ValidationError

from finance.checkpoints import CheckpointSigner
from finance.ledger import Problem, VerifyResult, verify
from tradelane.contracts.finance import LedgerCheckpoint, LedgerEntry
from tradelane.settings import KafkaSettings
from tradelane.topics import FINANCE_CHECKPOINTS, FINANCE_LEDGER
from transport import kafka as clients


def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``key`` (Java-compatible murmur2)."""
    hashed: int = murmur2(key.encode())
    return (hashed & 0x7FFFFFFF) % partitions


@dataclass(frozen=True, slots=True)
class StoredLedger:
    facility_id: str
    partition: int
    entries: tuple[LedgerEntry, ...]
    unreadable: tuple[Problem, ...]
    """Records under the facility's key that are not ledger entries (or checkpoints), by
    offset."""
    checkpoints: tuple[LedgerCheckpoint, ...] = field(default=())
    """The facility's signed heads on the checkpoint topic, in storage order."""


def heads(entries: Iterable[LedgerEntry]) -> list[LedgerEntry]:
    """The last entry of each facility in ``entries`` (in order of first appearance): what a
    batch that appended ``entries`` has a checkpoint signed for."""
    last: dict[str, LedgerEntry] = {}
    for entry in entries:
        last[entry.facility_id] = entry
    return list(last.values())


class LedgerStore:
    """Append to and read back facility ledgers and their checkpoints on Kafka."""

    def __init__(
        self,
        settings: KafkaSettings,
        topic: str = FINANCE_LEDGER.name,
        timeout_s: float = 30.0,
        checkpoint_topic: str = FINANCE_CHECKPOINTS.name,
        signer: CheckpointSigner | None = None,
    ) -> None:
        self.settings = settings
        self.topic = topic
        self.checkpoint_topic = checkpoint_topic
        self.timeout_s = timeout_s
        self.signer = signer
        """Signs the heads :meth:`append` writes (``None``: entries only, an unsigned tail)."""

    async def append(self, entries: Sequence[LedgerEntry]) -> None:
        """Produce ``entries`` in order, each to its facility's partition, then (with a signer)
        one checkpoint per facility for the head they leave; return once Kafka acknowledged all
        of them (acks=all)."""
        checkpoints = [self.signer.sign(h) for h in heads(entries)] if self.signer else []
        await self._produce(
            [(self.topic, e.facility_id, e.model_dump_json().encode()) for e in entries]
            + [
                (self.checkpoint_topic, c.facility_id, c.model_dump_json().encode())
                for c in checkpoints
            ]
        )

    async def append_checkpoints(self, checkpoints: Sequence[LedgerCheckpoint]) -> None:
        """Produce checkpoints as they are (tests and drills: a checkpoint signed elsewhere)."""
        await self._produce(
            [
                (self.checkpoint_topic, c.facility_id, c.model_dump_json().encode())
                for c in checkpoints
            ]
        )

    async def append_raw(self, facility_id: str, value: bytes, topic: str | None = None) -> None:
        """Append arbitrary bytes under a facility's key on the ledger (or ``topic``): what a
        forger could do; for tests and drills that prove verification catches it."""
        await self._produce([(topic or self.topic, facility_id, value)])

    async def _produce(self, records: Sequence[tuple[str, str, bytes]]) -> None:
        producer = clients.producer(self.settings, client_id=f"{self.settings.client_id}-ledger")
        await producer.start()
        try:
            counts: dict[str, int] = {}
            sent = []
            for topic, key, value in records:
                if topic not in counts:
                    counts[topic] = len(await producer.partitions_for(topic))
                sent.append(
                    await producer.send(
                        topic,
                        value=value,
                        key=key.encode(),
                        partition=partition_for(key, counts[topic]),
                    )
                )
            await asyncio.gather(*sent)
        finally:
            await producer.stop()

    async def read(self, facility_id: str) -> StoredLedger:
        """Every record under ``facility_id``'s key on both topics, up to their current ends
        (checkpoints first; see the module docstring)."""
        consumer = clients.consumer(
            self.settings,
            client_id=f"{self.settings.client_id}-ledger-reader",
            auto_offset_reset="latest",
        )
        await consumer.start()
        try:
            ledger_tp = await self._partition(consumer, self.topic, facility_id)
            signed_tp = await self._partition(consumer, self.checkpoint_topic, facility_id)
            consumer.assign([ledger_tp, signed_tp])
            reader = _Reader(consumer, facility_id.encode(), self.timeout_s)
            checkpoints = await reader.checkpoints(signed_tp)
            entries = await reader.entries(ledger_tp)
            newest = max((c.seq for c in checkpoints), default=-1)
            if newest > _head(entries):  # its entries' commit may have reached us a hair later
                entries += await reader.entries(ledger_tp)
            if _head(entries) > max((c.seq for c in checkpoints), default=-1):
                head = _head(entries)  # committed after the checkpoints were read: read on
                checkpoints += [c for c in await reader.checkpoints(signed_tp) if c.seq <= head]
            return StoredLedger(
                facility_id,
                ledger_tp.partition,
                tuple(entries),
                tuple(reader.unreadable),
                tuple(checkpoints),
            )
        finally:
            await consumer.stop()

    async def _partition(
        self, consumer: AIOKafkaConsumer, topic: str, facility_id: str
    ) -> TopicPartition:
        found = await clients.partitions(consumer, topic, deadline_s=self.timeout_s)
        return TopicPartition(topic, partition_for(facility_id, len(found)))

    async def verify(
        self,
        facility_id: str,
        anchor: tuple[int, str] | None = None,
        keys: Sequence[Ed25519PublicKey] | None = None,
    ) -> VerifyResult:
        """Read the facility's ledger and checkpoints; recompute the chain and check every
        checkpoint against ``keys`` (default: this machine's signing key, as the worker
        resolves it, :func:`finance.ledger_keys.load_signer`). Unreadable records fail it."""
        if keys is None:
            from finance.ledger_keys import load_signer
            from tradelane.settings import LedgerSettings

            keys = [load_signer(LedgerSettings(), self.settings.bootstrap_servers).public_key]
        stored = await self.read(facility_id)
        result = verify(facility_id, stored.entries, anchor, stored.checkpoints, keys)
        if not stored.unreadable:
            return result
        return VerifyResult(
            facility_id=result.facility_id,
            entries=result.entries,
            duplicates=result.duplicates,
            head_seq=result.head_seq,
            head_hash=result.head_hash,
            problems=stored.unreadable + result.problems,
            signatures=result.signatures,
        )


_M = TypeVar("_M", bound=BaseModel)


def _head(entries: Sequence[LedgerEntry]) -> int:
    return max((e.seq for e in entries), default=-1)


class _Reader:
    """Reads one facility's records from assigned partitions, each on from where it stopped."""

    def __init__(self, consumer: AIOKafkaConsumer, key: bytes, timeout_s: float) -> None:
        self.consumer, self.key, self.timeout_s = consumer, key, timeout_s
        self.next: dict[TopicPartition, int] = {}
        self.unreadable: list[Problem] = []

    async def entries(self, tp: TopicPartition) -> list[LedgerEntry]:
        return await self._parsed(tp, LedgerEntry, "not a ledger entry")

    async def checkpoints(self, tp: TopicPartition) -> list[LedgerCheckpoint]:
        return await self._parsed(tp, LedgerCheckpoint, f"{tp.topic}: not a ledger checkpoint")

    async def _parsed(self, tp: TopicPartition, model: type[_M], what: str) -> list[_M]:
        """The facility's new records of ``tp`` as ``model``; one that is not is reported by
        offset (``what``), never skipped silently."""
        out: list[_M] = []
        for record in await self._records(tp):
            try:
                out.append(model.model_validate_json(record.value or b""))
            except ValidationError as exc:
                reason = f"{what} ({exc.error_count()} errors)"
                self.unreadable.append(Problem(None, None, reason, offset=record.offset))
        return out

    async def _records(self, tp: TopicPartition) -> list[ConsumerRecord[bytes, bytes]]:
        """The facility's records of ``tp`` from where the last call stopped to the current
        end (the last stable offset: only committed transactions)."""
        start = self.next.get(tp)
        end = (await self.consumer.end_offsets([tp]))[tp]
        self.next[tp] = max(start or 0, end)
        if end <= (start or 0):
            return []
        if start is None:  # the log's first offset: records deleted before it were deleted
            await clients.rewind(self.consumer, tp)
        else:
            self.consumer.seek(tp, start)
        read = await clients.bounded_read(self.consumer, [tp], {tp: end}, self.timeout_s)
        return [r for r in read[tp] if r.key == self.key]
