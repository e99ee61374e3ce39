"""Webhook deliveries end to end against the real Kafka and a real HTTP receiver on loopback.

The receiver verifies every delivery with the ``standardwebhooks`` package (an independent
implementation of the signature scheme), refuses tampered and stale requests, de-duplicates on
``webhook-id`` and fails its first requests on purpose. The worker runs in-process with a fast
retry policy. Proven here: every event arrives exactly once in the dedup log, in order per
subject, despite the failures; bank A never receives bank B's events and vice versa; a receiver
that never answers gets its subscription disabled after the retry limit; a replay from a point
in time redelivers the same events under the same ``webhook-id``; with tenant views on, each
bank's ``tenants.*`` topic holds exactly its own facilities' events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import aiohttp
import pytest
from aiohttp import web
from standardwebhooks import Webhook, WebhookVerificationError

from tradelane.contracts import Facility, FinanceEvent, Money
from tradelane.contracts.finance import FINANCE_EVENT_SOURCE, MarginCallCured
from tradelane.contracts.webhooks import SubscriberRole, SubscriptionStatus, WebhookSubscription
from tradelane.settings import KafkaSettings
from tradelane.topics import FINANCE_EVENTS, FINANCE_FACILITIES, KafkaTopic, tenant_topic
from transport import kafka as clients
from transport.admin import topic_partitions
from webhooks.lifecycle import created
from webhooks.settings import WebhookSettings
from webhooks.signing import new_secret, sign_headers
from webhooks.store import KafkaSubscriptionStore
from webhooks.worker import Replay, WebhookWorker

pytestmark = pytest.mark.integration
USD = Money(amount=Decimal(100), currency="USD")


@dataclass
class Receiver:
    """One HTTP endpoint per path, each with its own secret and failure budget."""

    secrets: dict[str, str]
    fail_first: dict[str, int]
    requests: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rejected: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    duplicates: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    log: dict[str, list[dict[str, str]]] = field(default_factory=lambda: defaultdict(list))
    seen: set[tuple[str, str]] = field(default_factory=set)

    async def handle(self, request: web.Request) -> web.Response:
        path = request.path
        body = await request.read()
        try:
            Webhook(self.secrets[path]).verify(body, dict(request.headers), json_parse=False)
        except (WebhookVerificationError, KeyError):
            self.rejected[path] += 1
            return web.Response(status=401)
        self.requests[path] += 1
        if self.fail_first.get(path, 0) > 0:
            self.fail_first[path] -= 1
            return web.Response(status=503)
        msg_id = request.headers["webhook-id"]
        if (path, msg_id) in self.seen:
            self.duplicates[path] += 1
            return web.Response(status=200)
        self.seen.add((path, msg_id))
        event = json.loads(body)
        assert request.headers["content-type"] == "application/cloudevents+json"
        assert event["specversion"] == "1.0"
        self.log[path].append({"id": event["id"], "subject": event["subject"], "msg": msg_id})
        return web.Response(status=204)


@contextlib.asynccontextmanager
async def serving(receiver: Receiver) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/{name}", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def _event(unique: str, facility_id: str, n: int) -> FinanceEvent:
    at = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=n)
    return FinanceEvent(
        id=f"{unique}-{facility_id}-{n}",
        source=FINANCE_EVENT_SOURCE,
        type="tradelane.finance.margin_call_cured.v1",
        subject=facility_id,
        time=at,
        data=MarginCallCured(
            facility_id=facility_id,
            margin_call_id=f"mc-{n}",
            at=at,
            cured_by="repayment",
            outstanding=USD,
            base=USD,
        ),
    )


async def _read_all(settings: KafkaSettings, topic: KafkaTopic, want: int) -> list[bytes]:
    """Every record of ``topic`` from the beginning, once at least ``want`` arrived (and a
    moment more, so an extra record would show)."""
    consumer = clients.consumer(settings, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = await topic_partitions(consumer, topic.name)
        consumer.assign(parts)
        await clients.rewind(consumer, *parts)
        ends = await consumer.end_offsets(parts)
        values: list[bytes] = []
        deadline = time.monotonic() + 30
        while sum(ends.values()) < want or any(
            [await consumer.position(tp) < end for tp, end in ends.items()]
        ):
            assert time.monotonic() < deadline, f"{topic.name}: {len(values)} of {want}"
            for records in (await consumer.getmany(timeout_ms=200)).values():
                values += [r.value for r in records if r.value is not None]
            ends = await consumer.end_offsets(parts)
        return values
    finally:
        await consumer.stop()


async def _run_until(worker: WebhookWorker, condition: Callable[[], bool], what: str) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await wait_for(lambda: worker.ready.is_set() or task.done(), "the worker to be ready")
        await wait_for(lambda: condition() or task.done(), what)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_signed_ordered_isolated_retried_disabled_and_replayed(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    now = datetime.now(UTC)
    banks = {"a": f"bank-a-{unique}", "b": f"bank-b-{unique}", "c": f"bank-c-{unique}"}
    facilities = {
        f"fac-a1-{unique}": banks["a"],
        f"fac-a2-{unique}": banks["a"],
        f"fac-b-{unique}": banks["b"],
        f"fac-c-{unique}": banks["c"],
    }
    secrets = {f"/{name}": new_secret() for name in banks}
    receiver = Receiver(secrets=secrets, fail_first={"/a": 4, "/c": 10_000})
    store = KafkaSubscriptionStore(kafka_settings)
    producer = clients.producer(kafka_settings, acks="all")
    await producer.start()
    subs: dict[str, WebhookSubscription] = {}
    try:
        async with serving(receiver) as base_url:
            for fid, bank in facilities.items():
                facility = Facility(
                    facility_id=fid,
                    bank_id=bank,
                    borrower_id="borrower",
                    limit=USD,
                    advance_rates={},
                    concentration_limit=Decimal(1),
                )
                await producer.send_and_wait(
                    FINANCE_FACILITIES.name, facility.model_dump_json().encode(), key=fid.encode()
                )
            for name, bank in banks.items():
                sub = created(
                    f"wh_{name}{unique}",
                    SubscriberRole.BANK,
                    bank,
                    secrets[f"/{name}"],
                    now,
                    url=f"{base_url}/{name}",
                    event_types=["tradelane.finance.*"],
                )
                await store.save(sub)
                subs[name] = sub

            settings = WebhookSettings(
                group_id=f"test-webhooks-{unique}",
                retry_base_s=0.05,
                retry_cap_s=0.2,
                max_attempts=5,
                timeout_s=5,
                tenant_views=True,
                allow_hosts="127.0.0.1",  # the receiver is on loopback
            )
            worker = WebhookWorker(kafka_settings, settings)
            produced: dict[str, list[str]] = defaultdict(list)
            positions: dict[str, tuple[int, int]] = {}
            before = datetime.now(UTC) - timedelta(seconds=1)

            async def produce_when_ready() -> None:
                await wait_for(worker.ready.is_set, "the worker to be ready")
                for n in range(4):
                    for fid in facilities:
                        event = _event(unique, fid, n)
                        produced[fid].append(event.id)
                        sent = await producer.send_and_wait(
                            FINANCE_EVENTS.name, event.model_dump_json().encode(), key=fid.encode()
                        )
                        positions.setdefault(fid, (sent.partition, sent.offset))

            feeder = asyncio.create_task(produce_when_ready())

            def all_arrived() -> bool:
                return (
                    len(receiver.log["/a"]) == 8
                    and len(receiver.log["/b"]) == 4
                    and worker.stats.gave_up >= 1
                )

            await _run_until(worker, all_arrived, "every delivery and the give-up")
            await feeder

            # exactly once in the dedup log, in order per subject, only the bank's own events
            for name, own in (("a", ("a1", "a2")), ("b", ("b",))):
                log = receiver.log[f"/{name}"]
                own_ids = {f"fac-{o}-{unique}" for o in own}
                assert {e["subject"] for e in log} == own_ids
                for fid in own_ids:
                    assert [e["id"] for e in log if e["subject"] == fid] == produced[fid]
            assert receiver.requests["/a"] >= 8 + 4  # the four failures were retried
            assert receiver.rejected == {}

            # the never-answering receiver's subscription is disabled, with an alert reason
            assert receiver.log["/c"] == []
            disabled_sub = worker.book.subscriptions[subs["c"].subscription_id]
            assert disabled_sub.status is SubscriptionStatus.DISABLED
            assert disabled_sub.disabled_reason is not None
            assert "5 failed attempts" in disabled_sub.disabled_reason
            await wait_for(
                lambda: store.get(subs["c"].subscription_id) is not None, "the store to hold c"
            )

            # per-tenant Kafka views: each bank's topic holds exactly its own facilities' events
            for name, own in (("a", ("a1", "a2")), ("b", ("b",)), ("c", ("c",))):
                view = await _read_all(
                    kafka_settings, tenant_topic("bank", banks[name]), 4 * len(own)
                )
                expected = {e for o in own for e in produced[f"fac-{o}-{unique}"]}
                assert {json.loads(v)["id"] for v in view} == expected

            # replay bank A from a point in time: the same events under the same webhook-ids
            replay = WebhookWorker(
                kafka_settings,
                settings,
                replay=Replay(subs["a"].subscription_id, since=before),
            )
            await _run_until(
                replay, lambda: receiver.duplicates["/a"] >= 8, "the replayed deliveries"
            )
            assert receiver.duplicates["/a"] == 8
            assert receiver.duplicates["/b"] == 0
            assert len(receiver.log["/a"]) == 8

            # replay from an offset: fac-a1's partition from its first event on
            partition, offset = positions[f"fac-a1-{unique}"]
            from_offset = WebhookWorker(
                kafka_settings,
                settings,
                replay=Replay(
                    subs["a"].subscription_id,
                    offsets={(FINANCE_EVENTS.name, partition): offset},
                ),
            )
            await _run_until(
                from_offset, lambda: receiver.duplicates["/a"] >= 12, "the offset replay"
            )
            assert from_offset.stats.delivered >= 4
            assert from_offset.stats.delivered == receiver.duplicates["/a"] - 8
            assert len(receiver.log["/a"]) == 8

            # tampered, stale and forged requests are refused by the receiver
            delivered = receiver.log["/a"][0]
            body = json.dumps({"id": delivered["id"]}).encode()
            stamp = int(time.time())
            good = sign_headers([secrets["/a"]], "msg_x", stamp, body)
            stale = sign_headers([secrets["/a"]], "msg_x", stamp - 600, body)
            forged = sign_headers([new_secret()], "msg_x", stamp, body)
            async with aiohttp.ClientSession() as session:
                for headers, payload in ((good, body + b" "), (stale, body), (forged, body)):
                    async with session.post(
                        f"{base_url}/a", data=payload, headers=headers
                    ) as answer:
                        assert answer.status == 401
            assert receiver.rejected["/a"] == 3
    finally:
        for sub in subs.values():
            await store.remove(sub.subscription_id)
        await producer.stop()
        await store.close()
