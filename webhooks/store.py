"""Where webhook subscriptions live: the compacted ``webhooks.subscriptions`` topic.

:class:`SubscriptionBook` is the pure fold (subscription records and delivery-log records in,
current subscriptions and each one's recent deliveries out). :class:`KafkaSubscriptionStore`
is its shell for the API: it writes a change to Kafka, waits for the acknowledgement, applies
it locally (so a client reads its own write), and follows both topics from the beginning so
changes made by another API process or by the worker (a subscription disabled after the retry
limit) show up too. A record never replaces a newer one (``updated_at``), so the follower
re-reading the API's own writes late changes nothing.

Secrets are sealed on the way to Kafka and opened on the way back (:mod:`webhooks.sealing`);
the book remembers which subscriptions are still stored in plaintext or under an old key, so
``tradelane webhooks --reencrypt`` knows what to rewrite. The store also holds the rules a new
or changed subscription must pass: the destination policy and the per-tenant cap.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field

from tradelane.contracts.webhooks import SubscriberRole, WebhookDelivery, WebhookSubscription
from tradelane.errors import ContractError
from tradelane.settings import KafkaSettings
from tradelane.topics import WEBHOOKS_DELIVERIES, WEBHOOKS_SUBSCRIPTIONS
from transport import kafka as clients
from transport.admin import topic_partitions
from webhooks.pinning import Lookup, check_destination, system_lookup
from webhooks.sealing import SecretBox, box_from_settings, seal, unseal
from webhooks.settings import WebhookSettings

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
    box: SecretBox | None = None
    stale: set[str] = field(default_factory=set)
    """Subscriptions whose stored record is plaintext or sealed under an older key."""

    def put(self, sub: WebhookSubscription, stale: bool = False) -> None:
        held = self.subscriptions.get(sub.subscription_id)
        if held is None or held.updated_at <= sub.updated_at:
            self.subscriptions[sub.subscription_id] = sub
            if stale:
                self.stale.add(sub.subscription_id)
            else:
                self.stale.discard(sub.subscription_id)

    def delete(self, subscription_id: str) -> None:
        self.subscriptions.pop(subscription_id, None)
        self.stale.discard(subscription_id)
        self.deleted.add(subscription_id)

    def owned_by(self, role: SubscriberRole, party: str | None) -> list[WebhookSubscription]:
        return [
            s
            for s in self.subscriptions.values()
            if s.owner_role is role and s.owner_party == party
        ]

    def log(self, delivery: WebhookDelivery) -> None:
        kept = self.deliveries.setdefault(delivery.subscription_id, deque(maxlen=DELIVERIES_KEPT))
        kept.append(delivery)

    def apply(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        """Fold one Kafka record; unreadable records are counted and skipped. A subscription
        whose latest record does not open (another key, tampered) is forgotten until a
        readable one arrives: neither delivered to nor rewritten from an older version."""
        try:
            if topic == WEBHOOKS_SUBSCRIPTIONS.name:
                if value is None:
                    if key is not None:
                        self.delete(key.decode())
                    return
                opened = unseal(value, self.box)
                sub = opened.subscription
                if sub.subscription_id not in self.deleted:
                    self.put(sub, stale=opened.stale)
            elif topic == WEBHOOKS_DELIVERIES.name and value is not None:
                self.log(WebhookDelivery.model_validate_json(value))
        except Exception:  # ValidationError, SealingError, JSON nested too deep: unreadable
            self.unreadable += 1
            if topic == WEBHOOKS_SUBSCRIPTIONS.name and key is not None:
                # the held version may be older than the one that did not open: fail closed
                self.subscriptions.pop(key.decode(errors="replace"), None)
                self.stale.discard(key.decode(errors="replace"))


class CapReachedError(ContractError):
    """A tenant already holds as many subscriptions as it may."""


class SubscriptionStore:
    """The API's view of subscriptions; this base keeps them in memory only (tests)."""

    def __init__(
        self, settings: WebhookSettings | None = None, lookup: Lookup = system_lookup
    ) -> None:
        self.book = SubscriptionBook()
        self.rules = settings or WebhookSettings()
        self.policy = self.rules.address_policy()
        self._lookup = lookup

    async def check_destination(self, url: str) -> None:
        """Refuse (:class:`~webhooks.address.DestinationRefusedError`) a URL the worker would
        not deliver to; checked again at every delivery."""
        await check_destination(url, self.policy, self._lookup)

    def check_cap(self, role: SubscriberRole, party: str | None) -> None:
        """Refuse (:class:`CapReachedError`) a tenant's subscription beyond its cap."""
        cap = self.rules.max_subscriptions_per_tenant
        if len(self.book.owned_by(role, party)) >= cap:
            raise CapReachedError(
                f"this tenant already has {cap} webhook subscriptions, the most it may hold "
                "(TRADELANE_WEBHOOKS_MAX_SUBSCRIPTIONS_PER_TENANT); delete one first"
            )

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

    def __init__(
        self,
        settings: KafkaSettings,
        webhooks: WebhookSettings | None = None,
        box: SecretBox | None = None,
        lookup: Lookup = system_lookup,
        make_consumer: clients.ConsumerFactory | None = None,
    ) -> None:
        """``make_consumer`` builds the readers' consumers (default
        :func:`transport.kafka.consumer`; tests pass a double's)."""
        super().__init__(webhooks, lookup)
        self.settings = settings
        self.make_consumer = make_consumer
        self.box = box or box_from_settings(self.rules, settings)
        self.book.box = self.box
        self._producer = clients.LazyProducer(settings)

    async def _send(self, key: str, value: bytes | None) -> None:
        await self._producer.send(WEBHOOKS_SUBSCRIPTIONS.name, value, key.encode())

    async def save(self, sub: WebhookSubscription) -> None:
        await self._send(sub.subscription_id, seal(sub, self.box))
        self.book.put(sub)

    async def remove(self, subscription_id: str) -> None:
        await self._send(subscription_id, None)
        self.book.delete(subscription_id)

    async def load(self) -> None:
        """Read both topics from the beginning to their current end, once (the CLI's
        re-encryption, which needs every subscription before it writes)."""
        consumer = await clients.started_reader(
            self.settings,
            "webhooks-reencrypt",
            "the webhook re-encryption reader",
            self.make_consumer,
        )
        try:
            parts = await topic_partitions(consumer, WEBHOOKS_SUBSCRIPTIONS.name)
            consumer.assign(parts)
            await clients.rewind(consumer, *parts)
            ends = await consumer.end_offsets(parts)
            await clients.read_to_end(consumer, ends, self._apply)
        finally:
            await consumer.stop()

    async def reencrypt(self) -> int:
        """Write every subscription stored in plaintext or under an older key again, sealed
        under the current key (``updated_at`` kept: the content did not change); return how
        many were rewritten."""
        stale = [self.book.subscriptions[s] for s in sorted(self.book.stale)]
        for sub in stale:
            await self.save(sub)
        return len(stale)

    async def run(self, stop: asyncio.Event) -> None:
        consumer = await clients.started_reader(
            self.settings,
            "api-webhooks",
            "the API's webhook subscriptions consumer",
            self.make_consumer,
        )
        try:
            parts = [
                tp
                for topic in (WEBHOOKS_SUBSCRIPTIONS.name, WEBHOOKS_DELIVERIES.name)
                for tp in await topic_partitions(consumer, topic)
            ]
            consumer.assign(parts)
            await clients.rewind(consumer, *parts)
            await clients.follow(consumer, self._apply, stop)
        finally:
            await consumer.stop()
            await self.close()

    async def _apply(self, batches: clients.Batches) -> None:
        for tp, records in batches.items():
            for record in records:
                self.book.apply(tp.topic, record.key, record.value)

    async def close(self) -> None:
        await self._producer.close()
