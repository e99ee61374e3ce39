"""The API's shipment shares store on the in-memory Kafka double: not ready (the shared
endpoint answers 503) until it read the topic to the end it had, then it follows: a link
made on another process works here, a revocation there revokes it here."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from api.shares.rules import revoked
from api.shares.store import KafkaShareStore
from tests.unit.api.test_shares_core import share
from tests.unit.shells.kafka_topics import broker
from tradelane.settings import KafkaSettings
from tradelane.topics import API_SHARES


async def test_shares_are_loaded_before_ready_then_followed() -> None:
    kafka = broker()
    first, second = share(), share()
    kafka.append(API_SHARES.name, first.model_dump_json().encode(), key=first.share_id.encode())
    store = KafkaShareStore(KafkaSettings(), kafka.consumer)
    assert not store.ready.is_set()
    stop = asyncio.Event()
    task = asyncio.create_task(store.run(stop))
    await asyncio.wait_for(store.ready.wait(), 5)
    assert store.get(first.share_id) == first
    gone = revoked(first, first.updated_at + timedelta(hours=1))
    for made in (second, gone):
        kafka.append(API_SHARES.name, made.model_dump_json().encode(), key=made.share_id.encode())
    for _ in range(1000):  # turns for the follower, each bounded by the double's wait
        if store.get(second.share_id) is not None and store.get(first.share_id) == gone:
            break
        await kafka.wait_for_append(1000)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert store.get(second.share_id) == second
    assert store.get(first.share_id) == gone
