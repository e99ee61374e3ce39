"""The faust application (``tradelane worker``): a thin shell around :mod:`streams.core`.

Flow:
1. A follower reads ``shipments.registry`` (compacted) to its end before any reading is
   processed and keeps every shipment's latest booking in memory (device → shipment, shipment
   → booking); then it keeps following, and forwards live booking updates (and, on catching up,
   customs clearances) to the shipment's partition of an internal topic.
2. The readings agent routes each ``tracker.readings`` record to the same internal topic, keyed
   by shipment id (the repartition step); readings of devices no booking names are counted.
3. The state agent consumes the internal topic — bookings and readings of one shipment arrive
   in order on one partition — loads the shipment's state from a table, calls the pure core,
   stores the state and sends the events to ``shipments.events``.

Every worker started with the same app id joins the same consumer group; partitions (and the
state table's partitions with them) are spread across workers, and move on failover. Nothing in
a worker assumes it sees every shipment.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from faust.transport.producer import ProducerBuffer
from pydantic import BaseModel, ValidationError

from streams.core import new_state, step
from streams.registries import Registries, follow
from streams.rules import DEFAULT_RULES, StreamRules
from streams.state import ShipmentState
from tradelane.admin import describe_group, ensure_topics, topic_partitions
from tradelane.contracts import IngestedReading, IngestedStatus, ShipmentBooking, ShipmentEvent
from tradelane.settings import KafkaSettings
from tradelane.topics import (
    DAY_MS,
    FINANCE_COMMANDS,
    INSURANCE_COMMANDS,
    SHIPMENTS_EVENTS,
    TRACKER_READINGS,
    TRACKER_STATUS,
    KafkaTopic,
)

log = logging.getLogger(__name__)

PARTITIONS = SHIPMENTS_EVENTS.partitions
PRODUCER_BUFFER_MESSAGES = 20_000
Extension = Callable[[faust.App, str, Registries, asyncio.Event], None]
"""Adds agents to the worker's app (e.g. ``finance.agents.install``), sharing its registries."""
BOOKING, READING, STATUS = b"B", b"R", b"S"


@dataclass
class WorkerStats:
    readings: int = 0
    unrouted: int = 0
    bookings: dict[str, ShipmentBooking] = field(default_factory=dict)
    events: int = 0
    invalid: int = 0
    devices: dict[str, str] = field(default_factory=dict)


