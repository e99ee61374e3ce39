"""Followers of the compacted registries: every worker reads each of them to its end before
processing anything, then keeps following, and holds the latest record per key in memory.

A compacted topic is small enough to keep whole (one record per shipment, facility, policy,
currency pair) and reading it whole is what makes any worker able to serve any partition.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import BaseModel

from tradelane import deadletters
from tradelane.contracts import DeadLetter, Facility, FxRate, Policy, ShipmentBooking
from tradelane.retry import any_error, retrying
from tradelane.settings import KafkaSettings
from tradelane.topics import FINANCE_FACILITIES, FX_RATES, INSURANCE_POLICIES, SHIPMENTS_REGISTRY
from transport import kafka as clients
from transport.admin import topic_partitions

log = logging.getLogger(__name__)


@dataclass
class Registries:
    devices: dict[str, str] = field(default_factory=dict)
    """device id → shipment id"""
    bookings: dict[str, ShipmentBooking] = field(default_factory=dict)
    facilities: dict[str, Facility] = field(default_factory=dict)
    pledges: dict[str, set[str]] = field(default_factory=dict)
    """shipment id → ids of the facilities it is (or was) pledged to"""
    policies: dict[str, dict[str, Policy]] = field(default_factory=dict)
    """shipment id → policy id → policy"""
    fx: dict[str, FxRate] = field(default_factory=dict)
    invalid: int = 0
    generation: int = 0
    """Counts the records learned: a state fed at this generation knows every record there is."""

    def learn(self, record: BaseModel) -> None:
        self.generation += 1
        if isinstance(record, ShipmentBooking):
            for device in record.trackers:
                self.devices[device] = record.shipment_id
            self.bookings[record.shipment_id] = record
        elif isinstance(record, Facility):
            self.facilities[record.facility_id] = record
            for shipment in record.pledged_shipments:
                self.pledges.setdefault(shipment, set()).add(record.facility_id)
        elif isinstance(record, Policy):
            self.policies.setdefault(record.shipment_id, {})[record.policy_id] = record
        elif isinstance(record, FxRate):
            key = f"{record.base}/{record.quote}"
            current = self.fx.get(key)
            if current is None or record.as_of >= current.as_of:
                self.fx[key] = record


FOLLOWED: dict[str, type[BaseModel]] = {
    SHIPMENTS_REGISTRY.name: ShipmentBooking,
    FINANCE_FACILITIES.name: Facility,
    INSURANCE_POLICIES.name: Policy,
    FX_RATES.name: FxRate,
}

OnLive = Callable[[BaseModel, bytes], Awaitable[None]]
OnInvalid = Callable[[DeadLetter], Awaitable[None]]


async def follow(
    kafka: KafkaSettings,
    registries: Registries,
    ready: asyncio.Event,
    on_record: OnLive | None = None,
    topics: tuple[str, ...] = tuple(FOLLOWED),
    on_invalid: OnInvalid | None = None,
    source: str = "worker",
    make_consumer: Callable[[], AIOKafkaConsumer] | None = None,
) -> None:
    """Load every followed topic, set ``ready``, then keep following (forever).

    ``on_record(record, raw)`` is called for every record after it was learned. A failure (a
    broker that is down when the follower starts, or gone for longer than the client
    retries) starts the follower again from the beginning after a backoff: learning a record
    twice is harmless, and nothing waiting on ``ready`` is left waiting for good. The new
    follower continues after the last record the failed one handled.

    A record that cannot be read, or whose learning raises, is skipped and handed to
    ``on_invalid`` as a dead letter (``source`` says who refused it). Every follower reads
    every registry whole, from the beginning at each start, so the same letter (same id) is
    written again by each process and at each start. ``make_consumer`` builds the
    follower's consumer (default: :func:`transport.kafka.consumer`; tests pass a double).
    """
    positions: dict[TopicPartition, int] = {}

    async def attempt() -> None:
        while True:
            await _follow_once(
                kafka,
                registries,
                ready,
                on_record,
                topics,
                positions,
                on_invalid,
                source,
                make_consumer,
            )

    def again(exc: BaseException, pause_s: float) -> None:
        log.error("registry follower failed (%r); reading again in %.0f s", exc, pause_s)

    await retrying(
        attempt,
        what="registry follower",
        deadline_s=None,
        retriable=any_error,  # a broker gone, or a client past its own retries: read again
        base_s=1.0,
        max_s=30.0,
        on_retry=again,
    )


async def _follow_once(
    kafka: KafkaSettings,
    registries: Registries,
    ready: asyncio.Event,
    on_record: OnLive | None,
    topics: tuple[str, ...],
    positions: dict[TopicPartition, int],
    on_invalid: OnInvalid | None = None,
    source: str = "worker",
    make_consumer: Callable[[], AIOKafkaConsumer] | None = None,
) -> None:
    consumer = await clients.started(
        make_consumer or (lambda: clients.consumer(kafka, auto_offset_reset="latest")),
        "the registry follower",
    )
    try:
        tps = [tp for topic in topics for tp in await topic_partitions(consumer, topic)]
        consumer.assign(tps)
        await clients.rewind(consumer, *(tp for tp in tps if tp not in positions))
        for tp in tps:
            if tp in positions:
                consumer.seek(tp, positions[tp])
        ends = await consumer.end_offsets(tps)
        learn = _Learner(registries, on_record, positions, on_invalid, source)
        if not ready.is_set():
            await clients.read_to_end(consumer, ends, learn)
            ready.set()
            log.info(
                "registries loaded: %d bookings, %d facilities, %d policied shipments",
                len(registries.bookings),
                len(registries.facilities),
                len(registries.policies),
            )
        await clients.follow(consumer, learn)
    finally:
        await consumer.stop()


@dataclass
class _Learner:
    """Learns every record of a fetch, skipping (and dead-lettering) what cannot be."""

    registries: Registries
    on_record: OnLive | None
    positions: dict[TopicPartition, int]
    on_invalid: OnInvalid | None
    source: str

    async def __call__(self, batches: clients.Batches) -> None:
        for tp, batch in batches.items():
            for message in batch:
                self.positions[tp] = message.offset + 1
                if message.value is not None:
                    await self._learn(tp, message)

    async def _learn(self, tp: TopicPartition, message: clients.Record) -> None:
        applying = False
        try:
            record = FOLLOWED[tp.topic].model_validate_json(message.value)
            applying = True
            self.registries.learn(record)
        except Exception as exc:  # unreadable, or unlearnable: skipped
            self.registries.invalid += 1
            if self.on_invalid is not None:
                await self.on_invalid(
                    deadletters.for_error(
                        self.source,
                        tp.topic,
                        tp.partition,
                        message.offset,
                        message.key,
                        message.value,
                        datetime.now(UTC),
                        exc,
                        applying,
                    )
                )
            return
        if self.on_record is not None:
            await self.on_record(record, message.value)
