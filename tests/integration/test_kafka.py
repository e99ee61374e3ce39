"""aiokafka against the real Apache Kafka: idempotent producer + consumer group, and
transactions that commit and abort as they should."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import NewTopic

from tradelane.settings import KafkaSettings
from tradelane.topics import KAFKA_TOPICS
from transport import kafka as clients
from transport.admin import ensure_topics

pytestmark = pytest.mark.integration


async def _create(settings: KafkaSettings, name: str, partitions: int) -> None:
    admin = clients.admin(settings)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


async def _drain(consumer: AIOKafkaConsumer, want: int, timeout_s: float = 30) -> list[bytes]:
    got: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < want and time.monotonic() < deadline:
        for messages in (await consumer.getmany(timeout_ms=500)).values():
            got += [m.value for m in messages]
    return got


async def test_idempotent_producer_and_consumer_group(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    topic = f"itest.idem.{unique}"
    await _create(kafka_settings, topic, 3)
    producer = clients.producer(
        kafka_settings,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
    )
    await producer.start()
    try:
        futures = [
            await producer.send(topic, f"m{i}".encode(), key=f"k{i % 7}".encode())
            for i in range(300)
        ]
        metadata = await asyncio.gather(*futures)
    finally:
        await producer.stop()
    assert {m.partition for m in metadata} == {0, 1, 2}

    consumer = clients.consumer(
        kafka_settings,
        topic,
        group_id=f"itest-group-{unique}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        got = await _drain(consumer, 300)
        await consumer.commit()
        committed = {tp: await consumer.committed(tp) for tp in consumer.assignment()}
    finally:
        await consumer.stop()
    assert sorted(got) == sorted(f"m{i}".encode() for i in range(300))
    assert sum(v or 0 for v in committed.values()) == 300


async def test_transactions_commit_and_abort(kafka_settings: KafkaSettings, unique: str) -> None:
    topic = f"itest.tx.{unique}"
    await _create(kafka_settings, topic, 1)
    producer = clients.producer(kafka_settings, transactional_id=f"itest-tx-{unique}")
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send(topic, b"committed-1")
            await producer.send(topic, b"committed-2")
        await producer.begin_transaction()
        await producer.send(topic, b"aborted")
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send(topic, b"committed-3")
    finally:
        await producer.stop()

    committed_reader = clients.consumer(
        kafka_settings, topic, auto_offset_reset="earliest", isolation_level="read_committed"
    )
    await committed_reader.start()
    try:
        got = await _drain(committed_reader, 3)
        # Nothing more may follow: the aborted record must stay invisible.
        got += await _drain(committed_reader, 1, timeout_s=2)
    finally:
        await committed_reader.stop()
    assert got == [b"committed-1", b"committed-2", b"committed-3"]

    raw_reader = clients.consumer(
        kafka_settings, topic, auto_offset_reset="earliest", isolation_level="read_uncommitted"
    )
    await raw_reader.start()
    try:
        raw = await _drain(raw_reader, 4)
    finally:
        await raw_reader.stop()
    assert b"aborted" in raw


async def test_topics_are_created_idempotently_with_their_layout(
    kafka_settings: KafkaSettings,
) -> None:
    await ensure_topics(kafka_settings)
    again = await ensure_topics(kafka_settings)
    assert {o.name for o in again} == {t.name for t in KAFKA_TOPICS}
    assert all(o.action == "exists" for o in again), again
    admin = clients.admin(kafka_settings)
    await admin.start()
    try:
        described = await admin.describe_topics([t.name for t in KAFKA_TOPICS])
    finally:
        await admin.close()
    counts = {d["topic"]: len(d["partitions"]) for d in described}
    assert counts == {t.name: t.partitions for t in KAFKA_TOPICS}
