"""Fan-out of live-feed items to subscribed clients, each through its own bounded queue.

:meth:`Hub.publish` runs in the Kafka consumer's task and never awaits a client: it checks the
principal's access and the client's filter and puts the item on the client's queue (see
:mod:`api.client_queue` for what happens when that is full).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count

from api.access import can_see_item
from api.auth import Principal
from api.client_queue import ClientQueue
from api.feed_filter import FeedFilter
from api.feed_item import FeedItem
from api.projection import ReadModel

_ids = count(1)


@dataclass(eq=False)
class Subscriber:
    principal: Principal
    filter: FeedFilter
    queue: ClientQueue
    id: int = field(default_factory=lambda: next(_ids))


class Hub:
    """The set of live-feed clients of one API process."""

    def __init__(self, model: ReadModel, queue_max: int) -> None:
        self.model = model
        self.queue_max = queue_max
        self.subscribers: set[Subscriber] = set()
        self.published = 0
        self._dropped_gone = 0
        """Items dropped for clients that have since gone (see :meth:`dropped`)."""

    def subscribe(self, principal: Principal, feed_filter: FeedFilter) -> Subscriber:
        sub = Subscriber(principal, feed_filter, ClientQueue(self.queue_max))
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        if sub in self.subscribers:
            self.subscribers.remove(sub)
            self._dropped_gone += sub.queue.dropped_positions

    def dropped(self) -> int:
        """Feed items dropped for slow clients since start, gone clients' included (read when
        metrics are scraped, so publishing counts nothing extra)."""
        live = sum(sub.queue.dropped_positions for sub in self.subscribers)
        return self._dropped_gone + live

    def publish(self, items: list[FeedItem]) -> None:
        for item in items:
            self.published += 1
            for sub in self.subscribers:
                if sub.filter.matches(item) and can_see_item(sub.principal, self.model, item):
                    sub.queue.put(item)
