"""Expensive reads computed off the event loop: bounded, deduplicated, cached.

A facility's ledger read and check can take seconds to minutes of CPU (the calendar, once
rebuilt the same way, is now projected from the read model). Run on the event loop, it froze
every other tenant's requests and live feeds. :class:`OffLoop` runs such
a computation in an executor (in production a process pool, so not even the GIL is shared),
and:

- **bounds** it: at most ``pending_max`` computations are queued or running, a request beyond
  that is refused at once (503 with ``Retry-After``), and the executor's worker count bounds
  how many run at a time;
- gives each **request** a deadline: past it the request answers 503 with ``Retry-After``
  while the computation goes on, so the retry finds its result;
- **deduplicates**: concurrent requests for the same key wait on one computation;
- **caches** results by a key the caller derives from the inputs' positions (Kafka end
  offsets), so a cached answer is never older than the data the request could have seen.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Executor
from typing import Any, TypeVar, cast

from tradelane.errors import ServiceError

T = TypeVar("T")


class ReadBusyError(ServiceError):
    """The computation could not be answered now; retry after ``retry_after_s``."""

    def __init__(self, detail: str, retry_after_s: float) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class OffLoop:
    def __init__(
        self, executor: Executor, pending_max: int, timeout_s: float, cache_entries: int = 128
    ) -> None:
        self.executor = executor
        self.pending_max = pending_max
        self.timeout_s = timeout_s
        self.cache_entries = cache_entries
        self._cache: OrderedDict[Hashable, Any] = OrderedDict()
        self._running: dict[Hashable, asyncio.Future[Any]] = {}

    @property
    def pending(self) -> int:
        return len(self._running)

    def cached(self, key: Hashable) -> Any | None:
        found = self._cache.get(key)
        if found is not None:
            self._cache.move_to_end(key)
        return found

    def _remember(self, key: Hashable, value: Any) -> None:
        self._cache[key] = value
        while len(self._cache) > self.cache_entries:
            self._cache.popitem(last=False)

    async def run(self, key: Hashable, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in the executor, or its cached or in-flight result for ``key``."""
        found = self.cached(key)
        if found is not None:
            return cast(T, found)
        running = self._running.get(key)
        if running is None:
            if len(self._running) >= self.pending_max:
                raise ReadBusyError(
                    f"{len(self._running)} computations are already under way; retry later",
                    self.timeout_s,
                )
            loop = asyncio.get_running_loop()
            running = loop.run_in_executor(self.executor, fn, *args)
            self._running[key] = running

            def settle(done: asyncio.Future[Any]) -> None:
                self._running.pop(key, None)
                if not done.cancelled() and done.exception() is None:
                    self._remember(key, done.result())

            running.add_done_callback(settle)
        try:
            return cast(T, await asyncio.wait_for(asyncio.shield(running), self.timeout_s))
        except TimeoutError:
            raise ReadBusyError(
                f"still computing after {self.timeout_s:.0f} s; retry to get the result",
                self.timeout_s,
            ) from None
