"""What a fault run does: fleet size, scenario mix, and how many of each fault it injects.

``short`` is the profile the test suite runs (a few minutes on 2 cores); ``full`` is the one the
reliability figures come from (``make faults``): about 40,000 readings with 10 bridge kills, 10
worker kills, 5 worker scale-ups, a broker restart and a group reset. ``cluster`` and
``cluster-full`` run on a three-node Kafka cluster of their own (``--kafka-brokers 3``) and
SIGKILL its nodes: the first is the test suite's (about 24 s of publishing, one kill), the
second the long run (4 node kills among the other faults).
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    trackers_per_scenario: int
    """Trackers (one per shipment) in each scenario's fleet."""
    scenarios: tuple[str, ...]
    publish_s: float
    """Wall seconds the fleets publish for; the faults fall inside this window."""
    speedup: float
    interval_s: int
    """Reporting interval in simulated seconds (the alarm interval is a third of it)."""
    bridge_kills: int
    worker_kills: int
    scale_cycles: int
    """Times a second worker joins the group and leaves it again (1 → 2 → 1)."""
    broker_restarts: int
    rival_groups: int
    """Workers of another app id started mid-run; each must refuse to run beside the group."""
    group_reset: bool
    malformed_rate: float
    """Share of readings followed by a malformed payload (0.11 ≈ 10 % of the traffic)."""
    drain_timeout_s: float
    """How long the pipeline may take after the last publish to produce every outcome."""
    broker_kills: int = 0
    """SIGKILLs of one node of a Kafka cluster (``--kafka-brokers 3``), each node started
    again after a hold; never two nodes down at once."""


SCENARIO_MIX = ("nominal", "reefer-failure", "rough-handling", "theft")

PROFILES: dict[str, Profile] = {
    "short": Profile(
        name="short",
        trackers_per_scenario=4,
        scenarios=SCENARIO_MIX,
        publish_s=45.0,
        speedup=100_000.0,
        interval_s=7200,
        bridge_kills=2,
        worker_kills=2,
        scale_cycles=1,
        broker_restarts=1,
        rival_groups=1,
        group_reset=True,
        malformed_rate=0.11,
        drain_timeout_s=300.0,
    ),
    "full": Profile(
        name="full",
        trackers_per_scenario=16,
        scenarios=SCENARIO_MIX,
        publish_s=240.0,
        speedup=18_000.0,
        interval_s=3600,
        bridge_kills=10,
        worker_kills=10,
        scale_cycles=5,
        broker_restarts=1,
        rival_groups=1,
        group_reset=True,
        malformed_rate=0.11,
        drain_timeout_s=900.0,
    ),
    "cluster": Profile(
        name="cluster",
        trackers_per_scenario=3,
        scenarios=SCENARIO_MIX,
        publish_s=24.0,
        speedup=100_000.0,
        interval_s=7200,
        bridge_kills=0,
        worker_kills=0,
        scale_cycles=0,
        broker_restarts=0,
        rival_groups=0,
        group_reset=False,
        malformed_rate=0.11,
        drain_timeout_s=120.0,
        broker_kills=1,
    ),
    "cluster-full": Profile(
        name="cluster-full",
        trackers_per_scenario=16,
        scenarios=SCENARIO_MIX,
        publish_s=240.0,
        speedup=18_000.0,
        interval_s=3600,
        bridge_kills=3,
        worker_kills=3,
        scale_cycles=2,
        broker_restarts=1,
        rival_groups=0,
        group_reset=True,
        malformed_rate=0.11,
        drain_timeout_s=900.0,
        broker_kills=4,
    ),
}
CLUSTER_PROFILES = ("cluster", "cluster-full")
"""Profiles that need a Kafka cluster (they kill its nodes)."""


def profile(name: str, **overrides: object) -> Profile:
    """A named profile, with some fields replaced (``None`` values are ignored)."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}")
    changes = {k: v for k, v in overrides.items() if v is not None}
    return replace(PROFILES[name], **changes)  # type: ignore[arg-type]
