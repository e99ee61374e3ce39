"""A bounded memory of recently seen (device_id, seq) pairs, to count duplicates.

Duplicates are expected (QoS 1 redelivery, device retries, bridge restarts) and are still
forwarded: dropping one here could lose the only copy if its first send had failed. The count
tells operators how much redelivery is going on.
"""

from __future__ import annotations

from collections import OrderedDict


class RecentlySeen:
    def __init__(self, capacity: int = 200_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self._keys: OrderedDict[tuple[str, int], None] = OrderedDict()

    def check_and_add(self, key: tuple[str, int]) -> bool:
        """True if ``key`` was already seen (and refreshes it); remembers it either way."""
        if key in self._keys:
            self._keys.move_to_end(key)
            return True
        self._keys[key] = None
        if len(self._keys) > self.capacity:
            self._keys.popitem(last=False)
        return False
