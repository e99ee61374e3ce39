"""A bounded per-client queue for the live feed: a slow client never stalls the others.

The producer (the Kafka consumer's fan-out) never waits on a client. When a client's queue is
full, the oldest queued *position* is dropped to make room: a later position of the same fleet
supersedes it. Alerts, state changes, finance and claim items are never dropped. If the queue
is full of those alone, the client is hopelessly behind: the queue is marked ``overflowed``
and the server closes the connection (WebSocket close code 4008), so the client reconnects
and re-reads current state over REST rather than silently missing an alert.

Positions and the rest wait in two deques, each item tagged with an arrival number, so
dropping the oldest position is O(1) and delivery keeps arrival order.
"""

from __future__ import annotations

import asyncio
from collections import deque

from api.feed_item import FeedItem


class ClientQueue:
    """Arrival-ordered, bounded; drops oldest positions, never anything else."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self.maxsize = maxsize
        self._positions: deque[tuple[int, FeedItem]] = deque()
        self._others: deque[tuple[int, FeedItem]] = deque()
        self._arrivals = 0
        self._ready = asyncio.Event()
        self.dropped_positions = 0
        self.overflowed = False

    def __len__(self) -> int:
        return len(self._positions) + len(self._others)

    def put(self, item: FeedItem) -> bool:
        """Queue ``item`` without waiting; False when the client must be disconnected."""
        if self.overflowed:
            return False
        if len(self) >= self.maxsize:
            if self._positions:
                self._positions.popleft()
                self.dropped_positions += 1
            elif item.droppable:
                self.dropped_positions += 1
                return True
            else:
                self.overflowed = True
                self._ready.set()
                return False
        self._arrivals += 1
        (self._positions if item.droppable else self._others).append((self._arrivals, item))
        self._ready.set()
        return True

    def get_nowait(self) -> FeedItem | None:
        """The oldest queued item, or None."""
        if self._positions and (not self._others or self._positions[0][0] < self._others[0][0]):
            return self._positions.popleft()[1]
        if self._others:
            return self._others.popleft()[1]
        return None

    def wake(self) -> None:
        """Wake a waiting :meth:`wait` without an item (e.g. the client went away)."""
        self._ready.set()

    async def wait(self) -> None:
        """Until an item is queued, the queue overflows, or :meth:`wake` is called."""
        if len(self) == 0 and not self.overflowed:
            self._ready.clear()
            await self._ready.wait()
