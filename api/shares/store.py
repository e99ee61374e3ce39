"""Where shares live: the compacted ``api.shares`` topic, folded by every API process.

:class:`ShareBook` is the pure fold (share records in; shares by id and by token hash out).
:class:`KafkaShareStore` is its shell, as :mod:`webhooks.store` is for subscriptions: it
writes a share to Kafka, waits for the acknowledgement, applies it locally (so the creator can
use the link at once on this process), and follows the topic from the beginning, so a link made
on one API process works on every other, and after a restart. A revocation is a newer record
of the same share and final (:func:`api.shares.rules.newer`), so the follower re-reading an
older record late never brings a link back.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from api.shares.rules import newer
from api.shares.tokens import matches, token_sha256, well_formed
from tradelane.contracts.shares import ShipmentShare
from tradelane.settings import KafkaSettings
from tradelane.topics import API_SHARES
from transport import kafka as clients
from transport.admin import topic_partitions

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ShareBook:
    """Current shares by id, indexed by their token's hash."""

    shares: dict[str, ShipmentShare] = field(default_factory=dict)
    by_hash: dict[str, str] = field(default_factory=dict)
    unreadable: int = 0

    def put(self, share: ShipmentShare) -> None:
        if newer(self.shares.get(share.share_id), share):
            self.shares[share.share_id] = share
            self.by_hash[share.token_sha256] = share.share_id

    def delete(self, share_id: str) -> None:
        gone = self.shares.pop(share_id, None)
        if gone is not None:
            self.by_hash.pop(gone.token_sha256, None)

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """Fold one record of ``api.shares``; a tombstone forgets the share, an unreadable
        record is counted and forgets the share its key names (fail closed: the held version
        may be older than the one that did not parse)."""
        if value is None:
            if key is not None:
                self.delete(key.decode(errors="replace"))
            return
        try:
            share = ShipmentShare.model_validate_json(value)
        except ValueError:  # ValidationError, or JSON nested too deep
            self.unreadable += 1
            if key is not None:
                self.delete(key.decode(errors="replace"))
            return
        if key is not None and key.decode(errors="replace") != share.share_id:
            self.unreadable += 1
            return
        self.put(share)

    def by_token(self, presented: str) -> ShipmentShare | None:
        """The share whose token is ``presented`` (live or not), else ``None``."""
        if not well_formed(presented):
            return None
        share_id = self.by_hash.get(token_sha256(presented))
        share = self.shares.get(share_id) if share_id is not None else None
        if share is None or not matches(share.token_sha256, presented):
            return None
        return share

    def of_shipment(self, shipment_id: str) -> list[ShipmentShare]:
        found = [s for s in self.shares.values() if s.shipment_id == shipment_id]
        return sorted(found, key=lambda s: (s.created_at, s.share_id))


class ShareStore:
    """The API's view of shares; this base keeps them in memory only (tests)."""

    def __init__(self) -> None:
        self.book = ShareBook()
        self.ready = asyncio.Event()
        self.ready.set()

    def get(self, share_id: str) -> ShipmentShare | None:
        return self.book.shares.get(share_id)

    async def save(self, share: ShipmentShare) -> None:
        self.book.put(share)

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the topic until ``stop`` (nothing to follow in memory)."""
        await stop.wait()


class KafkaShareStore(ShareStore):
    """Shares kept in ``api.shares``. :attr:`ready` is set once the follower has read up to
    the end the topic had when it started: before that, a valid link might not be known yet,
    and the shared endpoint answers 503 instead of a misleading 404."""

    def __init__(
        self, settings: KafkaSettings, make_consumer: clients.ConsumerFactory | None = None
    ) -> None:
        """``make_consumer`` builds the follower's consumer (default
        :func:`transport.kafka.consumer`; tests pass a double's)."""
        super().__init__()
        self.ready.clear()
        self.settings = settings
        self.make_consumer = make_consumer
        self._producer = clients.LazyProducer(settings)

    async def save(self, share: ShipmentShare) -> None:
        await self._producer.send(
            API_SHARES.name, share.model_dump_json().encode(), share.share_id.encode()
        )
        self.book.put(share)

    async def run(self, stop: asyncio.Event) -> None:
        consumer = await clients.started_reader(
            self.settings, "api-shares", "the API's shipment shares consumer", self.make_consumer
        )
        try:
            parts = await topic_partitions(consumer, API_SHARES.name)
            consumer.assign(parts)
            await clients.rewind(consumer, *parts)
            ends = await consumer.end_offsets(parts)
            await clients.follow(consumer, self._apply, stop, ends, self.ready)
        finally:
            await consumer.stop()
            await self.close()

    async def _apply(self, batches: clients.Batches) -> None:
        for records in batches.values():
            for record in records:
                self.book.apply(record.key, record.value)

    async def close(self) -> None:
        await self._producer.close()
