"""Publishing the simulated shipments to ``shipments.registry`` so the pipeline knows them.

The registry is a compacted topic keyed by ``shipment_id``: each booking is sent once before the
first reading, and again (the whole booking, latest wins) when the shipment clears customs.
The producer waits for ``acks=all`` and is idempotent unless the broker refuses idempotence
(``TRADELANE_KAFKA_IDEMPOTENCE=false``, e.g. the embedded Tansu).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from tradelane.contracts import ShipmentBooking
from tradelane.settings import KafkaSettings
from tradelane.topics import SHIPMENTS_REGISTRY
from transport import kafka as clients
from transport.admin import ensure_topics
from transport.probes import kafka_ready_async

log = logging.getLogger(__name__)


async def reachable(settings: KafkaSettings, timeout_s: float = 3.0) -> bool:
    """Does Kafka answer a metadata request? (``--bookings auto`` decides with this.)"""
    return await kafka_ready_async(settings, timeout_s)


class BookingPublisher:
    """An idempotent producer for ``shipments.registry``."""

    def __init__(self, settings: KafkaSettings, client_id: str = "tradelane-simulator") -> None:
        self.settings = settings
        self.sent = 0
        self._producer = clients.producer(settings, client_id=client_id, linger_ms=20)

    async def start(self) -> None:
        try:
            await ensure_topics(self.settings, (SHIPMENTS_REGISTRY,), with_configs=True)
        except Exception:  # brokers that refuse topic configs (Tansu)
            log.info("creating %s with configs failed; retrying without", SHIPMENTS_REGISTRY.name)
            await ensure_topics(self.settings, (SHIPMENTS_REGISTRY,), with_configs=False)
        await self._producer.start()

    async def publish(self, bookings: Iterable[ShipmentBooking]) -> int:
        """Send bookings keyed by shipment id and wait until Kafka acknowledged all of them."""
        futures = [
            await self._producer.send(
                SHIPMENTS_REGISTRY.name,
                value=b.model_dump_json().encode(),
                key=b.shipment_id.encode(),
            )
            for b in bookings
        ]
        for fut in futures:
            await fut
        self.sent += len(futures)
        return len(futures)

    async def stop(self) -> None:
        await self._producer.stop()
