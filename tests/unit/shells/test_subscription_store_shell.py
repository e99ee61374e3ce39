"""The webhook subscription store on the in-memory Kafka double: ``load`` reads the topic to
its end once (marking records sealed under an older key for re-encryption), ``run`` follows
it (a tombstone removes a subscription)."""

from __future__ import annotations

import asyncio

from tests.unit.shells.kafka_topics import broker
from tests.unit.webhooks.test_sealing import NEW, OLD, subscription
from tradelane.settings import KafkaSettings
from tradelane.topics import WEBHOOKS_SUBSCRIPTIONS
from webhooks.sealing import SecretBox, seal
from webhooks.store import KafkaSubscriptionStore

TOPIC = WEBHOOKS_SUBSCRIPTIONS.name


async def test_load_reads_to_the_end_and_marks_old_keys_stale() -> None:
    kafka = broker()
    current, old = subscription("wh_current1"), subscription("wh_oldkey01")
    kafka.append(TOPIC, seal(current, SecretBox.parse(NEW)), key=b"wh_current1")
    kafka.append(TOPIC, seal(old, SecretBox.parse(OLD)), key=b"wh_oldkey01")
    box = SecretBox.parse(f"{NEW},{OLD}")
    store = KafkaSubscriptionStore(KafkaSettings(), box=box, make_consumer=kafka.consumer)
    await store.load()
    assert set(store.book.subscriptions) == {"wh_current1", "wh_oldkey01"}
    assert store.book.stale == {"wh_oldkey01"}


async def test_run_follows_new_subscriptions_and_tombstones() -> None:
    kafka = broker()
    box = SecretBox.parse(NEW)
    store = KafkaSubscriptionStore(KafkaSettings(), box=box, make_consumer=kafka.consumer)
    stop = asyncio.Event()
    task = asyncio.create_task(store.run(stop))
    kafka.append(TOPIC, seal(subscription("wh_follow01"), box), key=b"wh_follow01")
    for _ in range(1000):  # turns for the follower, each bounded by the double's wait
        if "wh_follow01" in store.book.subscriptions:
            break
        await kafka.wait_for_append(1000)
    assert "wh_follow01" in store.book.subscriptions
    kafka.append(TOPIC, None, key=b"wh_follow01")
    for _ in range(1000):
        if "wh_follow01" not in store.book.subscriptions:
            break
        await kafka.wait_for_append(1000)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert "wh_follow01" not in store.book.subscriptions
