"""The in-memory Kafka double (``tests/doubles/kafka.py``) and the transport layer's reading
functions on it: what the shells' unit tests rely on, held to aiokafka's behaviour."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import TopicPartition
from hypothesis import given, settings
from hypothesis import strategies as st

from finance.ledger_store import partition_for as ledger_partition_for
from tests.doubles.kafka import FakeKafka, partition_for
from tradelane.settings import KafkaSettings
from transport import kafka as clients
from transport.admin import topic_partitions

T0 = TopicPartition("t", 0)


def _broker(**topics: int) -> FakeKafka:
    return FakeKafka(topics=dict(topics) or {"t": 1})


async def test_a_sent_record_is_fetched_once_with_its_key_headers_and_offset() -> None:
    kafka = _broker()
    producer = kafka.producer(KafkaSettings())
    meta = await producer.send_and_wait("t", b"v", key=b"k", headers=[("h", b"1")])
    consumer = kafka.consumer(KafkaSettings(), auto_offset_reset="earliest")
    consumer.assign([T0])
    first = await consumer.getmany(timeout_ms=10)
    assert (meta.partition, meta.offset) == (0, 0)
    [record] = first[T0]
    assert (record.key, record.value, record.offset, record.headers) == (
        b"k",
        b"v",
        0,
        (("h", b"1"),),
    )
    assert await consumer.getmany(timeout_ms=10) == {}
    assert await consumer.position(T0) == 1
    assert await consumer.end_offsets([T0]) == {T0: 1}


async def test_latest_starts_at_the_end_and_seek_moves_back() -> None:
    kafka = _broker()
    for v in (b"a", b"b", b"c"):
        kafka.append("t", v)
    consumer = kafka.consumer(None, auto_offset_reset="latest")
    consumer.assign([T0])
    assert await consumer.position(T0) == 3
    consumer.seek(T0, 1)
    batch = await consumer.getmany(max_records=1)
    assert [r.value for r in batch[T0]] == [b"b"]


async def test_a_group_consumer_resumes_from_its_committed_offsets() -> None:
    kafka = _broker(t=2)
    for i in range(6):
        kafka.append("t", b"%d" % i)
    first = kafka.consumer(None, "t", group_id="g")
    await first.start()
    await first.getmany()
    await first.commit({TopicPartition("t", 0): 1})
    again = kafka.consumer(None, "t", group_id="g", auto_offset_reset="latest")
    await again.start()
    assert await again.position(TopicPartition("t", 0)) == 1
    assert await again.position(TopicPartition("t", 1)) == 3  # nothing committed: latest


async def test_offsets_for_times_finds_the_first_record_at_or_after() -> None:
    kafka = _broker()
    for ms in (10, 20, 30):
        kafka.append("t", b"x", timestamp_ms=ms)
    consumer = kafka.consumer()
    found = await consumer.offsets_for_times({T0: 15})
    hit = found[T0]
    assert hit is not None
    assert hit.offset == 1
    assert (await consumer.offsets_for_times({T0: 31}))[T0] is None


async def test_a_waiting_fetch_is_woken_by_a_send() -> None:
    kafka = FakeKafka(topics={"t": 1}, max_wait_ms=60_000)
    consumer = kafka.consumer(auto_offset_reset="earliest")
    consumer.assign([T0])
    fetch = asyncio.create_task(consumer.getmany(timeout_ms=60_000))
    await asyncio.sleep(0)  # let the fetch start waiting
    await kafka.producer().send("t", b"late")
    batches = await asyncio.wait_for(fetch, 5)
    assert [r.value for r in batches[T0]] == [b"late"]


async def test_a_failing_producer_fails_the_future_and_stores_nothing() -> None:
    kafka = _broker()
    producer = kafka.producer()
    producer.fail_with = RuntimeError("broker gone")
    future = await producer.send("t", b"x")
    with pytest.raises(RuntimeError, match="broker gone"):
        await future
    assert kafka.records("t") == []


def test_keys_land_where_kafka_puts_them() -> None:
    for key in ("a", "facility-1", "shipment/42", "ü"):
        assert partition_for(key.encode(), 12) == ledger_partition_for(key, 12)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([b"a", b"b", b"c", b"d"]), st.binary(max_size=4))))
def test_each_key_keeps_one_partition_and_its_order(sends: list[tuple[bytes, bytes]]) -> None:
    kafka = FakeKafka(topics={"t": 3})
    for key, value in sends:
        kafka.append("t", value, key=key)
    for key in {k for k, _ in sends}:
        stored = [r for r in kafka.records("t") if r.key == key]
        assert {r.partition for r in stored} == {partition_for(key, 3)}
        assert [r.value for r in stored] == [v for k, v in sends if k == key]


# --- the transport layer on the double ------------------------------------------------------


def _collector(into: list[Any]) -> clients.OnBatches:
    async def on_batches(batches: clients.Batches) -> None:
        into.extend(r.value for batch in batches.values() for r in batch)

    return on_batches


async def test_topic_partitions_and_a_started_reader_go_through_the_factory() -> None:
    kafka = _broker(t=3)
    reader = await clients.started_reader(KafkaSettings(), "test", "a reader", kafka.consumer)
    assert await topic_partitions(reader, "t") == [TopicPartition("t", p) for p in range(3)]


async def test_read_to_end_reads_what_was_there_and_stops() -> None:
    kafka = _broker(t=2)
    for i in range(5):
        kafka.append("t", b"%d" % i)
    consumer = kafka.consumer()
    consumer.assign(kafka.partitions("t"))
    ends = await consumer.end_offsets(kafka.partitions("t"))
    seen: list[bytes] = []
    await clients.read_to_end(consumer, ends, _collector(seen))
    assert sorted(seen) == [b"0", b"1", b"2", b"3", b"4"]
    assert await clients.caught_up(consumer, ends)
    kafka.append("t", b"later", partition=0)
    assert not await clients.caught_up(consumer, await consumer.end_offsets([T0]))


async def test_follow_sets_ready_once_loaded_then_keeps_following_until_stopped() -> None:
    kafka = _broker()
    kafka.append("t", b"old")
    consumer = kafka.consumer()
    consumer.assign([T0])
    ready, stop, both = asyncio.Event(), asyncio.Event(), asyncio.Event()
    seen: list[bytes] = []
    collect = _collector(seen)

    async def on_batches(batches: clients.Batches) -> None:
        await collect(batches)
        if len(seen) == 2:
            both.set()

    ends = await consumer.end_offsets([T0])
    task = asyncio.create_task(clients.follow(consumer, on_batches, stop, ends, ready))
    await asyncio.wait_for(ready.wait(), 5)
    assert seen == [b"old"]
    await kafka.producer().send_and_wait("t", b"new")
    await asyncio.wait_for(both.wait(), 5)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert seen == [b"old", b"new"]


async def test_follow_stopped_before_it_caught_up_does_not_say_ready() -> None:
    kafka = _broker()
    consumer = kafka.consumer()
    consumer.assign([T0])
    ready, stop = asyncio.Event(), asyncio.Event()
    stop.set()
    await clients.follow(consumer, _collector([]), stop, {T0: 1}, ready)
    assert not ready.is_set()


async def test_bounded_read_stops_at_the_ends_it_was_given() -> None:
    kafka = _broker()
    for i in range(4):
        kafka.append("t", b"%d" % i)
    consumer = kafka.consumer()
    consumer.assign([T0])
    consumer.seek(T0, 1)
    read = await clients.bounded_read(consumer, [T0], {T0: 3})
    assert [r.value for r in read[T0]] == [b"1", b"2"]  # fetched past 3, handed only to 3
    consumer.seek(T0, 2)
    assert [r.value for r in (await clients.bounded_read(consumer, [T0]))[T0]] == [b"2", b"3"]


async def test_bounded_read_of_an_end_never_reached_times_out() -> None:
    kafka = _broker()
    consumer = kafka.consumer()
    consumer.assign([T0])
    with pytest.raises(TimeoutError):
        await clients.bounded_read(consumer, [T0], {T0: 1}, deadline_s=0.05, timeout_ms=10)
