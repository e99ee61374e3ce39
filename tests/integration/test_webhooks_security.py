"""Webhook hardening on the real services (Kafka, a real ``tradelane api`` process, real HTTP
receivers on loopback).

Proven here: the API refuses SSRF destinations and plain http, and a tenant past its
subscription cap; the worker refuses, at delivery time, destinations the API would refuse
(address literals, a name resolving to loopback, a name that rebinds to loopback after it was
checked) without a single request reaching them, and connects to the checked address with the
URL's host name kept; the delivery log tells the subscriber only "non-2xx response", "delivery
failed" or "destination not allowed"; a real delivery verifies with the documented verifiers,
and a forged or replayed one does not; no secret is readable on ``webhooks.subscriptions``;
plaintext records written before sealing still load and ``tradelane webhooks --reencrypt``
seals them; a key rotation loses nothing; one tenant's hanging receiver neither stops the
reader nor delays another tenant's deliveries.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx2 as httpx
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from standardwebhooks import Webhook, WebhookVerificationError

from tests.integration.api_helpers import running_api
from tradelane.contracts import Facility, FinanceEvent, Money
from tradelane.contracts.finance import FINANCE_EVENT_SOURCE, MarginCallCured
from tradelane.contracts.webhooks import SubscriberRole, SubscriptionStatus, WebhookSubscription
from tradelane.settings import KafkaSettings
from tradelane.topics import FINANCE_EVENTS, FINANCE_FACILITIES, WEBHOOKS_SUBSCRIPTIONS
from transport import kafka as clients
from transport.admin import topic_partitions
from webhooks.lifecycle import created
from webhooks.sealing import SecretBox, new_key, unseal
from webhooks.settings import WebhookSettings
from webhooks.signing import (
    NoMatchingSignatureError,
    StaleTimestampError,
    new_secret,
    sign_headers,
    verify,
)
from webhooks.store import KafkaSubscriptionStore
from webhooks.worker import WebhookWorker

pytestmark = pytest.mark.integration
USD = Money(amount=Decimal(100), currency="USD")
FAST = {"retry_base_s": 0.05, "retry_cap_s": 0.2, "timeout_s": 5.0}


async def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass
class Seen:
    """Every request a receiver got, per path: (Host header, headers, body, when)."""

    requests: dict[str, list[tuple[str, dict[str, str], bytes, float]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def total(self) -> int:
        return sum(len(r) for r in self.requests.values())

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests[request.path].append(
            (request.host, dict(request.headers), body, time.monotonic())
        )
        if request.path.startswith("/hang"):
            await self.release.wait()
        if request.path.startswith("/fail"):
            return web.Response(status=500, text="Traceback: internal details")
        return web.Response(status=204)


@contextlib.asynccontextmanager
async def serving(seen: Seen, host: str) -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_post("/{name}", seen.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        seen.release.set()
        await runner.cleanup()


class FakeDns(AbstractResolver):
    """Names the test controls; anything else goes to the system resolver."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names
        self.system = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host not in self.names:
            return await self.system.resolve(host, port, family)
        address = self.names[host]
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": 0,
            }
        ]

    async def close(self) -> None:
        await self.system.close()


def _event(unique: str, facility_id: str, n: int) -> FinanceEvent:
    at = datetime(2026, 3, 1, tzinfo=UTC)
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


async def _facilities(kafka: KafkaSettings, owners: dict[str, str]) -> None:
    producer = clients.producer(kafka, acks="all")
    await producer.start()
    try:
        for fid, bank in owners.items():
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
    finally:
        await producer.stop()


async def _events(kafka: KafkaSettings, events: list[FinanceEvent]) -> None:
    producer = clients.producer(kafka, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                FINANCE_EVENTS.name, event.model_dump_json().encode(), key=event.subject.encode()
            )
    finally:
        await producer.stop()


