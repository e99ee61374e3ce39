"""The webhook worker on the in-memory Kafka double with a fake HTTP receiver on loopback:
registries loaded, an event routed to the bank that owns its facility, POSTed signed, the
attempt logged to ``webhooks.deliveries`` and the offset committed."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

from aiohttp import web
from aiokafka import TopicPartition
from standardwebhooks import Webhook

from tests.doubles.kafka import FakeKafka
from tests.unit.shells.kafka_topics import broker
from tradelane.contracts import Facility, FinanceEvent, Money
from tradelane.contracts.finance import FINANCE_EVENT_SOURCE, MarginCallCured
from tradelane.contracts.webhooks import SubscriberRole, WebhookDelivery
from tradelane.settings import KafkaSettings
from tradelane.topics import (
    FINANCE_EVENTS,
    FINANCE_FACILITIES,
    WEBHOOKS_DELIVERIES,
    WEBHOOKS_SUBSCRIPTIONS,
)
from webhooks.lifecycle import created
from webhooks.sealing import SecretBox, new_key, seal
from webhooks.settings import WebhookSettings
from webhooks.signing import new_secret
from webhooks.worker import WebhookWorker

USD = Money(amount=Decimal(100), currency="USD")
AT = datetime(2026, 3, 1, tzinfo=UTC)


class Receiver:
    """Verifies each delivery's signature and keeps the events it accepted."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.events: list[dict[str, str]] = []
        self.arrived = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        Webhook(self.secret).verify(body, dict(request.headers), json_parse=False)
        self.events.append(json.loads(body))
        self.arrived.set()
        return web.Response(status=204)


@contextlib.asynccontextmanager
async def serving(receiver: Receiver) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    finally:
        await runner.cleanup()


def _registries(kafka: FakeKafka, box: SecretBox, url: str, secret: str) -> None:
    facility = Facility(
        facility_id="fac-a",
        bank_id="bank-a",
        borrower_id="borrower",
        limit=USD,
        advance_rates={},
        concentration_limit=Decimal(1),
    )
    kafka.append(FINANCE_FACILITIES.name, facility.model_dump_json().encode(), key=b"fac-a")
    sub = created(
        "wh_bankaxxx1",
        SubscriberRole.BANK,
        "bank-a",
        secret,
        AT,
        url=url,
        event_types=["tradelane.finance.*"],
    )
    kafka.append(WEBHOOKS_SUBSCRIPTIONS.name, seal(sub, box), key=b"wh_bankaxxx1")


def _event(facility_id: str) -> bytes:
    event = FinanceEvent(
        id=f"ev-{facility_id}",
        source=FINANCE_EVENT_SOURCE,
        type="tradelane.finance.margin_call_cured.v1",
        subject=facility_id,
        time=AT,
        data=MarginCallCured(
            facility_id=facility_id,
            margin_call_id="mc-1",
            at=AT,
            cured_by="repayment",
            outstanding=USD,
            base=USD,
        ),
    )
    return event.model_dump_json().encode()


async def test_an_event_is_delivered_signed_logged_and_committed() -> None:
    kafka, box, secret = broker(), SecretBox.parse(new_key()), new_secret()
    receiver = Receiver(secret)
    async with serving(receiver) as url:
        _registries(kafka, box, url, secret)
        kafka.append(FINANCE_EVENTS.name, _event("fac-a"), key=b"fac-a")
        kafka.append(FINANCE_EVENTS.name, _event("fac-unknown"), key=b"fac-unknown")
        settings = WebhookSettings(group_id="g", start="earliest", allow_hosts="127.0.0.1")
        worker = WebhookWorker(
            KafkaSettings(),
            settings,
            box=box,
            make_consumer=kafka.consumer,
            make_producer=kafka.producer,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        await asyncio.wait_for(receiver.arrived.wait(), 10)
        for _ in range(1000):  # the attempt's log record wakes this wait, else bounded
            if kafka.records(WEBHOOKS_DELIVERIES.name):
                break
            await kafka.wait_for_append(1000)
        stop.set()
        await asyncio.wait_for(task, 10)
    assert [e["id"] for e in receiver.events] == ["ev-fac-a"]
    [logged] = kafka.records(WEBHOOKS_DELIVERIES.name)
    delivery = WebhookDelivery.model_validate_json(logged.value or b"")
    assert delivery.subscription_id == "wh_bankaxxx1"
    assert worker.stats.delivered == 1
    assert worker.stats.events_read == 2
    committed = {tp: o for (g, tp), o in kafka.committed.items() if g == "g"}
    for record in kafka.records(FINANCE_EVENTS.name):
        tp = TopicPartition(FINANCE_EVENTS.name, record.partition)
        assert committed[tp] == record.offset + 1
