"""Which shipment partitions this worker owns, and their states loaded before any input.

The hot loop's consumer tells of each rebalance: every partition is revoked, then the new
assignment comes. A partition assigned is recovered from both changelogs (shipment and
insurance state) the first time a batch holds one of its inputs, and nothing of it is applied
before that. A partition that comes straight back to the worker that had it keeps its states in
memory, but only when its changelogs' end offsets show that no one else wrote to them in
between; any other partition's states are dropped, so a partition is never continued from a
stale copy.

Why the changelog is complete: the previous owner produced every state it changed before its
offsets could be committed (the loop flushes the producer before every commit and before it
gives partitions up), so the changelog read after the assignment holds the state that matches
the committed input position, or a later one (and the core ignores readings it has applied).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING

from streams.store import end_offsets, recover

if TYPE_CHECKING:
    from streams.stage import Stage
from tradelane.settings import KafkaSettings

log = logging.getLogger(__name__)


class Ownership:
    def __init__(self, kafka: KafkaSettings, stage: Stage) -> None:
        self._kafka, self._stage = kafka, stage
        self._owned: set[int] = set()
        self._ends_at_revoke: dict[int, tuple[int, ...]] = {}
        self._lock = asyncio.Lock()

    @property
    def _loaded(self) -> frozenset[int]:
        return self._stage.stores[0][0].partitions

    def __contains__(self, partition: int) -> bool:
        """Owned and loaded: its inputs may be applied."""
        return partition in self._owned and partition in self._loaded

    async def revoked(self, partitions: set[int]) -> None:
        """A rebalance starts: stop applying ``partitions``. Their states stay in memory with
        the changelogs' end offsets as they are now (this worker has flushed its writes)."""
        self._owned -= partitions
        self._ends_at_revoke = await self._ends(partitions & self._loaded)

    async def assigned(self, partitions: set[int]) -> None:
        """The rebalance's outcome. A partition kept in memory is still valid only if it came
        back and no one wrote to its changelogs meanwhile; every other one is dropped."""
        loaded = self._loaded
        back = loaded & partitions
        now = await self._ends(back)
        stale = (loaded - partitions) | {
            p for p in back if now.get(p) != self._ends_at_revoke.get(p)
        }
        if stale:
            self._stage.drop(set(stale))
            log.info("dropped the states of partitions %s", sorted(stale))
        self._ends_at_revoke = {}
        self._owned = set(partitions)

    async def _ends(self, partitions: AbstractSet[int]) -> dict[int, tuple[int, ...]]:
        if not partitions:
            return {}
        topics = [topic for _, topic in self._stage.stores]
        ends = await end_offsets(self._kafka, topics, partitions)
        return {p: tuple(ends[(t, p)] for t in topics) for p in partitions}

    async def ready(self) -> bool:
        """Load every owned partition that is not loaded yet (all at once: a rebalance
        assigns several, and each recovery has a fixed cost); whether any was loaded."""
        if self._owned <= self._loaded:
            return False
        async with self._lock:
            missing = self._owned - self._loaded
            if not missing:
                return False
            topics = [topic for _, topic in self._stage.stores]
            records = await recover(self._kafka, topics, missing)
            for partition in missing & self._owned:  # a rebalance may have moved some meanwhile
                for store, topic in self._stage.stores:
                    n = store.load(partition, records[(topic, partition)])
                    log.info("%s partition %d: %d states recovered", topic, partition, n)
            return True
