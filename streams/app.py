"""The faust application (``tradelane worker``): a thin shell around the hot path.

Flow:
1. A follower reads the compacted registries (bookings, facilities, policies, FX) to their end
   before any input is processed and keeps them in memory; then it keeps following, and
   forwards live booking updates (and, on catching up, customs clearances) to the shipment's
   partition of the internal topic ``{app}-by-shipment``.
2. The readings agent takes ``tracker.readings`` in batches and routes each record to that
   topic, keyed by shipment id (the one repartition hop); readings of devices no booking names
   are counted. Tracker statuses and insurers' decisions are routed the same way.
3. The shipment agent takes the internal topic in batches (bookings, readings, statuses and
   decisions of one shipment arrive in order on one partition) and hands each batch to
   :class:`streams.hotpath.HotPath`: the shipment core and the insurance engine applied to
   states held in memory (:mod:`streams.store`), one changelog record per changed shipment per
   batch, events to ``shipments.events``, claims to ``insurance.claims``, and pledged
   shipments' events straight to the pledge engine's routing topic.

Every worker started with the same app id joins the same consumer group; partitions (and the
states of their shipments with them) are spread across workers, and move on failover
(:mod:`streams.ownership`). Nothing in a worker assumes it sees every shipment.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import faust
from aiokafka.errors import KafkaError, for_code
from aiokafka.protocol.commit import OffsetFetchRequest
from pydantic import BaseModel

from finance.checkpoints import CheckpointSigner
from finance.collateral_register import Register
from finance.facility_state import FacilityState
from finance.insurance.state import InsuranceState
from finance.ledger_keys import load_signer
from streams.hotpath import BOOKING, HotPath
from streams.lease import hold
from streams.loop import LoopConfig, PartitionLoop
from streams.metrics import WorkerMetrics
from streams.pledge_stage import PledgeStage
from streams.registries import Registries, follow
from streams.rules import DEFAULT_RULES, StreamRules
from tradelane.contracts import DeadLetter, ShipmentBooking, ShipmentEvent
from tradelane.principals import Principal, topics_of
from tradelane.settings import KafkaSettings, LedgerSettings
from tradelane.topics import (
    DAY_MS,
    FINANCE_COMMANDS,
    FINANCE_EVENTS,
    FINANCE_REQUESTS,
    INSURANCE_COMMANDS,
    SHIPMENTS_EVENTS,
    TRACKER_DEADLETTER,
    TRACKER_READINGS,
    TRACKER_STATUS,
    KafkaTopic,
)
from transport import kafka as kafka_clients
from transport.admin import describe_group, ensure_topics, topic_partitions
from transport.kafka import retrying
from transport.metrics import serving

log = logging.getLogger(__name__)

PARTITIONS = SHIPMENTS_EVENTS.partitions


def create_app(
    kafka: KafkaSettings,
    app_id: str = "tradelane-streams",
    rules: StreamRules = DEFAULT_RULES,
    web_port: int | None = None,
    engines: bool = False,
    lease: tuple[str, float] | None = None,
    part: str = "all",
    signer: CheckpointSigner | None = None,
    metrics: WorkerMetrics | None = None,
    metrics_at: tuple[str, int] | None = None,
) -> faust.App:
    """Build the worker's faust app (not started): the registry follower and the loops.
    ``engines``: run the insurance engine in the shipment step and the pledge loop.
    ``lease``: (member, term) of the worker lease this process acquired, kept while it runs
    (:mod:`streams.lease`). ``part``: which loops this process runs (``all``, ``shipments``
    or ``pledge``): two processes, one for each, put the pledge loop's bursts on another core.
    ``signer``: signs the ledger checkpoints of the pledge loop; unset, the key is resolved
    from the settings (:func:`finance.ledger_keys.load_signer`, which refuses a non-loopback
    Kafka without a configured key). ``metrics``: the worker's series (a registry of their own
    when unset), served at ``http://HOST:PORT/metrics`` while the worker runs when
    ``metrics_at`` = (HOST, PORT) is given."""
    app = _faust_app(kafka, app_id, web_port)
    metrics = metrics or WorkerMetrics()
    registries = Registries()
    registry_ready = asyncio.Event()
    loops = []
    if part in ("all", "shipments"):
        hot = _hot_path(registries, app_id, rules, engines)
        config = _config(app, app_id, hot.topics)
        watch = metrics.loop("shipment", hot.stores)
        loops.append(PartitionLoop(kafka, config, hot, registry_ready, watch))
    if engines and part in ("all", "pledge"):
        pledge = PledgeStage(
            registries,
            finance_topic(app_id),
            facilities_changelog(app_id),
            source=f"worker:{pledge_group(app_id)}",
            signer=signer or load_signer(LedgerSettings(), kafka.bootstrap_servers),
        )
        config = _config(app, pledge_group(app_id), pledge.topics)
        watch = metrics.loop("pledge", pledge.stores)
        loops.append(PartitionLoop(kafka, config, pledge, registry_ready, watch))
    follower = _registry_follower(kafka, app, app_id, part, registries, registry_ready, metrics)
    app.task(fatal("the registry follower", follower))
    for loop in loops:
        app.task(fatal(f"loop {loop.config.group}", loop.run))
    if lease is not None:
        app.task(fatal("the lease keeper", _lease_keeper(kafka, app_id, lease)))
    if metrics_at is not None:
        app.task(fatal("the metrics endpoint", _metrics_endpoint(metrics, *metrics_at)))
    return app


def _metrics_endpoint(
    metrics: WorkerMetrics, host: str, port: int
) -> Callable[[], Awaitable[None]]:
    """The task that serves the worker's metrics until the worker stops."""

    async def serve() -> None:
        async with serving(metrics.registry, host, port):
            await asyncio.Event().wait()  # until cancelled

    return serve


