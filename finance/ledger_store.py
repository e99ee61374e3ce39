"""The facility ledger on Kafka: ``finance.ledger``, keyed by facility id, kept forever.

A thin I/O shell around :mod:`finance.ledger`. A facility's entries are the records keyed by
its id; they all land on one partition (the key's murmur2 hash, as every Kafka client
computes it, so the finance worker's producer and this reader agree), in append order. Reading
takes that partition from offset 0 up to its end at the time of the call.

Verification trusts nothing it reads: a record that does not parse as a ledger entry is
reported by offset, and :func:`finance.ledger.verify` then checks the chain. Producer retries
can store an entry twice; identical copies are accepted, anything else fails.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import murmur2
from pydantic import ValidationError

from finance.ledger import Problem, VerifyResult, verify
from tradelane import kafka as clients
from tradelane.contracts.finance import LedgerEntry
from tradelane.settings import KafkaSettings
from tradelane.topics import FINANCE_LEDGER


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
    """Records under the facility's key that are not ledger entries, by offset."""


class LedgerStore:
    """Append to and read back facility ledgers on a Kafka topic."""

    def __init__(
        self, settings: KafkaSettings, topic: str = FINANCE_LEDGER.name, timeout_s: float = 30.0
    ) -> None:
        self.settings = settings
        self.topic = topic
        self.timeout_s = timeout_s

    async def append(self, entries: Sequence[LedgerEntry]) -> None:
        """Produce ``entries`` in order, each to its facility's partition; return once Kafka
        acknowledged all of them (acks=all)."""
        producer = clients.producer(self.settings, client_id=f"{self.settings.client_id}-ledger")
        await producer.start()
        try:
            count = len(await producer.partitions_for(self.topic))
            sent = [
                await producer.send(
                    self.topic,
                    value=entry.model_dump_json().encode(),
                    key=entry.facility_id.encode(),
                    partition=partition_for(entry.facility_id, count),
                )
                for entry in entries
            ]
            await asyncio.gather(*sent)
        finally:
            await producer.stop()

    async def append_raw(self, facility_id: str, value: bytes) -> None:
        """Append arbitrary bytes under a facility's key (what a forger could do; for tests
        and drills that prove verification catches it)."""
        producer = clients.producer(self.settings)
        await producer.start()
        try:
            count = len(await producer.partitions_for(self.topic))
            await producer.send_and_wait(
                self.topic,
                value=value,
                key=facility_id.encode(),
                partition=partition_for(facility_id, count),
            )
        finally:
            await producer.stop()

    async def read(self, facility_id: str) -> StoredLedger:
        """Every record under ``facility_id``'s key, from offset 0 to the current end."""
        consumer = clients.consumer(
            self.settings,
            client_id=f"{self.settings.client_id}-ledger-reader",
            auto_offset_reset="latest",
        )
        await consumer.start()
        try:
            partitions = await self._partitions(consumer)
            tp = TopicPartition(self.topic, partition_for(facility_id, len(partitions)))
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            end = (await consumer.end_offsets([tp]))[tp]
            key = facility_id.encode()
            entries: list[LedgerEntry] = []
            unreadable: list[Problem] = []
            deadline = time.monotonic() + self.timeout_s
            while await consumer.position(tp) < end:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"reading {tp} did not reach offset {end} in time")
                batch = await consumer.getmany(tp, timeout_ms=500)
                for record in batch.get(tp, []):
                    if record.offset >= end or record.key != key:
                        continue
                    try:
                        entries.append(LedgerEntry.model_validate_json(record.value or b""))
                    except ValidationError as exc:
                        reason = f"not a ledger entry ({exc.error_count()} errors)"
                        unreadable.append(Problem(None, None, reason, offset=record.offset))
            return StoredLedger(facility_id, tp.partition, tuple(entries), tuple(unreadable))
        finally:
            await consumer.stop()

    async def _partitions(self, consumer: AIOKafkaConsumer) -> set[int]:
        deadline = time.monotonic() + self.timeout_s
        while True:
            found = consumer.partitions_for_topic(self.topic)
            if found:
                return set(found)
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {self.topic} has no partitions (created?)")
            await consumer._client.force_metadata_update()  # aiokafka has no public call

    async def verify(self, facility_id: str, anchor: tuple[int, str] | None = None) -> VerifyResult:
        """Read the facility's ledger and recompute its chain; unreadable records fail it."""
        stored = await self.read(facility_id)
        result = verify(facility_id, stored.entries, anchor)
        if not stored.unreadable:
            return result
        return VerifyResult(
            facility_id=result.facility_id,
            entries=result.entries,
            duplicates=result.duplicates,
            head_seq=result.head_seq,
            head_hash=result.head_hash,
            problems=stored.unreadable + result.problems,
        )
