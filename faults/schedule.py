"""When each fault strikes: a pure function of the profile and the seed.

The publishing window is cut into one slot per injection; a seeded shuffle decides which fault
takes which slot and a seeded jitter where in its slot it strikes, so faults are spread over the
run, never bunched at its start, and the same seed replays the same run. A scale-up holds its
second worker for part of its slot and lets it go before the next slot begins, so the group
goes 1 → 2 → 1 and never grows further.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from faults.profiles import Profile


class Fault(StrEnum):
    BRIDGE_KILL = "bridge_kill"
    """SIGKILL the bridge; a new one starts ``hold_s`` later on the same MQTT session."""
    WORKER_KILL = "worker_kill"
    """SIGKILL the first worker; a new one joins the group ``hold_s`` later."""
    SCALE_UP = "scale_up"
    """A second worker joins the group and leaves (SIGTERM) ``hold_s`` later."""
    BROKER_RESTART = "broker_restart"
    """Stop the Kafka broker and start it again (``hold_s`` is not used)."""
    BROKER_KILL = "broker_kill"
    """SIGKILL one node of a Kafka cluster (the next in turn); it starts again ``hold_s``
    later. The other nodes keep a quorum and two in-sync replicas of every partition."""
    RIVAL_GROUP = "rival_group"
    """A worker with another app id starts on the same cluster; it must refuse to run (a
    second group would write every shipment's events and every ledger a second time)."""


@dataclass(frozen=True, slots=True)
class Injection:
    at_s: float
    """Seconds after the fleets started publishing."""
    fault: Fault
    hold_s: float


WINDOW = (0.08, 0.85)
"""The share of the publishing window that faults fall in: none before the first readings
flow, none so late that the run ends while a process is still down."""


def plan(profile: Profile, seed: int) -> list[Injection]:
    """The run's injections, in time order."""
    rng = random.Random(seed)  # noqa: S311 - a fault schedule, not secrets
    kinds = (
        [Fault.BRIDGE_KILL] * profile.bridge_kills
        + [Fault.WORKER_KILL] * profile.worker_kills
        + [Fault.SCALE_UP] * profile.scale_cycles
        + [Fault.BROKER_RESTART] * profile.broker_restarts
        + [Fault.RIVAL_GROUP] * profile.rival_groups
        + [Fault.BROKER_KILL] * profile.broker_kills
    )
    if not kinds:
        return []
    rng.shuffle(kinds)
    start = WINDOW[0] * profile.publish_s
    slot = (WINDOW[1] - WINDOW[0]) * profile.publish_s / len(kinds)
    out = []
    for i, fault in enumerate(kinds):
        at = start + slot * (i + rng.uniform(0.1, 0.5))
        if fault is Fault.SCALE_UP:
            hold = slot * rng.uniform(0.3, 0.45)
        elif fault in (Fault.BROKER_RESTART, Fault.RIVAL_GROUP):
            hold = 0.0
        elif fault is Fault.BROKER_KILL:
            hold = rng.uniform(1.0, 5.0)
        else:
            hold = rng.uniform(0.2, 2.0)
        out.append(Injection(round(at, 3), fault, round(hold, 3)))
    return out