def _faust_app(kafka: KafkaSettings, app_id: str, web_port: int | None) -> faust.App:
    """The faust app itself: memory store, the worker's partition count, web only on a port."""
    datadir = Path(".tradelane") / "faust" / app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    return faust.App(
        engines_app_id(app_id),
        **kafka_clients.faust_options(kafka),
        store="memory://",
        # faust makes a data directory even for the memory store; keep it out of the work tree
        datadir=str(datadir),
        topic_partitions=PARTITIONS,
        topic_replication_factor=1,
        web_enabled=web_port is not None,
        web_port=web_port or 6066,
        web_host="127.0.0.1",
    )


def _hot_path(registries: Registries, app_id: str, rules: StreamRules, engines: bool) -> HotPath:
    """The shipment loop's step; with ``engines``, pledged shipments' events go straight to
    the pledge engine's routing topic and the collateral register keeps a changelog."""
    return HotPath(
        registries,
        shipment_topic(app_id),
        (f"{app_id}-shipments-changelog", f"{app_id}-insurance-changelog"),
        finance_topic(app_id) if engines else None,
        rules,
        source=f"worker:{app_id}",
        register_changelog=collateral_changelog(app_id) if engines else None,
    )


def _registry_follower(
    kafka: KafkaSettings,
    app: faust.App,
    app_id: str,
    part: str,
    registries: Registries,
    registry_ready: asyncio.Event,
    metrics: WorkerMetrics,
) -> Callable[[], Awaitable[None]]:
    """The task that follows the registries: bookings forwarded to the shipment's partition
    of the internal topic, records that fail their contract to the dead-letter topic."""
    by_shipment = _raw_topic(app, shipment_topic(app_id), PARTITIONS, internal=True)
    dead_letters = _raw_topic(app, TRACKER_DEADLETTER.name)

    async def forward_booking(record: BaseModel, raw: bytes) -> None:
        # Catching up, only customs clearances travel (they can complete a delivery with no
        # reading to follow); live, every booking update does. Otherwise the shipment step
        # takes the latest booking from memory before each reading.
        if (
            part != "pledge"
            and isinstance(record, ShipmentBooking)
            and (registry_ready.is_set() or record.customs_cleared_at is not None)
        ):
            await by_shipment.send(key=record.shipment_id.encode(), value=BOOKING + raw)

    async def refused(letter: DeadLetter) -> None:
        key = (letter.kafka_topic or "").encode()
        await dead_letters.send(key=key, value=letter.model_dump_json().encode())
        metrics.deadlettered.labels(letter.reason.value).inc()

    async def follow_registries() -> None:
        await follow(
            kafka,
            registries,
            registry_ready,
            forward_booking,
            on_invalid=refused,
            source=f"worker:{app_id}:{part}",
        )

    return follow_registries


