"""Read a topic whole from Kafka, for offline tools (``tradelane finance calendar``, the fault
suite's checks).

This module once replayed a facility's inputs through the pledge engine to give the funding
calendar a state of its own; that made a second truth (today's FX rates, its own input
order) that disagreed with the ledger. No view re-runs the engine any more: balances come
from the ledger's fold (:mod:`finance.positions`), the calendar from the API's read model
(:mod:`finance.calendar`). What stays is the reader.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Protocol

from aiokafka import TopicPartition

from finance.ledger_store import partition_for
from tradelane.settings import KafkaSettings
from transport import kafka as clients


class Record(Protocol):
    """The fields of an aiokafka ``ConsumerRecord`` used here (aiokafka ships no types)."""

    offset: int
    key: bytes | None
    value: bytes | None


async def read_topic(
    settings: KafkaSettings, topic: str, keys: Iterable[str] | None = None, timeout_s: float = 30
) -> list[Record]:
    """Records of ``topic`` from offset 0 to its current end; with ``keys``, only the
    partitions those keys hash to and only records under them."""
    consumer = clients.consumer(settings, auto_offset_reset="latest")
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout_s
        partitions = await clients.partitions(consumer, topic, deadline_s=timeout_s)
        wanted = None if keys is None else {k.encode() for k in keys}
        chosen = (
            sorted(partitions)
            if wanted is None
            else sorted({partition_for(k.decode(), len(partitions)) for k in wanted})
        )
        tps = [TopicPartition(topic, p) for p in chosen]
        if not tps:
            return []
        consumer.assign(tps)
        await clients.rewind(consumer, *tps)
        read = await clients.bounded_read(
            consumer, tps, deadline_s=max(0.0, deadline - time.monotonic())
        )
        return [r for tp in tps for r in read[tp] if wanted is None or r.key in wanted]
    finally:
        await consumer.stop()
