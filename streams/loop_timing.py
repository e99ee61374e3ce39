"""Where a worker loop's wall time goes, for finding stalls: the wait for a fetch, the
handling of batches, the commits, and how old a batch's records are when they are fetched.

Off unless ``TRADELANE_LOOP_TIMING`` is set; then each loop logs one summary every
``EVERY_S`` seconds. It answered the question "the worker is idle half the time, so why do
records wait a second?" (a fetch of idle partitions held the busy ones back; one loop's burst
held the other), and it is the first thing to switch on when latency is high again.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

log = logging.getLogger(__name__)

EVERY_S = 10.0


class LoopTiming:
    def __init__(self, name: str) -> None:
        self.on = bool(os.environ.get("TRADELANE_LOOP_TIMING"))
        self.name = name
        self._reset(time.perf_counter())

    def _reset(self, now: float) -> None:
        self.since = now
        self.batches = self.records = self.empty = 0
        self.wait = self.handle = self.commit = 0.0
        self.max_wait = self.max_handle = self.max_commit = 0.0
        self.ages: list[float] = []

    def add(
        self, t0: float, t1: float, t2: float, t3: float, batches: Mapping[Any, Sequence[Any]]
    ) -> None:
        """One loop turn: fetch from ``t0`` to ``t1``, handling to ``t2``, commit to ``t3``
        (``time.perf_counter`` readings)."""
        if not self.on:
            return
        self.batches += 1
        self.empty += not batches
        self.records += sum(len(b) for b in batches.values())
        fetched_at = time.time() - (t3 - t1)
        self.ages += [fetched_at - b[0].timestamp / 1000 for b in batches.values() if b]
        self.wait += t1 - t0
        self.handle += t2 - t1
        self.commit += t3 - t2
        self.max_wait = max(self.max_wait, t1 - t0)
        self.max_handle = max(self.max_handle, t2 - t1)
        self.max_commit = max(self.max_commit, t3 - t2)
        if t3 - self.since >= EVERY_S:
            self._log(t3)
            self._reset(t3)

    def _log(self, now: float) -> None:
        ages = sorted(self.ages) or [0.0]
        log.warning(
            "loop %s: %d batches (%d empty), %d records in %.1f s; fetch wait %.2f s (max %.0f "
            "ms), handling %.2f s (max %.0f ms), commits %.2f s (max %.0f ms); oldest record "
            "of a batch at fetch p50 %.0f / p95 %.0f / max %.0f ms",
            self.name,
            self.batches,
            self.empty,
            self.records,
            now - self.since,
            self.wait,
            1000 * self.max_wait,
            self.handle,
            1000 * self.max_handle,
            self.commit,
            1000 * self.max_commit,
            1000 * ages[len(ages) // 2],
            1000 * ages[int(len(ages) * 0.95)],
            1000 * ages[-1],
        )
