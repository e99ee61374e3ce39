"""When to try a delivery again, pure: exponential backoff with deterministic jitter, a retry
limit, and per-subject ordering.

Jitter spreads retries of many deliveries that failed together (a receiver outage) so they do
not all return at once. It is derived from the delivery id and the attempt number rather than
drawn at random, so a schedule is reproducible in tests and after a restart.

Ordering: deliveries of one subscription about one subject (a facility, policy or shipment) go
out one at a time in the order of their events; a failing head blocks only its own lane, never
other subjects or other subscriptions. :class:`Lanes` holds that queue discipline; the worker
drives it with the clock and the HTTP results.

Isolation between subscriptions: a subscription has at most ``per_subscription`` requests in
flight, so a receiver that hangs holds a few of the worker's connections, never all of them;
and a :class:`Breaker` pauses a subscription whose attempts keep failing (every lane of it, not
just the failing one) for a growing while, then lets one probe through. Other subscriptions'
lanes are attempted as usual meanwhile.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

ItemT = TypeVar("ItemT")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Attempt ``n`` (from 1) failed → wait ``min(cap, base * 2**(n-1))``, jittered down to no
    less than half of it; after ``max_attempts`` failures give up.

    The defaults retry for about 3 to 4.5 hours: 5 s, 10 s, 20 s … capped at 1 h, 14 attempts.
    """

    base_s: float = 5.0
    cap_s: float = 3600.0
    max_attempts: int = 14

    def __post_init__(self) -> None:
        if self.base_s <= 0 or self.cap_s < self.base_s or self.max_attempts < 1:
            raise ValueError(f"invalid retry policy {self!r}")

    def delay_s(self, delivery_id: str, attempt: int) -> float:
        """Seconds to wait after failed ``attempt`` before the next one."""
        if attempt < 1:
            raise ValueError(f"attempts count from 1, got {attempt}")
        ceiling = min(self.cap_s, self.base_s * 2.0 ** min(attempt - 1, 60))
        digest = hashlib.sha256(f"{delivery_id}:{attempt}".encode()).digest()
        fraction = int.from_bytes(digest[:8], "big") / 2**64  # [0, 1)
        return ceiling / 2 + fraction * ceiling / 2

    def worst_case_s(self) -> float:
        """The longest a delivery can be retried before it is given up."""
        return sum(
            min(self.cap_s, self.base_s * 2.0 ** min(n - 1, 60))
            for n in range(1, self.max_attempts)
        )


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    GIVE_UP = "give_up"


@dataclass(frozen=True, slots=True)
class Step:
    verdict: Verdict
    next_at: float | None = None


def after_attempt(
    policy: RetryPolicy, delivery_id: str, attempt: int, ok: bool, now: float
) -> Step:
    """What follows attempt number ``attempt`` that finished at ``now``."""
    if ok:
        return Step(Verdict.DELIVERED)
    if attempt >= policy.max_attempts:
        return Step(Verdict.GIVE_UP)
    return Step(Verdict.RETRY, now + policy.delay_s(delivery_id, attempt))


@dataclass(frozen=True, slots=True)
class Breaker:
    """After ``failures`` consecutive failed attempts of one subscription (any of its lanes),
    pause it for ``pause_s``, doubling with every further failure up to ``cap_s``. When the
    pause ends one attempt probes; a success closes the breaker."""

    failures: int = 5
    pause_s: float = 30.0
    cap_s: float = 3600.0

    def __post_init__(self) -> None:
        if self.failures < 1 or self.pause_s <= 0 or self.cap_s < self.pause_s:
            raise ValueError(f"invalid breaker {self!r}")

    def pause_after(self, consecutive_failures: int) -> float | None:
        """Seconds to pause after this many consecutive failures (``None``: no pause)."""
        if consecutive_failures < self.failures:
            return None
        return min(self.cap_s, self.pause_s * 2.0 ** min(consecutive_failures - self.failures, 60))


@dataclass(slots=True)
class _Pending(Generic[ItemT]):
    item: ItemT
    attempt: int = 0
    due_at: float = 0.0


