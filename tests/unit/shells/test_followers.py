"""The followers on the in-memory double: the worker's registry follower and the API's
read-model consumer load what is there, say ready, then follow what comes."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from api.consumer import ReadModelConsumer
from api.hub import Hub
from api.projection import ReadModel
from streams.registries import Registries, follow
from tests.doubles.kafka import FakeKafka
from tests.samples import booking
from tests.unit.api.records import reading
from tests.unit.shells.kafka_topics import broker
from tradelane.contracts import DeadLetter
from tradelane.settings import KafkaSettings
from tradelane.topics import SHIPMENTS_REGISTRY, TRACKER_READINGS


def _book(kafka: FakeKafka, shipment_id: str, device: str) -> None:
    value = booking(shipment_id, [device]).model_dump_json().encode()
    kafka.append(SHIPMENTS_REGISTRY.name, value, key=shipment_id.encode())


@contextlib.asynccontextmanager
async def running(work: Coroutine[Any, Any, None]) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(work)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _until(condition: asyncio.Event, task: asyncio.Task[None]) -> None:
    """Wait for ``condition``; a follower that failed instead fails the test with its error."""
    waiter = asyncio.create_task(condition.wait())
    await asyncio.wait({waiter, task}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if task.done():
        task.result()
    assert condition.is_set()


async def test_the_registry_follower_loads_dead_letters_then_follows() -> None:
    kafka = broker()
    _book(kafka, "shp-1", "dev-1")
    kafka.append(SHIPMENTS_REGISTRY.name, b"{not a booking", key=b"shp-x")
    registries, ready, live = Registries(), asyncio.Event(), asyncio.Event()
    letters: list[DeadLetter] = []
    learned: list[str] = []

    async def on_invalid(letter: DeadLetter) -> None:
        letters.append(letter)

    async def on_record(record: Any, _raw: bytes) -> None:
        learned.append(record.shipment_id)
        if record.shipment_id == "shp-2":
            live.set()

    work = follow(
        KafkaSettings(),
        registries,
        ready,
        on_record,
        (SHIPMENTS_REGISTRY.name,),
        on_invalid,
        "test",
        make_consumer=lambda: kafka.consumer(None, auto_offset_reset="latest"),
    )
    async with running(work) as task:
        await _until(ready, task)
        assert registries.devices == {"dev-1": "shp-1"}
        assert [(d.source, d.kafka_topic) for d in letters] == [("test", SHIPMENTS_REGISTRY.name)]
        assert registries.invalid == 1
        _book(kafka, "shp-2", "dev-2")
        await _until(live, task)
    assert registries.devices == {"dev-1": "shp-1", "dev-2": "shp-2"}
    assert learned == ["shp-1", "shp-2"]


async def test_the_read_model_maps_readings_through_registries_read_first() -> None:
    kafka = broker()
    topic, value = reading("dev-a", 1, 0, 31.0, 121.0)
    now_ms = int(time.time() * 1000)
    kafka.append(topic, value, key=b"dev-a", timestamp_ms=now_ms)  # before its booking ...
    _book(kafka, "shp-a", "dev-a")  # ... yet mapped: the registries are read first
    kafka.append(topic, value, key=b"dev-old", timestamp_ms=now_ms - 10 * 86_400_000)
    model = ReadModel()
    consumer = ReadModelConsumer(KafkaSettings(), model, Hub(model, 100), 3600, kafka.consumer)
    stop = asyncio.Event()
    async with running(consumer.run(stop)) as task:
        await _until(consumer.ready, task)
        view = model.shipments["shp-a"]
        assert view.position is not None
        assert (view.position.lat, view.position.lon) == (31.0, 121.0)
        assert consumer.stats.records == 2  # the booking and the recent reading, not the old
        later, value = reading("dev-a", 2, 5, 32.0, 122.0)
        kafka.append(later, value, key=b"dev-a", timestamp_ms=now_ms)
        for _ in range(1000):  # turns for the follower, each bounded by the double's wait
            if consumer.stats.records == 3:
                break
            await kafka.wait_for_append(1000)
        stop.set()
        await asyncio.wait_for(task, 5)
    assert model.shipments["shp-a"].position is not None
    assert model.shipments["shp-a"].position.lat == 32.0
    assert TRACKER_READINGS.name == topic
