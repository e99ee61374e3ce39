"""The API's subscription store on the real Kafka: a change one API process writes reaches
another through ``webhooks.subscriptions`` (deletes as tombstones), and the delivery log
arrives from ``webhooks.deliveries``."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest

from tradelane.contracts.webhooks import DeliveryOutcome, SubscriberRole, WebhookDelivery
from tradelane.settings import KafkaSettings
from tradelane.topics import WEBHOOKS_DELIVERIES
from transport import kafka as clients
from webhooks.lifecycle import created, rotated
from webhooks.signing import new_secret
from webhooks.store import KafkaSubscriptionStore

pytestmark = pytest.mark.integration


async def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def following(settings: KafkaSettings) -> AsyncIterator[KafkaSubscriptionStore]:
    store = KafkaSubscriptionStore(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(store.run(stop))
    try:
        yield store
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_changes_travel_between_stores(kafka_settings: KafkaSettings, unique: str) -> None:
    now = datetime.now(UTC)
    sub = created(
        f"wh_store{unique}",
        SubscriberRole.INSURER,
        f"ins-{unique}",
        new_secret(),
        now,
        url="https://insurer.example/hooks",
    )
    writer = KafkaSubscriptionStore(kafka_settings)
    async with following(kafka_settings) as reader:
        await writer.save(sub)
        await wait_for(lambda: reader.get(sub.subscription_id) == sub, "the new subscription")

        newer = rotated(sub, new_secret(), now, overlap=timedelta(0))
        await writer.save(newer)
        await wait_for(lambda: reader.get(sub.subscription_id) == newer, "the rotation")

        record = WebhookDelivery(
            subscription_id=sub.subscription_id,
            delivery_id="msg_1",
            event_id="e1",
            event_type="tradelane.insurance.claim_paid.v1",
            subject="pol-1",
            topic="insurance.claims",
            partition=0,
            offset=1,
            attempt=1,
            outcome=DeliveryOutcome.DELIVERED,
            status_code=204,
            at=now,
        )
        producer = clients.producer(kafka_settings)
        await producer.start()
        try:
            await producer.send_and_wait(
                WEBHOOKS_DELIVERIES.name,
                record.model_dump_json().encode(),
                key=sub.subscription_id.encode(),
            )
        finally:
            await producer.stop()
        await wait_for(lambda: reader.deliveries(sub.subscription_id) == [record], "the log")

        await writer.remove(sub.subscription_id)
        await wait_for(lambda: reader.get(sub.subscription_id) is None, "the tombstone")
    await writer.close()
