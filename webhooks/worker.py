"""The webhook delivery worker: Kafka events in, signed HTTP POSTs out (``tradelane webhooks``).

A thin shell around the pure cores. It follows ``finance.facilities``, ``insurance.policies``
and ``webhooks.subscriptions`` whole (who owns what, who subscribed to what), reads
``finance.events``, ``insurance.claims`` and ``shipments.events`` in its own consumer group
(so a slow or dead receiver never slows the pipeline or the API), routes each event by
:func:`~webhooks.audience.recipients`, queues it per (subscription, subject) in
:class:`~webhooks.retry.Lanes` and POSTs each lane's head, signed with the subscription's
active secrets. Every attempt is logged to ``webhooks.deliveries``. After the retry limit the
subscription is disabled (written back to ``webhooks.subscriptions``) and an alert is logged.

Offsets are committed only up to the first record with an unsettled delivery
(:class:`~webhooks.offsets.OffsetTracker`): a crash redelivers, never loses (at-least-once,
with the same ``webhook-id``).

With tenant views on (``TRADELANE_WEBHOOKS_TENANT_VIEWS``), each event is also copied to the
``tenants.{role}.{party}.{hash}`` topic of every bank, insurer or borrower that may see it
(:func:`tradelane.topics.tenant_topic`), for tenants that consume Kafka rather than webhooks.

Safety: every request goes through the destination policy (:mod:`webhooks.address`) with
the checked addresses pinned for the connection (:mod:`webhooks.pinning`); the delivery log
tells the subscriber only that an attempt failed ("delivery failed", "non-2xx response",
"destination not allowed"), the details go to the operator's log; a subscription has a few
requests in flight at most and is paused by a breaker while it keeps failing; a tenant with
``max_pending_per_tenant`` deliveries queued has its fullest subscription disabled rather than
the reader stopping for everyone. Subscription secrets are sealed at rest
(:mod:`webhooks.sealing`).

Replay (``Replay``) reads the same topics without a group, from a point in time or from given
offsets, up to the end they had when the replay started, for one subscription, then stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
from aiohttp.abc import AbstractResolver
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from opentelemetry.trace import TracerProvider

from tradelane.contracts import Facility, Policy
from tradelane.contracts.webhooks import (
    DeliveryOutcome,
    SubscriptionStatus,
    WebhookDelivery,
    WebhookSubscription,
)
from tradelane.settings import KafkaSettings
from tradelane.topics import (
    FINANCE_FACILITIES,
    INSURANCE_POLICIES,
    WEBHOOKS_DELIVERIES,
    WEBHOOKS_SUBSCRIPTIONS,
    KafkaTopic,
    tenant_topic,
)
from transport import kafka as clients
from transport import tracing
from transport.admin import ensure_topics, topic_partitions
from webhooks.address import DestinationRefusedError, check_url
from webhooks.audience import DELIVERED_TOPICS, Directory, recipients
from webhooks.camt054 import CAMT_TYPES, notice_event
from webhooks.delivery import (
    Delivery,
    EventHead,
    delivery_id,
    request_headers,
    with_traceparent,
)
from webhooks.lifecycle import active_secrets, disabled
from webhooks.metrics import WebhookMetrics
from webhooks.offsets import OffsetTracker
from webhooks.pinning import PinnedResolver, RefusedAddressError
from webhooks.retry import Lanes, Verdict
from webhooks.sealing import SecretBox, box_from_settings, seal
from webhooks.settings import WebhookSettings
from webhooks.store import SubscriptionBook
from webhooks.tracing import delivery_tracing

log = logging.getLogger(__name__)
REGISTRY_TOPICS = (FINANCE_FACILITIES.name, INSURANCE_POLICIES.name, WEBHOOKS_SUBSCRIPTIONS.name)
COMMIT_INTERVAL_S = 1.0
ERROR_TEXT_MAX = 300
FAILED = "delivery failed"
NON_2XX = "non-2xx response"
REFUSED = "destination not allowed"
"""What the delivery log says about a failure: enough for a subscriber to know its receiver
did not take the delivery, nothing that would map what the worker can reach."""


@dataclass(frozen=True, slots=True)
class Replay:
    """Redeliver one subscription's events from ``since`` (event-log time) or from ``offsets``
    ((topic, partition) → offset; partitions not named are not replayed)."""

    subscription_id: str
    since: datetime | None = None
    offsets: dict[tuple[str, int], int] | None = None


@dataclass(slots=True)
class WorkerStats:
    events_read: int = 0
    unreadable: int = 0
    delivered: int = 0
    failed_attempts: int = 0
    gave_up: int = 0
    skipped: int = 0
    refused: int = 0
    shed: int = 0


@dataclass(frozen=True, slots=True)
class _Result:
    delivery: Delivery
    attempt: int
    ok: bool
    skipped: bool = False
    status: int | None = None
    error: str | None = None


@dataclass
class WebhookWorker:
    kafka: KafkaSettings
    settings: WebhookSettings = field(default_factory=WebhookSettings)
    replay: Replay | None = None
    clock: Callable[[], float] = time.time
    directory: Directory = field(default_factory=Directory)
    book: SubscriptionBook = field(default_factory=SubscriptionBook)
    stats: WorkerStats = field(default_factory=WorkerStats)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    box: SecretBox | None = None
    resolver: AbstractResolver | None = None
    """The DNS behind the destination policy (default: the system's); tests fake it."""
    make_consumer: clients.ConsumerFactory = clients.consumer
    make_producer: clients.ProducerFactory = clients.producer
    """Build the Kafka clients (:mod:`transport.kafka`'s; tests pass a double's)."""
    tracer_provider: TracerProvider | None = None
    """Records the delivery spans (default: the global provider, see :mod:`cli.tracing`)."""

    def __post_init__(self) -> None:
        self.lanes: Lanes[Delivery] = Lanes(
            self.settings.policy(),
            breaker=self.settings.breaker(),
            per_subscription=self.settings.max_in_flight_per_subscription,
        )
        self.policy = self.settings.address_policy()
        self._writes: list[WebhookSubscription] = []
        self.offsets = OffsetTracker()
        self._results: asyncio.Queue[_Result] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._sem = asyncio.Semaphore(self.settings.concurrency)
        self._producer: AIOKafkaProducer | None = None
        self._views: list[tuple[KafkaTopic, bytes, bytes]] = []
        self._views_sent: list[asyncio.Future[object]] = []
        self._views_created: set[str] = set()
        self.tracing = delivery_tracing(self.tracer_provider)
        self.metrics = WebhookMetrics(self._pending_by_tenant, self._disabled_count)

    def _pending_by_tenant(self) -> dict[str, int]:
        """Deliveries queued per tenant (every tenant with a subscription, 0 included)."""
        out: dict[str, int] = {}
        for sub in self.book.subscriptions.values():
            tenant = f"{sub.owner_role.value}:{sub.owner_party or ''}"
            out[tenant] = out.get(tenant, 0) + self.lanes.pending(sub.subscription_id)
        return out

    def _disabled_count(self) -> int:
        subs = self.book.subscriptions.values()
        return sum(s.status is SubscriptionStatus.DISABLED for s in subs)

    # --- registries ----------------------------------------------------------------------

    def apply_registry(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        try:
            if topic == WEBHOOKS_SUBSCRIPTIONS.name:
                self.book.apply(topic, key, value)
            elif value is None:
                return
            elif topic == FINANCE_FACILITIES.name:
                self.directory.add_facility(Facility.model_validate_json(value))
            elif topic == INSURANCE_POLICIES.name:
                self.directory.add_policy(Policy.model_validate_json(value))
        except Exception:  # unreadable: counted and skipped, never the worker's end
            self.stats.unreadable += 1

    async def _load_registries(self, consumer: AIOKafkaConsumer) -> None:
        parts = [tp for t in REGISTRY_TOPICS for tp in await topic_partitions(consumer, t)]
        consumer.assign(parts)
        await clients.rewind(consumer, *parts)
        ends = await consumer.end_offsets(parts)
        await clients.read_to_end(consumer, ends, self._apply_registries, timeout_ms=200)

    async def _apply_registries(self, batches: clients.Batches) -> None:
        for tp, records in batches.items():
            for record in records:
                self.apply_registry(tp.topic, record.key, record.value)

    async def _follow_registries(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        await clients.follow(consumer, self._apply_registries, stop)

    # --- routing -------------------------------------------------------------------------

    def _subscriptions(self) -> list[WebhookSubscription]:
        subs = list(self.book.subscriptions.values())
        if self.replay is not None:
            subs = [s for s in subs if s.subscription_id == self.replay.subscription_id]
        return subs

    def route(
        self,
        topic: str,
        partition: int,
        offset: int,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> int:
        """Queue one event for every subscription that receives it (and its camt.054 notice
        for those that asked); return how many deliveries were queued. The trace context in
        the record's ``headers`` goes with each delivery (:mod:`webhooks.tracing`)."""
        self.stats.events_read += 1
        tp = (topic, partition)
        try:
            head = EventHead.model_validate_json(value or b"")
        except Exception:  # unreadable: counted and skipped, never the worker's end
            self.stats.unreadable += 1
            self.offsets.read(tp, offset, 0)
            return 0
        targets = recipients(self.directory, self._subscriptions(), topic, head.type, head.subject)
        body = value or b""
        notice: bytes | None = None
        if head.type in CAMT_TYPES and any(s.camt054 for s in targets):
            with contextlib.suppress(ValueError):
                notice = notice_event(json.loads(body))
        origin = tracing.traceparent(headers) if headers else None
        deliveries: list[Delivery] = []
        for sub in targets:
            if not self._room_for(sub):
                self.stats.shed += 1
                continue
            bodies = [(head.id, body)]
            if sub.camt054 and notice is not None:
                bodies.append((json.loads(notice)["id"], notice))
            for event_id, payload in bodies:
                deliveries.append(
                    Delivery(
                        subscription_id=sub.subscription_id,
                        delivery_id=delivery_id(event_id, sub.subscription_id),
                        event_id=event_id,
                        event_type=head.type,
                        subject=head.subject,
                        topic=topic,
                        partition=partition,
                        offset=offset,
                        body=with_traceparent(payload, origin),
                        traceparent=origin,
                    )
                )
        self.offsets.read(tp, offset, len(deliveries))
        if self.settings.tenant_views and self.replay is None:
            tenants = self.directory.tenants(topic, head.subject)
            for tenant in sorted(tenants, key=lambda t: (t.role, t.party)):
                view = tenant_topic(tenant.role.value, tenant.party)
                self._views.append((view, head.subject.encode(), body))
        now = self.clock()
        for delivery in deliveries:
            self.lanes.push((delivery.subscription_id, head.subject), delivery, now)
        return len(deliveries)

    def _room_for(self, sub: WebhookSubscription) -> bool:
        """Whether ``sub``'s tenant may queue one more delivery. At the cap, the tenant's
        subscription with the most queued deliveries (usually the one whose receiver is down)
        is disabled and its queue dropped, so the tenant's own other subscriptions go on and
        no other tenant waits; the owner re-enables it and replays (docs/webhooks.md)."""
        own = self.book.owned_by(sub.owner_role, sub.owner_party)
        cap = self.settings.max_pending_per_tenant
        if sum(self.lanes.pending(s.subscription_id) for s in own) < cap:
            return True
        fullest = max(own, key=lambda s: (self.lanes.pending(s.subscription_id), s.subscription_id))
        reason = (
            f"disabled: its tenant reached {cap} undelivered deliveries "
            "(TRADELANE_WEBHOOKS_MAX_PENDING_PER_TENANT); re-enable and replay from "
            f"{datetime.fromtimestamp(self.clock(), UTC).isoformat(timespec='seconds')}"
        )
        self._disable_now(fullest.subscription_id, reason, self.clock())
        return fullest.subscription_id != sub.subscription_id

    # --- attempts ------------------------------------------------------------------------

    async def _attempt(self, session: aiohttp.ClientSession, d: Delivery, attempt: int) -> None:
        sub = self.book.subscriptions.get(d.subscription_id)
        if sub is None or sub.status is not SubscriptionStatus.ACTIVE:
            self._results.put_nowait(_Result(d, attempt, ok=False, skipped=True))
            return
        try:
            check_url(sub.url, self.policy)
        except DestinationRefusedError as exc:
            self._refused(d, attempt, str(exc))
            return
        if attempt > 1:
            self.metrics.retries.inc()
        async with self._sem:
            now = self.clock()
            secrets = active_secrets(sub, datetime.fromtimestamp(now, UTC))
            headers = request_headers(d, secrets, int(now))
            if self.tracing is not None:
                self.tracing.carry(headers)
            status: int | None = None
            detail: str | None = None
            started = time.perf_counter()
            try:
                async with session.post(
                    sub.url, data=d.body, headers=headers, allow_redirects=False
                ) as response:
                    status = response.status
                    await response.read()
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                if _refused_address(exc):
                    self._refused(d, attempt, str(exc))
                    return
                detail = f"{type(exc).__name__}: {exc}"[:ERROR_TEXT_MAX]
            finally:
                self.metrics.delivery_seconds.observe(time.perf_counter() - started)
        ok = status is not None and 200 <= status < 300
        error = None if ok else (FAILED if status is None else NON_2XX)
        if self.tracing is not None:
            self.tracing.answered(status, error)
        if not ok:
            log.warning(
                "webhook %s attempt %d to subscription %s failed: %s",
                d.delivery_id,
                attempt,
                d.subscription_id,
                detail or f"HTTP {status}",
            )
        self._results.put_nowait(_Result(d, attempt, ok, status=status, error=error))

    def _refused(self, d: Delivery, attempt: int, why: str) -> None:
        self.stats.refused += 1
        log.warning(
            "webhook %s to subscription %s refused by the destination policy: %s",
            d.delivery_id,
            d.subscription_id,
            why,
        )
        self._results.put_nowait(_Result(d, attempt, ok=False, error=REFUSED))

    def _launch_due(self, session: aiohttp.ClientSession) -> None:
        for _lane, delivery, attempt in self.lanes.due(self.clock()):
            run = self._attempt(session, delivery, attempt)
            if self.tracing is None:
                task = asyncio.create_task(run)
            else:
                task = self.tracing.start(run, delivery, attempt)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _settle(self, result: _Result) -> None:
        d = result.delivery
        lane = (d.subscription_id, d.subject)
        now = self.clock()
        if self.lanes.head(lane) is not d:
            return  # its subscription was dropped while this attempt ran: already settled
        if result.skipped:
            for dropped in self.lanes.drop_subscription(d.subscription_id):
                self.offsets.settle((dropped.topic, dropped.partition), dropped.offset)
                self.stats.skipped += 1
                self.metrics.deliveries.labels("skipped").inc()
            return
        step = self.lanes.record(lane, d.delivery_id, result.ok, now)
        outcome = {
            Verdict.DELIVERED: DeliveryOutcome.DELIVERED,
            Verdict.RETRY: DeliveryOutcome.FAILED,
            Verdict.GIVE_UP: DeliveryOutcome.GAVE_UP,
        }[step.verdict]
        await self._log(result, outcome, now, step.next_at)
        self.metrics.deliveries.labels(outcome.value).inc()
        if step.verdict is Verdict.RETRY:
            self.stats.failed_attempts += 1
            return
        self.offsets.settle((d.topic, d.partition), d.offset)
        if step.verdict is Verdict.DELIVERED:
            self.stats.delivered += 1
            return
        self.stats.gave_up += 1
        await self._disable(d.subscription_id, result, now)

    async def _disable(self, subscription_id: str, result: _Result, now: float) -> None:
        reason = (
            f"disabled after {result.attempt} failed attempts to deliver "
            f"{result.delivery.delivery_id} ({result.error})"
        )
        self._disable_now(subscription_id, reason, now)
        await self._write_back()

    def _disable_now(self, subscription_id: str, reason: str, now: float) -> None:
        """Disable in memory at once (its queue dropped, its offsets settled); the record is
        written back to Kafka by :meth:`_write_back`."""
        log.error("ALERT webhook subscription %s %s", subscription_id, reason)
        for dropped in self.lanes.drop_subscription(subscription_id):
            self.offsets.settle((dropped.topic, dropped.partition), dropped.offset)
            self.stats.skipped += 1
        sub = self.book.subscriptions.get(subscription_id)
        if sub is None:
            return
        off = disabled(sub, reason, datetime.fromtimestamp(now, UTC))
        self.book.put(off)
        self._writes.append(off)

    async def _write_back(self) -> None:
        writes, self._writes = self._writes, []
        if self._producer is None or not writes:
            return
        box = self.book.box
        assert box is not None, "the worker's book opens sealed records once it runs"
        for off in writes:
            await self._producer.send_and_wait(
                WEBHOOKS_SUBSCRIPTIONS.name, seal(off, box), key=off.subscription_id.encode()
            )

    async def _log(
        self, result: _Result, outcome: DeliveryOutcome, now: float, next_at: float | None
    ) -> None:
        d = result.delivery
        record = WebhookDelivery(
            subscription_id=d.subscription_id,
            delivery_id=d.delivery_id,
            event_id=d.event_id,
            event_type=d.event_type,
            subject=d.subject,
            topic=d.topic,
            partition=d.partition,
            offset=d.offset,
            attempt=result.attempt,
            outcome=outcome,
            status_code=result.status,
            error=result.error,
            at=datetime.fromtimestamp(now, UTC),
            next_attempt_at=None if next_at is None else datetime.fromtimestamp(next_at, UTC),
        )
        if self._producer is not None:
            await self._producer.send(
                WEBHOOKS_DELIVERIES.name,
                record.model_dump_json().encode(),
                key=d.subscription_id.encode(),
            )

    # --- tenant views --------------------------------------------------------------------

    async def _write_views(self) -> None:
        """Send the tenant-view copies routed so far (acknowledged before the next commit)."""
        if not self._views or self._producer is None:
            return
        new = {t.name: t for t, _, _ in self._views if t.name not in self._views_created}
        if new:
            await ensure_topics(self.kafka, tuple(new.values()))
            self._views_created.update(new)
        for view, key, value in self._views:
            self._views_sent.append(await self._producer.send(view.name, value, key=key))
        self._views.clear()

    async def _flush_views(self) -> None:
        sent, self._views_sent = self._views_sent, []
        if sent:
            await asyncio.gather(*sent)

    # --- the loop ------------------------------------------------------------------------

    def _events_consumer(self) -> AIOKafkaConsumer:
        if self.replay is not None:
            return self.make_consumer(
                self.kafka,
                client_id=f"{self.kafka.client_id}-webhooks-replay",
                auto_offset_reset="latest",
            )
        return self.make_consumer(
            self.kafka,
            *DELIVERED_TOPICS,
            group_id=self.settings.group_id,
            auto_offset_reset=self.settings.start,
            client_id=f"{self.kafka.client_id}-webhooks",
        )

    async def _seek_replay(self, consumer: AIOKafkaConsumer) -> dict[TopicPartition, int]:
        assert self.replay is not None
        parts = [tp for t in DELIVERED_TOPICS for tp in await topic_partitions(consumer, t)]
        consumer.assign(parts)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(parts)
        if self.replay.since is not None:
            ms = int(self.replay.since.timestamp() * 1000)
            found = await consumer.offsets_for_times(dict.fromkeys(parts, ms))
            for tp in parts:
                hit = found.get(tp)
                consumer.seek(tp, hit.offset if hit is not None else ends[tp])
        else:
            wanted = self.replay.offsets or {}
            for tp in parts:
                consumer.seek(tp, min(wanted.get((tp.topic, tp.partition), ends[tp]), ends[tp]))
        return ends

    async def run(self, stop: asyncio.Event) -> None:
        if self.book.box is None:
            self.book.box = self.box or box_from_settings(self.settings, self.kafka)
        registries = await clients.started_reader(
            self.kafka,
            "webhooks-registries",
            "the webhook worker's registry consumer",
            self.make_consumer,
        )
        producer: AIOKafkaProducer | None = None
        events: AIOKafkaConsumer | None = None
        follower: asyncio.Task[None] | None = None
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout_s)
        try:
            producer = await clients.started(
                lambda: self.make_producer(self.kafka), "the webhook worker's producer"
            )
            self._producer = producer
            await self._load_registries(registries)
            follower = asyncio.create_task(self._follow_registries(registries, stop))
            events = await clients.started(self._events_consumer, "the webhook event consumer")
            ends = await self._seek_replay(events) if self.replay is not None else None
            if ends is not None:
                self.ready.set()
            connector = aiohttp.TCPConnector(
                resolver=PinnedResolver(self.policy, self.resolver),
                limit=self.settings.concurrency,
            )
            async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
                await self._loop(events, session, stop, ends)
        finally:
            for task in list(self._tasks):
                task.cancel()
            if follower is not None:
                follower.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await follower
            if events is not None:
                await events.stop()
            await registries.stop()
            if producer is not None:
                await producer.stop()
            self._producer = None

    async def _loop(
        self,
        events: AIOKafkaConsumer,
        session: aiohttp.ClientSession,
        stop: asyncio.Event,
        ends: dict[TopicPartition, int] | None,
    ) -> None:
        last_commit = self.clock()
        while not stop.is_set():
            if len(self.lanes) < self.settings.max_pending:
                batches = await events.getmany(timeout_ms=100, max_records=1000)
                for tp, records in batches.items():
                    for record in records:
                        if ends is None or record.offset < ends[tp]:
                            self.route(
                                tp.topic, tp.partition, record.offset, record.value, record.headers
                            )
                await self._write_views()
                await self._write_back()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._next_result(), 0.1)
            if ends is None and not self.ready.is_set() and events.assignment():
                for tp in events.assignment():
                    await events.position(tp)
                self.ready.set()
            while not self._results.empty():
                await self._settle(self._results.get_nowait())
            self._launch_due(session)
            if ends is None and self.clock() - last_commit >= COMMIT_INTERVAL_S:
                await self._commit(events)
                last_commit = self.clock()
            if ends is not None and await self._replay_done(events, ends):
                return
        if ends is None:
            await self._commit(events)

    async def _next_result(self) -> None:
        result = await self._results.get()
        await self._settle(result)

    async def _replay_done(self, events: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
        if len(self.lanes) or self._tasks or not self._results.empty():
            return False
        return all([await events.position(tp) >= end for tp, end in ends.items()])

    async def _commit(self, events: AIOKafkaConsumer) -> None:
        await self._flush_views()
        assigned = events.assignment()
        points = {
            TopicPartition(t, p): offset
            for (t, p), offset in self.offsets.commit_points().items()
            if TopicPartition(t, p) in assigned
        }
        if not points:
            return
        try:
            await events.commit(points)
        except Exception:  # a rebalance in progress: the next commit carries the same points
            log.warning("webhook offsets not committed this time", exc_info=True)


def _refused_address(exc: BaseException) -> bool:
    """Whether an aiohttp error was our resolver refusing an address (possibly wrapped)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, RefusedAddressError):
            return True
        seen.add(id(current))
        inner = getattr(current, "os_error", None)
        current = (
            inner
            if isinstance(inner, BaseException)
            else (current.__cause__ or current.__context__)
        )
    return False