def _lease_keeper(
    kafka: KafkaSettings, app_id: str, lease: tuple[str, float]
) -> Callable[[], Awaitable[None]]:
    """The task that keeps the worker lease (member, term) this process acquired."""
    member, term_s = lease

    async def hold_lease() -> None:
        await hold(kafka, app_id, member, term_s)

    return hold_lease


EXIT_CRASHED = 70
"""The worker's exit status when one of its tasks crashed (``EX_SOFTWARE``)."""


def fatal(
    name: str, run: Callable[[], Awaitable[None]], exit: Callable[[int], object] = os._exit
) -> Callable[[], Awaitable[None]]:
    """``run`` as a worker task that takes the process down if it ever ends other than by
    being cancelled. The loops, the follower and the lease keeper run until the worker stops;
    faust logs a task that crashed and keeps the process, so a crashed loop would leave a
    worker that holds its partitions, heartbeats and does nothing (one ``{}`` on
    ``finance.commands`` once stopped every facility's money that way). Exiting (status
    :data:`EXIT_CRASHED`, without a commit or a flush: open transactions are aborted, and the
    next owner re-reads from the last commit) lets a supervisor start a sound worker."""

    async def task() -> None:
        try:
            await run()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            log.critical("%s crashed; the worker exits", name, exc_info=exc)
            print(f"worker: {name} crashed ({exc!r}); exiting", file=sys.stderr, flush=True)
        else:
            log.critical("%s ended; the worker exits", name)
            print(f"worker: {name} ended; exiting", file=sys.stderr, flush=True)
        exit(EXIT_CRASHED)

    task.__name__ = task.__qualname__ = f"fatal_{name.replace(' ', '_')}"
    return task


def _config(app: faust.App, group: str, topics: tuple[str, ...]) -> LoopConfig:
    return LoopConfig(
        group,
        topics,
        session_timeout_ms=int(app.conf.broker_session_timeout * 1000),
        heartbeat_interval_ms=int(app.conf.broker_heartbeat_interval * 1000),
    )


def _raw_topic(
    app: faust.App, name: str, partitions: int | None = None, internal: bool = False
) -> Any:
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
        internal=internal,
    )


def engines_app_id(app_id: str) -> str:
    """faust's own app id in a worker (it consumes nothing itself: the loops do). The
    shipment loop's consumer group is the worker's app id, the pledge loop's
    :func:`pledge_group`."""
    return f"{app_id}-engines"


def pledge_group(app_id: str) -> str:
    """The pledge loop's consumer group."""
    return f"{app_id}-pledge"


def finance_topic(app_id: str) -> str:
    """The pledge engine's routing topic: pledged shipments' events, keyed by facility."""
    return f"{app_id}-finance-in"


def facilities_changelog(app_id: str) -> str:
    return f"{app_id}-facilities-changelog"


def collateral_changelog(app_id: str) -> str:
    """The shipment loop's collateral registers (one pledge per cargo), keyed by shipment."""
    return f"{app_id}-collateral-changelog"


def shipment_topic(app_id: str) -> str:
    """The internal topic that carries every input of a shipment to its partition."""
    return f"{app_id}-by-shipment"