@dataclass(slots=True)
class Lanes(Generic[ItemT]):
    """FIFO lanes keyed by (subscription, subject); only a lane's head is ever attempted.

    With ``per_subscription`` set, at most that many lanes of one subscription are in flight at
    once; with a ``breaker``, a subscription that keeps failing is paused as a whole."""

    policy: RetryPolicy
    breaker: Breaker | None = None
    per_subscription: int | None = None
    _lanes: dict[tuple[str, str], deque[_Pending[ItemT]]] = field(default_factory=dict)
    _in_flight: set[tuple[str, str]] = field(default_factory=set)
    _flying: dict[str, int] = field(default_factory=dict)
    _pending: dict[str, int] = field(default_factory=dict)
    _failing: dict[str, int] = field(default_factory=dict)
    _paused_until: dict[str, float] = field(default_factory=dict)

    def push(self, lane: tuple[str, str], item: ItemT, now: float) -> None:
        self._lanes.setdefault(lane, deque()).append(_Pending(item, 0, now))
        self._pending[lane[0]] = self._pending.get(lane[0], 0) + 1

    def __len__(self) -> int:
        return sum(self._pending.values())

    def pending(self, subscription_id: str) -> int:
        """Deliveries of one subscription still queued (in flight included)."""
        return self._pending.get(subscription_id, 0)

    def paused_until(self, subscription_id: str) -> float | None:
        """When a subscription's breaker lets the next probe through (``None``: not paused)."""
        return self._paused_until.get(subscription_id)

    def _limit(self, subscription_id: str) -> int | None:
        if self.breaker is not None and self._failing.get(subscription_id, 0) >= (
            self.breaker.failures
        ):
            return 1  # half-open: one probe at a time
        return self.per_subscription

    def due(self, now: float) -> list[tuple[tuple[str, str], ItemT, int]]:
        """Heads whose time has come and that are not already being attempted, each with the
        number of the attempt about to be made; they are marked in flight. Lanes of a paused
        subscription, or of one at its in-flight limit, wait."""
        out: list[tuple[tuple[str, str], ItemT, int]] = []
        for lane, queue in self._lanes.items():
            head = queue[0]
            sub = lane[0]
            if lane in self._in_flight or head.due_at > now:
                continue
            if self._paused_until.get(sub, now) > now:
                continue
            limit = self._limit(sub)
            if limit is not None and self._flying.get(sub, 0) >= limit:
                continue
            self._in_flight.add(lane)
            self._flying[sub] = self._flying.get(sub, 0) + 1
            out.append((lane, head.item, head.attempt + 1))
        return out

    def next_due_at(self) -> float | None:
        """The earliest time a head not in flight becomes due (``None``: nothing waits)."""
        times = [
            max(q[0].due_at, self._paused_until.get(lane[0], 0.0))
            for lane, q in self._lanes.items()
            if lane not in self._in_flight
        ]
        return min(times, default=None)

    def head(self, lane: tuple[str, str]) -> ItemT | None:
        """The item at the head of ``lane`` (``None`` if the lane is empty or was dropped)."""
        queue = self._lanes.get(lane)
        return queue[0].item if queue else None

    def record(self, lane: tuple[str, str], delivery_id: str, ok: bool, now: float) -> Step:
        """The head of ``lane`` was attempted: pop it (delivered or given up) or reschedule."""
        queue = self._lanes[lane]
        head = queue[0]
        head.attempt += 1
        sub = lane[0]
        if lane in self._in_flight:
            self._in_flight.discard(lane)
            self._flying[sub] = max(0, self._flying.get(sub, 0) - 1)
        self._trip(sub, ok, now)
        step = after_attempt(self.policy, delivery_id, head.attempt, ok, now)
        if step.verdict is Verdict.RETRY:
            assert step.next_at is not None
            head.due_at = step.next_at
        else:
            queue.popleft()
            self._pending[sub] -= 1
            if not self._pending[sub]:
                del self._pending[sub]
            if not queue:
                del self._lanes[lane]
        return step

    def _trip(self, subscription_id: str, ok: bool, now: float) -> None:
        if self.breaker is None:
            return
        if ok:
            self._failing.pop(subscription_id, None)
            self._paused_until.pop(subscription_id, None)
            return
        failures = self._failing.get(subscription_id, 0) + 1
        self._failing[subscription_id] = failures
        pause = self.breaker.pause_after(failures)
        if pause is not None:
            self._paused_until[subscription_id] = now + pause

    def drop_subscription(self, subscription_id: str) -> list[ItemT]:
        """Remove every queued item of a subscription (it was disabled or deleted)."""
        dropped: list[ItemT] = []
        for lane in [lane for lane in self._lanes if lane[0] == subscription_id]:
            dropped.extend(p.item for p in self._lanes.pop(lane))
            self._in_flight.discard(lane)
        for state in (self._flying, self._pending, self._failing, self._paused_until):
            state.pop(subscription_id, None)
        return dropped
