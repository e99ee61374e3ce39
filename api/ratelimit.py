"""Token-bucket rate limits: per API key, and per client address for attempts without a valid key.

:func:`take` is the pure rule (a bucket and a clock in, the new bucket and the wait out);
:class:`RateLimiter` keeps one bucket per name behind a lock (the key check runs in worker
threads) and forgets the least recently used names beyond a bound, so addresses that come and
go cannot grow memory without end. A forgotten bucket comes back full, which only ever errs
towards serving.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Bucket:
    tokens: float
    at: float
    """The clock reading ``tokens`` was computed for."""


@dataclass(frozen=True, slots=True)
class Limit:
    rate: float
    """Tokens added per second."""
    burst: int
    """Capacity: requests allowed at once."""

    def full(self, now: float) -> Bucket:
        return Bucket(float(self.burst), now)


def refill(limit: Limit, bucket: Bucket, now: float) -> Bucket:
    """``bucket`` as of ``now`` (a clock going backwards adds nothing)."""
    elapsed = max(0.0, now - bucket.at)
    return Bucket(
        min(float(limit.burst), bucket.tokens + elapsed * limit.rate), max(now, bucket.at)
    )


def take(limit: Limit, bucket: Bucket, now: float) -> tuple[Bucket, float]:
    """Spend one token: the new bucket and 0.0, or the bucket unchanged (refilled) and the
    seconds until a token will be there."""
    current = refill(limit, bucket, now)
    if current.tokens >= 1.0:
        return Bucket(current.tokens - 1.0, current.at), 0.0
    return current, (1.0 - current.tokens) / limit.rate


def retry_after(wait_s: float) -> str:
    """A ``Retry-After`` value (whole seconds, at least 1) for a wait."""
    return str(max(1, math.ceil(wait_s)))


class RateLimiter:
    """One bucket per name under one :class:`Limit`."""

    def __init__(
        self, limit: Limit, max_names: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.max_names = max_names
        self._clock = clock
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def _bucket(self, name: str, now: float) -> Bucket:
        found = self._buckets.get(name)
        if found is None:
            return self.limit.full(now)
        self._buckets.move_to_end(name)
        return found

    def _store(self, name: str, bucket: Bucket) -> None:
        self._buckets[name] = bucket
        while len(self._buckets) > self.max_names:
            self._buckets.popitem(last=False)

    def take(self, name: str) -> float:
        """Spend a token of ``name``'s bucket: 0.0 when allowed, else the seconds to wait."""
        with self._lock:
            now = self._clock()
            bucket, wait = take(self.limit, self._bucket(name, now), now)
            self._store(name, bucket)
            return wait

    def wait(self, name: str) -> float:
        """Seconds until ``name`` could spend a token (0.0: now), spending nothing."""
        with self._lock:
            now = self._clock()
            current = refill(self.limit, self._bucket(name, now), now)
            return 0.0 if current.tokens >= 1.0 else (1.0 - current.tokens) / self.limit.rate
