"""Which shipment partitions this worker owns, and their states loaded before any input.

faust tells the worker of each rebalance (partitions revoked, then the new assignment). A
revoked partition's states are dropped at once: whoever owns it next writes to its changelog,
so a copy kept in memory could be stale when the partition comes back. A partition assigned is
recovered from both changelogs (shipment and insurance state) the first time a batch holds one
of its inputs, and nothing of it is applied before that. The previous owner produced every
state it changed before its offsets could be committed (faust flushes the producer before a
commit and before it gives partitions up), so the changelog read after the assignment holds
the state that matches the committed input position, or a later one (and the core ignores
readings it has applied).
"""

from __future__ import annotations

import asyncio
import logging

from streams.hotpath import HotPath
from streams.store import recover
from tradelane.settings import KafkaSettings

log = logging.getLogger(__name__)


class Ownership:
    def __init__(self, kafka: KafkaSettings, hot: HotPath) -> None:
        self._kafka, self._hot = kafka, hot
        self._owned: set[int] = set()
        self._lock = asyncio.Lock()

    def __contains__(self, partition: int) -> bool:
        """Owned and loaded: its inputs may be applied."""
        return partition in self._owned and partition in self._hot.shipments

    def revoked(self, partitions: set[int]) -> None:
        self._owned -= partitions
        self._hot.drop(partitions)

    def assigned(self, partitions: set[int]) -> None:
        stale = self._hot.shipments.partitions - partitions
        if stale:
            self._hot.drop(stale)
        self._owned = set(partitions)

    async def ready(self, partitions: set[int]) -> None:
        """Load whichever of ``partitions`` are owned and not loaded yet."""
        async with self._lock:
            missing = {p for p in partitions & self._owned if p not in self._hot.shipments}
            if not missing:
                return
            shipments, insurance = self._hot.changelogs
            states = await recover(self._kafka, shipments, missing)
            claims = await recover(self._kafka, insurance, missing)
            for partition in missing & self._owned:  # a rebalance may have moved some meanwhile
                n = self._hot.shipments.load(partition, states[partition])
                self._hot.insurance.load(partition, claims[partition])
                log.info("partition %d: %d shipment states recovered", partition, n)
