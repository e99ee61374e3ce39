"""Where webhook subscriptions live: the compacted ``webhooks.subscriptions`` topic.

:class:`SubscriptionBook` is the pure fold (subscription records and delivery-log records in,
current subscriptions and each one's recent deliveries out). :class:`KafkaSubscriptionStore`
is its shell for the API: it writes a change to Kafka, waits for the acknowledgement, applies
it locally (so a client reads its own write), and follows both topics from the beginning so
changes made by another API process or by the worker (a subscription disabled after the retry
limit) show up too. A record never replaces a newer one (``updated_at``), so the follower
re-reading the API's own writes late changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer

from tradelane import kafka as clients
from tradelane.admin import topic_partitions
from tradelane.contracts.webhooks import WebhookDelivery, WebhookSubscription
from tradelane.settings import KafkaSettings
from tradelane.topics import WEBHOOKS_DELIVERIES, WEBHOOKS_SUBSCRIPTIONS

log = logging.getLogger(__name__)
DELIVERIES_KEPT = 200
"""Delivery-log records kept in memory per subscription (the topic keeps 30 days)."""


@dataclass(slots=True)
class SubscriptionBook:
    """Current subscriptions by id, and the latest deliveries of each."""

    subscriptions: dict[str, WebhookSubscription] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    deliveries: dict[str, deque[WebhookDelivery]] = field(default_factory=dict)
    unreadable: int = 0

    def put(self, sub: WebhookSubscription) -> None:
        held = self.subscriptions.get(sub.subscription_id)
        if held is None or held.updated_at <= sub.updated_at:
            self.subscriptions[sub.subscription_id] = sub

    def delete(self, subscription_id: str) -> None:
        self.subscriptions.pop(subscription_id, None)
        self.deleted.add(subscription_id)

    def log(self, delivery: WebhookDelivery) -> None:
        kept = self.deliveries.setdefault(delivery.subscription_id, deque(maxlen=DELIVERIES_KEPT))
        kept.append(delivery)

    def apply(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        """Fold one Kafka record; unreadable records are counted and skipped."""
        try:
            if topic == WEBHOOKS_SUBSCRIPTIONS.name:
                if value is None:
                    if key is not None:
                        self.delete(key.decode())
                    return
                sub = WebhookSubscription.model_validate_json(value)
                if sub.subscription_id not in self.deleted:
                    self.put(sub)
            elif topic == WEBHOOKS_DELIVERIES.name and value is not None:
                self.log(WebhookDelivery.model_validate_json(value))
        except ValueError:
            self.unreadable += 1


class SubscriptionStore:
    """The API's view of subscriptions; this base keeps them in memory only (tests)."""

    def __init__(self) -> None:
        self.book = SubscriptionBook()

    def get(self, subscription_id: str) -> WebhookSubscription | None:
        return self.book.subscriptions.get(subscription_id)

    def all(self) -> list[WebhookSubscription]:
        return sorted(self.book.subscriptions.values(), key=lambda s: s.subscription_id)

    def deliveries(self, subscription_id: str) -> list[WebhookDelivery]:
        return list(self.book.deliveries.get(subscription_id, ()))

    async def save(self, sub: WebhookSubscription) -> None:
        self.book.put(sub)

    async def remove(self, subscription_id: str) -> None:
        self.book.delete(subscription_id)

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the topics until ``stop`` (nothing to follow in memory)."""
        await stop.wait()

    async def close(self) -> None:
        """Release what writing opened (nothing in memory)."""


class KafkaSubscriptionStore(SubscriptionStore):
    """Subscriptions kept in ``webhooks.subscriptions``; deliveries read from
    ``webhooks.deliveries``."""

    def __init__(self, settings: KafkaSettings) -> None:
        super().__init__()
        self.settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def _send(self, key: str, value: bytes | None) -> None:
        async with self._lock:
            if self._producer is None:
                producer = clients.producer(self.settings)
                await producer.start()
                self._producer = producer
        await self._producer.send_and_wait(WEBHOOKS_SUBSCRIPTIONS.name, value, key=key.encode())

    async def save(self, sub: WebhookSubscription) -> None:
        await self._send(sub.subscription_id, sub.model_dump_json().encode())
        self.book.put(sub)

    async def remove(self, subscription_id: str) -> None:
        await self._send(subscription_id, None)
        self.book.delete(subscription_id)

    async def run(self, stop: asyncio.Event) -> None:
        consumer = await clients.started_reader(
            self.settings, "api-webhooks", "the API's webhook subscriptions consumer"
        )
        try:
            parts = [
                tp
                for topic in (WEBHOOKS_SUBSCRIPTIONS.name, WEBHOOKS_DELIVERIES.name)
                for tp in await topic_partitions(consumer, topic)
            ]
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=500)
                for tp, records in batches.items():
                    for record in records:
                        self.book.apply(tp.topic, record.key, record.value)
        finally:
            await consumer.stop()
            await self.close()

    async def close(self) -> None:
        async with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()