def internal_topics(app_id: str) -> tuple[KafkaTopic, ...]:
    """The worker's own topics: the routing topics and the state changelogs."""
    return (
        KafkaTopic(
            shipment_topic(app_id),
            PARTITIONS,
            "delete",
            ShipmentBooking,
            "shipment_id",
            7 * DAY_MS,
        ),
        KafkaTopic(
            f"{app_id}-shipments-changelog", PARTITIONS, "compact", ShipmentBooking, "shipment_id"
        ),
        KafkaTopic(
            f"{app_id}-insurance-changelog", PARTITIONS, "compact", InsuranceState, "shipment_id"
        ),
        KafkaTopic(collateral_changelog(app_id), PARTITIONS, "compact", Register, "shipment_id"),
        KafkaTopic(
            finance_topic(app_id),
            FINANCE_EVENTS.partitions,
            "delete",
            ShipmentEvent,
            "facility_id",
            7 * DAY_MS,
        ),
        KafkaTopic(
            facilities_changelog(app_id),
            FINANCE_EVENTS.partitions,
            "compact",
            FacilityState,
            "facility_id",
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
    this call is skipped): the readings, statuses and insurers' decisions (the hot loop's
    group) and the finance commands (the pledge agent's group), which a fresh group would
    otherwise replay before it reached the present. ``extra_topics``: internal
    topics of extensions (the engines' routing topics and changelogs)."""
    await ensure_topics(kafka, topics_of(Principal.WORKER))
    await ensure_topics(kafka, (*internal_topics(app_id), *extra_topics))
    if from_now:
        inputs = (TRACKER_READINGS, TRACKER_STATUS, INSURANCE_COMMANDS)
        await _start_at_end(kafka, app_id, tuple(t.name for t in inputs))
        await _start_at_end(
            kafka, pledge_group(app_id), (FINANCE_COMMANDS.name, FINANCE_REQUESTS.name)
        )


async def _start_at_end(kafka: KafkaSettings, group: str, topics: tuple[str, ...]) -> None:
    """Commit the end of ``topics`` for ``group`` if it is new. A group with members is never
    touched: a worker joining (or rejoining after a crash) a running group takes the group's
    positions. Found by the fault suite: a worker started while its group was busy, right
    after a broker restart, read no committed offsets yet, tried to commit and crashed; and,
    later, one that read them while the restarted coordinator was still loading them (the
    consumer reports none then) moved a running group past thousands of unread readings. So
    the group's offsets are asked of the coordinator directly, retrying while it loads."""
    if await _group_has_members(kafka, group) or await _group_has_offsets(kafka, group):
        return
    consumer = await kafka_clients.started(
        lambda: kafka_clients.consumer(kafka, group_id=group), f"a consumer of group {group}"
    )
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


async def _group_has_offsets(kafka: KafkaSettings, group: str) -> bool:
    return bool(await retrying(f"reading {group}'s offsets", lambda: _offsets(kafka, group)))


async def _offsets(kafka: KafkaSettings, group: str) -> list[tuple[str, int]]:
    """The partitions ``group`` has committed on. aiokafka's ``list_consumer_group_offsets``
    drops the answer's group-level error, and a coordinator still loading its offsets after a
    restart answers with that error and no partitions: read as 'no offsets', that moved a
    running group to the end. So the request is sent here and the error raised (retriable)."""
    admin = kafka_clients.admin(kafka)
    await admin.start()
    try:
        coordinator = await admin.find_coordinator(group)
        response = await admin._send_request(OffsetFetchRequest(group, None), coordinator)
        code = getattr(response, "error_code", 0)
        if code:
            raise for_code(code)(f"offsets of group {group}")
        return [
            (topic, partition)
            for topic, partitions in response.topics
            for partition, offset, _metadata, _error in partitions
            if offset >= 0
        ]
    finally:
        await admin.close()
