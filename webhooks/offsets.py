"""Which offset may be committed, pure: the lowest offset of a partition not yet settled.

Events settle out of order (each subject's lane moves at its receiver's pace), but a committed
offset promises that everything before it is done; so per partition the commit point is the
first offset still open. Restarting from there may redeliver settled events, never skip one:
at-least-once, and receivers de-duplicate on ``webhook-id``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class OffsetTracker:
    """Open offsets per (topic, partition) and the position read so far."""

    _open: dict[tuple[str, int], dict[int, int]] = field(default_factory=dict)
    _read: dict[tuple[str, int], int] = field(default_factory=dict)

    def read(self, tp: tuple[str, int], offset: int, deliveries: int) -> None:
        """A record was read and produced ``deliveries`` deliveries still to settle."""
        self._read[tp] = max(self._read.get(tp, -1), offset)
        if deliveries > 0:
            self._open.setdefault(tp, {})[offset] = deliveries

    def settle(self, tp: tuple[str, int], offset: int) -> None:
        """One delivery of the record at ``offset`` is done (delivered or given up)."""
        open_ = self._open[tp]
        open_[offset] -= 1
        if open_[offset] == 0:
            del open_[offset]

    def commit_points(self) -> dict[tuple[str, int], int]:
        """The offset to commit per partition: the next record a restart must read."""
        out: dict[tuple[str, int], int] = {}
        for tp, last in self._read.items():
            open_ = self._open.get(tp)
            out[tp] = min(open_) if open_ else last + 1
        return out

    def pending(self) -> int:
        return sum(sum(v.values()) for v in self._open.values())
