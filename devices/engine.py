"""The pure fleet engine and the fleet clock.

:class:`FleetEngine` steps every tracker in simulated-time order (a heap of next wake-up times)
up to a given instant and returns the messages they produce. It is what makes the simulator
testable without a broker: advancing to T in one call or in a thousand small ones yields the
same messages in the same order, because each tracker's stream depends only on the seed and its
own schedule. :class:`FleetClock` maps elapsed wall seconds to simulated time (``--speedup``);
the shell reads the wall clock, the clock itself does not.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from devices.device import Tracker
from devices.messages import Outgoing
from devices.plan import FleetPlan, SimShipment


@dataclass(frozen=True, slots=True)
class FleetClock:
    """Simulated time as a function of elapsed wall time.

    With ``realtime_cap`` a simulation that started in the past runs ``speedup`` times faster
    than real time until it catches up with the wall clock, then at 1x: event timestamps never
    lie in the future, which the bridge would reject.
    """

    sim_start: float
    speedup: float
    wall_start: float
    realtime_cap: bool = True

    def sim_at(self, elapsed_s: float) -> float:
        t = self.sim_start + max(0.0, elapsed_s) * self.speedup
        if self.realtime_cap and self.sim_start <= self.wall_start:
            t = min(t, self.wall_start + max(0.0, elapsed_s))
        return t

    def elapsed_for(self, sim_t: float) -> float:
        """Wall seconds until simulated time ``sim_t`` (inverse of :meth:`sim_at`)."""
        fast = (sim_t - self.sim_start) / self.speedup
        if not self.realtime_cap or self.sim_start > self.wall_start or self.speedup <= 1:
            return max(0.0, fast)
        catch_up = (self.wall_start - self.sim_start) / (self.speedup - 1.0)
        if fast <= catch_up:
            return max(0.0, fast)
        return sim_t - self.wall_start


class FleetEngine:
    """All trackers of a plan, stepped in time order. No I/O, no clock reads."""

    def __init__(self, plan: FleetPlan) -> None:
        self.plan = plan
        self.trackers = [
            Tracker(spec, plan.shipments[spec.shipment], plan.config) for spec in plan.devices
        ]
        self._heap: list[tuple[float, int]] = [
            (tr.next_t, tr.index) for tr in self.trackers if tr.next_t is not None
        ]
        heapq.heapify(self._heap)
        self._customs: list[tuple[float, int]] = [
            (s.voyage.customs_cleared_at, s.index) for s in plan.shipments
        ]
        heapq.heapify(self._customs)
        self.now = plan.config.start_ts

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def advance(self, until: float, limit: int = 0) -> list[Outgoing]:
        """Wake every tracker due at or before ``until``; stop early after ``limit`` messages
        (0 = no limit) so the publisher's backlog stays bounded. ``now`` is how far it got."""
        out: list[Outgoing] = []
        heap = self._heap
        trackers = self.trackers
        while heap and heap[0][0] <= until:
            if limit and len(out) >= limit:
                self.now = max(self.now, heap[0][0] - 1e-9)
                return out
            t, i = heapq.heappop(heap)
            tracker = trackers[i]
            tracker.wake(t, out)
            if tracker.next_t is not None:
                heapq.heappush(heap, (tracker.next_t, i))
        self.now = max(self.now, until)
        return out

    def customs_cleared(self, until: float) -> list[SimShipment]:
        """Shipments whose customs clearance happened by ``until`` (once each)."""
        done: list[SimShipment] = []
        while self._customs and self._customs[0][0] <= until:
            _, i = heapq.heappop(self._customs)
            done.append(self.plan.shipments[i])
        return done

    def finish(self) -> list[Outgoing]:
        """The run ends: deliver what delivery faults still hold (buffers stay buffered)."""
        out: list[Outgoing] = []
        for tracker in self.trackers:
            if tracker.alive:
                tracker.faults.release_all(out)
        return out

    @property
    def buffered(self) -> int:
        return sum(len(t.buffer) for t in self.trackers)

    @property
    def alive(self) -> int:
        return sum(1 for t in self.trackers if t.alive)
