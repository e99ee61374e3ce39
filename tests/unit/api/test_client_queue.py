"""The per-client queue drops the oldest positions when full and never an alert."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from api.client_queue import ClientQueue
from api.feed_item import FeedItem, ItemType

T = datetime(2026, 11, 21, tzinfo=UTC)


def item(kind: ItemType, n: int) -> FeedItem:
    return FeedItem(kind, T, {"n": n}, shipment_id="shp")


def drain(queue: ClientQueue) -> list[tuple[ItemType, int]]:
    out = []
    while (got := queue.get_nowait()) is not None:
        out.append((got.type, got.data["n"]))
    return out


def test_keeps_arrival_order_across_kinds() -> None:
    queue = ClientQueue(10)
    for n, kind in enumerate([ItemType.POSITION, ItemType.ALERT, ItemType.POSITION]):
        queue.put(item(kind, n))
    assert drain(queue) == [(ItemType.POSITION, 0), (ItemType.ALERT, 1), (ItemType.POSITION, 2)]


def test_full_queue_drops_the_oldest_position_not_alerts() -> None:
    queue = ClientQueue(3)
    queue.put(item(ItemType.ALERT, 0))
    queue.put(item(ItemType.POSITION, 1))
    queue.put(item(ItemType.POSITION, 2))
    assert queue.put(item(ItemType.ALERT, 3))
    assert queue.dropped_positions == 1
    assert drain(queue) == [(ItemType.ALERT, 0), (ItemType.POSITION, 2), (ItemType.ALERT, 3)]


def test_a_position_into_a_queue_full_of_alerts_is_dropped() -> None:
    queue = ClientQueue(2)
    queue.put(item(ItemType.ALERT, 0))
    queue.put(item(ItemType.STATE, 1))
    assert queue.put(item(ItemType.POSITION, 2))
    assert queue.dropped_positions == 1
    assert not queue.overflowed
    assert drain(queue) == [(ItemType.ALERT, 0), (ItemType.STATE, 1)]


def test_an_alert_that_cannot_fit_overflows_the_client() -> None:
    queue = ClientQueue(2)
    queue.put(item(ItemType.ALERT, 0))
    queue.put(item(ItemType.CLAIM, 1))
    assert not queue.put(item(ItemType.ALERT, 2))
    assert queue.overflowed
    assert not queue.put(item(ItemType.POSITION, 3))


@pytest.mark.parametrize("count", [1, 7, 100])
def test_many_positions_keep_the_newest(count: int) -> None:
    queue = ClientQueue(5)
    for n in range(count):
        queue.put(item(ItemType.POSITION, n))
    kept = [n for _, n in drain(queue)]
    assert kept == list(range(max(0, count - 5), count))
    assert queue.dropped_positions == max(0, count - 5)


async def test_wait_returns_on_an_item_on_overflow_and_on_wake() -> None:
    queue = ClientQueue(1)
    waiter = asyncio.create_task(queue.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    queue.put(item(ItemType.ALERT, 0))
    await asyncio.wait_for(waiter, 1)
    await asyncio.wait_for(queue.wait(), 1)  # an item is queued: no waiting
    assert queue.get_nowait() is not None
    waiter = asyncio.create_task(queue.wait())
    await asyncio.sleep(0)
    queue.wake()
    await asyncio.wait_for(waiter, 1)
    queue.put(item(ItemType.ALERT, 1))
    queue.put(item(ItemType.ALERT, 2))
    assert queue.overflowed
    await asyncio.wait_for(queue.wait(), 1)