def create_app(
    kafka: KafkaSettings,
    app_id: str = "tradelane-streams",
    rules: StreamRules = DEFAULT_RULES,
    web_port: int | None = None,
    extensions: Sequence[Extension] = (),
) -> faust.App:
    """Build the worker's faust app (not started)."""
    # faust stalls every agent once 100 table writes wait to be produced, and drains them one
    # wait of up to 0.1 s at a time: with the pledge and insurance tables that capped the
    # worker at a few hundred readings/s with its CPU mostly idle. Table writes are produced
    # in order either way; a longer queue costs only memory.
    ProducerBuffer.max_messages = PRODUCER_BUFFER_MESSAGES
    datadir = Path(".tradelane") / "faust" / app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        app_id,
        broker=kafka.faust_broker,
        store="memory://",
        # faust makes a data directory even for the memory store; keep it out of the work tree
        datadir=str(datadir),
        topic_partitions=PARTITIONS,
        topic_replication_factor=1,
        web_enabled=web_port is not None,
        web_port=web_port or 6066,
        web_host="127.0.0.1",
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_compression_type=kafka.compression_type,
        broker_commit_every=1000,
        broker_commit_interval=1.0,
    )
    stats = WorkerStats()
    registries = Registries()
    app.tradelane_stats = stats  # type: ignore[attr-defined]
    registry_ready = asyncio.Event()

    readings = app.topic(
        TRACKER_READINGS.name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
    statuses = app.topic(
        TRACKER_STATUS.name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
    by_shipment = app.topic(
        f"{app_id}-by-shipment",
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=PARTITIONS,
        internal=True,
    )
    events = app.topic(
        SHIPMENTS_EVENTS.name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
    table = app.Table("shipments", key_type=bytes, value_type=bytes, partitions=PARTITIONS)

    async def forward_booking(record: BaseModel, raw: bytes) -> None:
        # Catching up, only customs clearances travel (they can complete a delivery with no
        # reading to follow); live, every booking update does. Otherwise the state agent takes
        # the latest booking from memory before each reading.
        if isinstance(record, ShipmentBooking) and (
            registry_ready.is_set() or record.customs_cleared_at is not None
        ):
            await by_shipment.send(key=record.shipment_id.encode(), value=BOOKING + raw)

    @app.task  # type: ignore[untyped-decorator]
    async def follow_registries() -> None:
        await follow(kafka, registries, registry_ready, forward_booking)

    @app.agent(readings)
    async def route(stream: Any) -> None:
        async for key, value in stream.items():
            await registry_ready.wait()
            stats.readings += 1
            device = key.decode() if key else None
            shipment = registries.devices.get(device) if device else None
            if shipment is None:
                try:
                    reading = IngestedReading.model_validate_json(value).reading
                except ValidationError:
                    stats.invalid += 1
                    continue
                shipment = registries.devices.get(reading.device_id)
            if shipment is None:
                stats.unrouted += 1
                continue
            await by_shipment.send(key=shipment.encode(), value=READING + value)

    @app.agent(statuses)
    async def route_status(stream: Any) -> None:
        async for key, value in stream.items():
            await registry_ready.wait()
            shipment = registries.devices.get(key.decode()) if key else None
            if shipment is not None:
                await by_shipment.send(key=shipment.encode(), value=STATUS + value)

    cache: dict[bytes, tuple[bytes, ShipmentState]] = {}
    """Parsed states this process wrote: a state is parsed from the table only when another
    worker (or a restart) wrote it last."""

    @app.agent(by_shipment)
    async def track(stream: Any) -> None:
        async for key, value in stream.items():
            shipment_id = key.decode()
            raw = table.get(key)
            cached = cache.get(key)
            if cached is not None and cached[0] == raw:
                state = cached[1]  # the table still holds what this process last wrote
            else:
                state = ShipmentState.model_validate_json(raw) if raw else new_state(shipment_id)
            try:
                item = _decode(value)
            except ValidationError:
                stats.invalid += 1
                continue
            await registry_ready.wait()
            emitted: list[ShipmentEvent] = []
            latest = registries.bookings.get(shipment_id)
            if (
                latest is not None
                and not isinstance(item, ShipmentBooking)
                and (state.booking != latest)
            ):
                emitted += step(state, latest, rules)
            emitted += step(state, item, rules)
            for event in emitted:
                await events.send(key=key, value=event.model_dump_json().encode())
            stats.events += len(emitted)
            raw = state.model_dump_json().encode()
            table[key] = raw
            cache[key] = (raw, state)

    for extend in extensions:
        extend(app, app_id, registries, registry_ready)
    return app


def _decode(value: bytes) -> IngestedReading | ShipmentBooking | IngestedStatus:
    """The internal topic's values: a one-byte tag, then the record's JSON."""
    tag, body = value[:1], value[1:]
    if tag == BOOKING:
        return ShipmentBooking.model_validate_json(body)
    if tag == STATUS:
        return IngestedStatus.model_validate_json(body)
    return IngestedReading.model_validate_json(body)


def internal_topics(app_id: str) -> tuple[KafkaTopic, ...]:
    """The worker's own topics: the repartition topic and the state table's changelog."""
    return (
        KafkaTopic(
            f"{app_id}-by-shipment",
            PARTITIONS,
            "delete",
            ShipmentBooking,
            "shipment_id",
            7 * DAY_MS,
        ),
        KafkaTopic(
            f"{app_id}-shipments-changelog", PARTITIONS, "compact", ShipmentBooking, "shipment_id"
        ),
    )


async def prepare(
    kafka: KafkaSettings,
    app_id: str,
    from_now: bool = False,
    extra_topics: Sequence[KafkaTopic] = (),
) -> None:
    """Create every topic the worker reads or writes before faust subscribes: a topic faust
    finds missing at subscription is only picked up at a later metadata refresh, which would
    hold the first readings back by minutes.

    ``from_now``: a group that has never committed starts at the current end of the input
    topics instead of replaying their history (committed explicitly, so nothing produced after
    this call is skipped): the readings and statuses, and the inputs of the pledge and
    insurance engines (shipment events and commands), which a fresh group would otherwise
    replay through both engines before it reached the present. ``extra_topics``: internal
    topics of extensions (the engines' routing topics and changelogs)."""
    await ensure_topics(kafka)
    await ensure_topics(kafka, (*internal_topics(app_id), *extra_topics))
    if from_now:
        inputs = (TRACKER_READINGS, TRACKER_STATUS, SHIPMENTS_EVENTS, FINANCE_COMMANDS)
        await _start_at_end(kafka, app_id, (*(t.name for t in inputs), INSURANCE_COMMANDS.name))


async def _start_at_end(kafka: KafkaSettings, group: str, topics: tuple[str, ...]) -> None:
    """Commit the end of ``topics`` for ``group`` if it is new. A group with members is never
    touched: a worker joining (or rejoining after a crash) a running group takes the group's
    positions. Found by the fault suite: a worker started while its group was busy, right
    after a broker restart, read no committed offsets yet, tried to commit and crashed."""
    if await _group_has_members(kafka, group):
        return
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = [tp for topic in topics for tp in await topic_partitions(consumer, topic)]
        consumer.assign(tps)
        committed = {tp: await consumer.committed(tp) for tp in tps}
        if any(offset is not None for offset in committed.values()):
            return  # the group has history: continue where it stopped
        try:
            await consumer.commit(await consumer.end_offsets(tps))
        except KafkaError as exc:  # members joined meanwhile: their positions stand
            log.warning("group %s is active; not moving it to the end (%s)", group, exc)
    finally:
        await consumer.stop()


async def _group_has_members(kafka: KafkaSettings, group: str) -> bool:
    return bool((await describe_group(kafka, group)).get("members"))
