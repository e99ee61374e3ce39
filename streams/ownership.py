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

from streams.hotpath import HotPath
from streams.store import end_offsets, recover
from tradelane.settings import KafkaSettings

log = logging.getLogger(__name__)


class Ownership:
    def __init__(self, kafka: KafkaSettings, hot: HotPath) -> None:
        self._kafka, self._hot = kafka, hot
        self._owned: set[int] = set()
        self._ends_at_revoke: dict[int, tuple[int, int]] = {}
        self._lock = asyncio.Lock()

    def __contains__(self, partition: int) -> bool:
        """Owned and loaded: its inputs may be applied."""
        return partition in self._owned and partition in self._hot.shipments

    async def revoked(self, partitions: set[int]) -> None:
        """A rebalance starts: stop applying ``partitions``. Their states stay in memory with
        the changelogs' end offsets as they are now (this worker has flushed its writes)."""
        self._owned -= partitions
        loaded = partitions & self._hot.shipments.partitions
        self._ends_at_revoke = await self._ends(loaded)

    async def assigned(self, partitions: set[int]) -> None:
        """The rebalance's outcome. A partition kept in memory is still valid only if it came
        back and no one wrote to its changelogs meanwhile; every other one is dropped."""
        loaded = self._hot.shipments.partitions
        back = loaded & partitions
        now = await self._ends(back)
        stale = (loaded - partitions) | {
            p for p in back if now.get(p) != self._ends_at_revoke.get(p)
        }
        self._hot.drop(stale)
        self._ends_at_revoke = {}
        self._owned = set(partitions)
        if stale:
            log.info("dropped the states of partitions %s", sorted(stale))

    async def _ends(self, partitions: AbstractSet[int]) -> dict[int, tuple[int, int]]:
        if not partitions:
            return {}
        shipments, insurance = self._hot.changelogs
        ends = await end_offsets(self._kafka, [shipments, insurance], partitions)
        return {p: (ends[(shipments, p)], ends[(insurance, p)]) for p in partitions}

    async def ready(self) -> None:
        """Load every owned partition that is not loaded yet (all at once: a rebalance
        assigns several, and each recovery has a fixed cost)."""
        if self._owned <= self._hot.shipments.partitions:
            return
        async with self._lock:
            missing = self._owned - self._hot.shipments.partitions
            if not missing:
                return
            shipments, insurance = self._hot.changelogs
            records = await recover(self._kafka, (shipments, insurance), missing)
            for partition in missing & self._owned:  # a rebalance may have moved some meanwhile
                n = self._hot.shipments.load(partition, records[(shipments, partition)])
                self._hot.insurance.load(partition, records[(insurance, partition)])
                log.info("partition %d: %d shipment states recovered", partition, n)