async def _raw_subscriptions(kafka: KafkaSettings, ids: set[str]) -> dict[str, bytes]:
    """The latest raw value on ``webhooks.subscriptions`` of each of ``ids``."""
    consumer = clients.consumer(kafka, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = await topic_partitions(consumer, WEBHOOKS_SUBSCRIPTIONS.name)
        consumer.assign(parts)
        await clients.rewind(consumer, *parts)
        ends = await consumer.end_offsets(parts)
        found: dict[str, bytes] = {}
        while any([await consumer.position(tp) < end for tp, end in ends.items()]):
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for r in records:
                    if r.key is not None and r.key.decode() in ids and r.value is not None:
                        found[r.key.decode()] = r.value
        return found
    finally:
        await consumer.stop()


def _bank_sub(sid: str, bank: str, url: str, secret: str | None = None) -> WebhookSubscription:
    return created(
        sid,
        SubscriberRole.BANK,
        bank,
        secret or new_secret(),
        datetime.now(UTC),
        url=url,
        event_types=["tradelane.finance.*"],
    )


@contextlib.asynccontextmanager
async def following(kafka: KafkaSettings) -> AsyncIterator[KafkaSubscriptionStore]:
    store = KafkaSubscriptionStore(kafka)
    stop = asyncio.Event()
    task = asyncio.create_task(store.run(stop))
    try:
        yield store
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


@contextlib.asynccontextmanager
async def working(worker: WebhookWorker) -> AsyncIterator[WebhookWorker]:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await wait_for(lambda: worker.ready.is_set() or task.done(), "the worker to be ready")
        assert not task.done(), task.exception()
        yield worker
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_the_worker_refuses_ssrf_at_delivery_and_pins_what_it_checked(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    bank, fid = f"bank-ssrf-{unique}", f"fac-ssrf-{unique}"
    inside, outside = Seen(), Seen()
    closed = socket.socket()
    closed.bind(("127.0.0.2", 0))
    closed_port = closed.getsockname()[1]
    closed.close()  # nothing listens there now: a connection error
    secret = new_secret()
    async with (
        serving(inside, "127.0.0.1") as p1,
        serving(outside, "127.0.0.2") as p2,
        following(kafka_settings) as store,
    ):
        refused = {
            f"wh_lit{unique}": f"http://127.0.0.1:{p1}/lit",
            f"wh_name{unique}": f"https://localhost:{p1}/name",
            f"wh_rebind{unique}": f"https://rebind.test:{p1}/rebind",
            f"wh_v6{unique}": f"https://[::1]:{p1}/v6",
        }
        allowed = {
            f"wh_ok{unique}": f"http://hooks.test:{p2}/ok",
            f"wh_fail{unique}": f"http://hooks.test:{p2}/fail",
            f"wh_closed{unique}": f"http://hooks.test:{closed_port}/closed",
        }
        subs = {
            sid: _bank_sub(sid, bank, url, secret if sid == f"wh_ok{unique}" else None)
            for sid, url in {**refused, **allowed}.items()
        }
        await _facilities(kafka_settings, {fid: bank})
        try:
            for sub in subs.values():
                await store.save(sub)
            settings = WebhookSettings(
                group_id=f"test-ssrf-{unique}",
                max_attempts=2,
                allow_hosts="hooks.test",
                **FAST,  # type: ignore[arg-type]
            )
            dns = FakeDns({"rebind.test": "127.0.0.1", "hooks.test": "127.0.0.2"})
            worker = WebhookWorker(kafka_settings, settings, resolver=dns)

            def settled() -> bool:
                off = [
                    worker.book.subscriptions[s].status is SubscriptionStatus.DISABLED
                    for s in subs
                    if s != f"wh_ok{unique}"
                ]
                return all(off) and len(outside.requests["/ok"]) == 1

            async with working(worker):
                await _events(kafka_settings, [_event(unique, fid, 0)])
                await wait_for(settled, "every subscription delivered or disabled")
            await wait_for(
                lambda: all(len(store.deliveries(s)) >= 2 for s in subs if "_ok" not in s),
                "the delivery log",
            )
        finally:
            for sid in subs:
                await store.remove(sid)

        # nothing reached the loopback receiver the policy refuses
        assert inside.total() == 0
        assert worker.stats.refused == 2 * len(refused)
        # the allowed name was pinned to the address checked, its Host header kept
        host, headers, body, _ = outside.requests["/ok"][0]
        assert host == f"hooks.test:{p2}"
        # the delivery log says what failed, never why in detail
        for sid in refused:
            log = store.deliveries(sid)
            assert {(d.error, d.status_code) for d in log} == {("destination not allowed", None)}
            assert "destination not allowed" in (
                worker.book.subscriptions[sid].disabled_reason or ""
            )
        assert {(d.error, d.status_code) for d in store.deliveries(f"wh_fail{unique}")} == {
            ("non-2xx response", 500)
        }
        assert {(d.error, d.status_code) for d in store.deliveries(f"wh_closed{unique}")} == {
            ("delivery failed", None)
        }

        # the real delivery verifies with both documented verifiers; forged and replayed don't
        stamp = int(headers["webhook-timestamp"])
        assert verify([secret], headers, body, now=time.time()) == headers["webhook-id"]
        Webhook(secret).verify(body, headers, json_parse=False)
        with pytest.raises(StaleTimestampError):
            verify([secret], headers, body, now=stamp + 301)  # the same request, replayed later
        replayed = sign_headers([secret], headers["webhook-id"], stamp - 600, body)
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(body, replayed, json_parse=False)
        forged = sign_headers([new_secret()], headers["webhook-id"], stamp, body)
        with pytest.raises(NoMatchingSignatureError):
            verify([secret], forged, body, now=time.time())
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(body, forged, json_parse=False)
        tampered = body.replace(b"repayment", b"repaymenT")
        with pytest.raises(NoMatchingSignatureError):
            verify([secret], headers, tampered, now=time.time())


async def test_one_tenants_hanging_receiver_delays_no_other_tenant(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    slow_bank, fast_bank = f"bank-slow-{unique}", f"bank-fast-{unique}"
    slow_facilities = {f"fac-slow{n}-{unique}": slow_bank for n in range(30)}
    fast_facilities = {f"fac-fast{n}-{unique}": fast_bank for n in range(5)}
    seen = Seen()
    async with serving(seen, "127.0.0.1") as port, following(kafka_settings) as store:
        slow = _bank_sub(f"wh_slow{unique}", slow_bank, f"http://127.0.0.1:{port}/hang")
        fast = _bank_sub(f"wh_fast{unique}", fast_bank, f"http://127.0.0.1:{port}/fast")
        await _facilities(kafka_settings, {**slow_facilities, **fast_facilities})
        try:
            await store.save(slow)
            await store.save(fast)
            settings = WebhookSettings(
                group_id=f"test-isolation-{unique}",
                allow_hosts="127.0.0.1",
                concurrency=4,
                max_in_flight_per_subscription=2,
                max_pending_per_tenant=20,
                retry_base_s=0.05,
                retry_cap_s=0.2,
                timeout_s=120,  # the hanging receiver holds its requests for the whole test
            )
            async with working(WebhookWorker(kafka_settings, settings)) as worker:
                await _events(kafka_settings, [_event(unique, f, 0) for f in slow_facilities])
                await wait_for(lambda: len(seen.requests["/hang"]) == 2, "the slow requests")
                sent_at = time.monotonic()
                await _events(kafka_settings, [_event(unique, f, 0) for f in fast_facilities])
                await wait_for(
                    lambda: len(seen.requests["/fast"]) == 5, "the fast tenant's deliveries", 15
                )
                latest = max(at for *_, at in seen.requests["/fast"]) - sent_at
                await wait_for(
                    lambda: (
                        worker.book.subscriptions[slow.subscription_id].status
                        is SubscriptionStatus.DISABLED
                    ),
                    "the slow tenant's cap",
                )
                # the slow subscription held two requests at most, and hit its tenant's cap
                assert len(seen.requests["/hang"]) == 2
                reason = worker.book.subscriptions[slow.subscription_id].disabled_reason or ""
                assert "20 undelivered deliveries" in reason
                assert worker.stats.shed >= 1
                assert worker.book.subscriptions[fast.subscription_id].status is (
                    SubscriptionStatus.ACTIVE
                )
        finally:
            await store.remove(slow.subscription_id)
            await store.remove(fast.subscription_id)
    assert latest < 5.0, f"the fast tenant waited {latest:.1f} s behind the slow one"


async def test_secrets_sealed_plaintext_migrated_keys_rotated(
    kafka_settings: KafkaSettings, unique: str, tmp_path: Path
) -> None:
    legacy = _bank_sub(f"wh_legacy{unique}", f"bank-{unique}", "https://bank.example/h")
    producer = clients.producer(kafka_settings, acks="all")
    await producer.start()
    try:  # a record as written before secrets were sealed
        await producer.send_and_wait(
            WEBHOOKS_SUBSCRIPTIONS.name,
            legacy.model_dump_json().encode(),
            key=legacy.subscription_id.encode(),
        )
    finally:
        await producer.stop()
    async with following(kafka_settings) as store:
        await wait_for(lambda: store.get(legacy.subscription_id) == legacy, "the legacy record")
        assert legacy.subscription_id in store.book.stale

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        "webhooks",
        "--reencrypt",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await asyncio.wait_for(proc.communicate(), 120))[0].decode()
    assert "webhooks re-encrypted:" in output, output
    raw = (await _raw_subscriptions(kafka_settings, {legacy.subscription_id}))[
        legacy.subscription_id
    ]
    secret = legacy.secrets[0].secret
    assert secret.encode() not in raw
    assert json.loads(raw)["schema_version"] == 2

    # rotation: a record sealed under OLD opens with NEW,OLD, and --reencrypt's rewrite under
    # NEW opens without OLD
    old, new = new_key(), new_key()
    rotating = _bank_sub(f"wh_rotate{unique}", f"bank-{unique}", "https://bank.example/r")
    writer = KafkaSubscriptionStore(kafka_settings, box=SecretBox.parse(old))
    try:
        await writer.save(rotating)
    finally:
        await writer.close()
    both = KafkaSubscriptionStore(kafka_settings, box=SecretBox.parse(f"{new},{old}"))
    try:
        await both.load()
        assert both.get(rotating.subscription_id) == rotating
        # rewrite this test's record only: others on the shared topic keep the dev key
        both.book.stale &= {rotating.subscription_id, legacy.subscription_id}
        assert both.get(legacy.subscription_id) is None  # sealed under the dev key now
        assert both.book.stale == {rotating.subscription_id}
        assert await both.reencrypt() == 1
    finally:
        await both.close()
    raw = (await _raw_subscriptions(kafka_settings, {rotating.subscription_id}))[
        rotating.subscription_id
    ]
    assert rotating.secrets[0].secret.encode() not in raw
    assert unseal(raw, SecretBox.parse(new)).subscription == rotating
    remover = KafkaSubscriptionStore(kafka_settings)
    try:
        await remover.remove(legacy.subscription_id)
        await remover.remove(rotating.subscription_id)
    finally:
        await remover.close()


def test_the_api_refuses_ssrf_destinations_caps_tenants_and_stores_no_secret(
    kafka_settings: KafkaSettings, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADELANE_WEBHOOKS_ALLOW_HOSTS", "127.0.0.2")
    monkeypatch.setenv("TRADELANE_WEBHOOKS_MAX_SUBSCRIPTIONS_PER_TENANT", "2")
    with running_api(tmp_path, unique) as api:

        def post(key: str, url: str) -> httpx.Response:
            return httpx.post(
                f"{api.url}/api/v1/webhooks",
                json={"url": url, "event_types": ["tradelane.finance.*"]},
                headers={"X-API-Key": key},
                timeout=30,
            )

        bank_a, bank_b = api.keys["bank_a"], api.keys["bank_b"]
        for url in (
            "http://127.0.0.1:8080/hooks",  # loopback, not allow-listed
            "https://127.0.0.1/hooks",
            "https://169.254.169.254/latest/meta-data/",
            "https://10.0.0.1/hooks",
            "https://[::1]/hooks",
            "https://[fc00::1]/hooks",
            "https://localhost/hooks",  # a name resolving to loopback
            "http://bank.example/hooks",  # plain http to a host not allow-listed
        ):
            answer = post(bank_a, url)
            assert answer.status_code == 422, (url, answer.text)
            assert answer.json()["detail"].startswith("url refused: "), url

        made = [post(bank_a, f"http://127.0.0.2:{8000 + n}/hooks") for n in range(2)]
        assert [m.status_code for m in made] == [201, 201], [m.text for m in made]
        over = post(bank_a, "http://127.0.0.2:8009/hooks")
        assert over.status_code == 409
        assert "already has 2 webhook subscriptions" in over.json()["detail"]
        other = post(bank_b, "http://127.0.0.2:8010/hooks")
        assert other.status_code == 201

        created_subs = {m.json()["subscription_id"]: m.json()["secret"] for m in [*made, other]}
        raw = asyncio.run(_raw_subscriptions(kafka_settings, set(created_subs)))
        assert set(raw) == set(created_subs)
        for sid, secret in created_subs.items():
            assert secret.encode() not in raw[sid]
            assert secret.removeprefix("whsec_").encode() not in raw[sid]
            assert json.loads(raw[sid])["secrets"][0]["sealed"]
        for sid in created_subs:
            key = bank_b if sid == other.json()["subscription_id"] else bank_a
            gone = httpx.delete(
                f"{api.url}/api/v1/webhooks/{sid}", headers={"X-API-Key": key}, timeout=30
            )
            assert gone.status_code == 204
