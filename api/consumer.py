"""The Kafka shell around :mod:`api.projection`: follow the topics, fold, fan out.

Every API process needs *every* partition of the topics it follows (its read model is the
whole fleet), so it assigns partitions itself instead of joining a consumer group, in which
replicas would split them; nothing is committed, and the model is rebuilt on start:

1. the registries (``shipments.registry``, ``finance.facilities``, ``insurance.policies``)
   from the beginning to their current end, so devices map to shipments before readings come;
2. then also ``shipments.events``, ``finance.events`` and ``insurance.claims`` from the
   beginning, and ``tracker.readings`` from ``readings_lookback_s`` ago (the topic keeps two
   weeks of every tracker; the last positions are all the model needs).

``ready`` is set once every partition has reached the end offset it had when step 2 began;
``/readyz`` reports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from api.feed_item import FeedItem
from api.hub import Hub
from api.projection import SOURCE_TOPICS, ReadModel, apply
from api.tracing import FeedTrace, feed_trace
from tradelane.settings import KafkaSettings
from tradelane.topics import (
    FINANCE_FACILITIES,
    INSURANCE_POLICIES,
    SHIPMENTS_REGISTRY,
    TRACKER_READINGS,
)
from transport import kafka as clients
from transport.admin import topic_partitions

log = logging.getLogger(__name__)
REGISTRIES = (SHIPMENTS_REGISTRY.name, FINANCE_FACILITIES.name, INSURANCE_POLICIES.name)
FOLD_TURN_S = 0.05
"""Longest stretch of folding between two turns of the event loop. Shipment events with their
evidence cost milliseconds each: a batch of 5,000 held every request for ~10 s."""
POLL_MS = 200
POLL_RECORDS = 5000
"""One fetch: a short wait, and at most 5,000 records folded before the next turn."""


@dataclass
class ConsumerStats:
    records: int = 0
    last_record_monotonic: float | None = None


class ReadModelConsumer:
    """Keeps a :class:`ReadModel` current from Kafka and publishes what changed to a hub."""

    def __init__(
        self,
        settings: KafkaSettings,
        model: ReadModel,
        hub: Hub,
        readings_lookback_s: int,
        make_consumer: clients.ConsumerFactory | None = None,
    ) -> None:
        """``make_consumer`` builds the consumer (default :func:`transport.kafka.consumer`;
        unit tests pass a double's)."""
        self.settings = settings
        self.make_consumer = make_consumer
        self.model = model
        self.hub = hub
        self.lookback_ms = readings_lookback_s * 1000
        self.ready = asyncio.Event()
        self.stats = ConsumerStats()

    async def run(self, stop: asyncio.Event) -> None:
        consumer = await clients.started_reader(
            self.settings, "api", "the API's read-model consumer", self.make_consumer
        )
        try:
            registries = [tp for t in REGISTRIES for tp in await topic_partitions(consumer, t)]
            consumer.assign(registries)
            await clients.rewind(consumer, *registries)
            await self._read_to_end(consumer, await consumer.end_offsets(registries), stop)
            rest = [
                tp
                for t in SOURCE_TOPICS
                if t not in REGISTRIES
                for tp in await topic_partitions(consumer, t)
            ]
            consumer.assign(registries + rest)
            positions = {tp: await consumer.position(tp) for tp in registries}
            for tp, offset in positions.items():
                consumer.seek(tp, offset)
            await self._seek_rest(consumer, rest)
            ends = await consumer.end_offsets(registries + rest)
            await self._read_to_end(consumer, ends, stop)
            self.ready.set()
            log.info("read model ready: %d shipments", len(self.model.shipments))
            await clients.follow(
                consumer, self._fold, stop, timeout_ms=POLL_MS, max_records=POLL_RECORDS
            )
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _seek_rest(self, consumer: AIOKafkaConsumer, rest: list[TopicPartition]) -> None:
        readings = [tp for tp in rest if tp.topic == TRACKER_READINGS.name]
        others = [tp for tp in rest if tp.topic != TRACKER_READINGS.name]
        if others:
            await clients.rewind(consumer, *others)
        if not readings:
            return
        since = int(time.time() * 1000) - self.lookback_ms
        try:
            found = await consumer.offsets_for_times(dict.fromkeys(readings, since))
        except Exception as exc:  # brokers without time lookups (Tansu): positions from now
            log.warning("no offsets by time (%s): following readings from now", exc)
            found = {}
        for tp in readings:
            hit = found.get(tp)
            if hit is None:
                await clients.fast_forward(consumer, tp)
            else:
                consumer.seek(tp, hit.offset)

    async def _read_to_end(
        self, consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int], stop: asyncio.Event
    ) -> None:
        await clients.read_to_end(
            consumer, ends, self._fold, stop, timeout_ms=POLL_MS, max_records=POLL_RECORDS
        )

    async def _fold(self, batches: clients.Batches) -> None:
        """Fold one fetch into the model and publish what changed, turning the event loop
        every :data:`FOLD_TURN_S` and once at the end."""
        turn = time.monotonic()
        trace = feed_trace() if self.ready.is_set() else None  # live records only
        for tp, records in batches.items():
            for record in records:
                items = apply(self.model, tp.topic, record.value, record.key)
                if items:
                    if trace is None:
                        self.hub.publish(items)
                    else:
                        self._publish_traced(items, tp.topic, record.headers, trace)
                if time.monotonic() - turn > FOLD_TURN_S:
                    await asyncio.sleep(0)  # let the server answer within a long batch
                    turn = time.monotonic()
            self.stats.records += len(records)
        if batches:
            self.stats.last_record_monotonic = time.monotonic()
        await asyncio.sleep(0)  # let the sockets drain between batches

    def _publish_traced(
        self,
        items: list[FeedItem],
        topic: str,
        headers: Sequence[tuple[str, bytes]],
        trace: FeedTrace,
    ) -> None:
        with trace.publishing(topic, headers, len(items)):
            self.hub.publish(items)
