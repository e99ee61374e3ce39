"""The fault schedule: seeded, complete, spread over the window, and never more than two
workers at once."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from faults.profiles import CLUSTER_PROFILES, PROFILES, profile
from faults.schedule import WINDOW, Fault, plan

SHORT = PROFILES["short"]


def test_same_seed_same_schedule_other_seed_other_schedule() -> None:
    assert plan(SHORT, 7) == plan(SHORT, 7)
    assert plan(SHORT, 7) != plan(SHORT, 8)


@given(
    seed=st.integers(0, 10_000),
    counts=st.tuples(*(st.integers(0, 12) for _ in range(6))),
    publish_s=st.floats(10, 600),
)
def test_every_fault_once_inside_the_window_and_scale_ups_end_before_the_next(
    seed: int, counts: tuple[int, int, int, int, int, int], publish_s: float
) -> None:
    bridge, worker, scale, broker, rival, kills = counts
    chosen = replace(
        SHORT,
        bridge_kills=bridge,
        worker_kills=worker,
        scale_cycles=scale,
        broker_restarts=broker,
        rival_groups=rival,
        broker_kills=kills,
        publish_s=publish_s,
    )
    schedule = plan(chosen, seed)
    assert (
        Counter(i.fault for i in schedule)
        == Counter(
            {
                Fault.BRIDGE_KILL: bridge,
                Fault.WORKER_KILL: worker,
                Fault.SCALE_UP: scale,
                Fault.BROKER_RESTART: broker,
                Fault.RIVAL_GROUP: rival,
                Fault.BROKER_KILL: kills,
            }
        )
        - Counter()
    )
    times = [i.at_s for i in schedule]
    assert times == sorted(times)
    low, high = WINDOW[0] * publish_s, WINDOW[1] * publish_s
    assert all(low - 1e-3 <= t <= high + 1e-3 for t in times)
    for this, after in itertools.pairwise(schedule):
        if this.fault is Fault.SCALE_UP:  # the second worker has left before the next fault
            assert this.at_s + this.hold_s < after.at_s


def test_profiles_override_and_reject_unknown_names() -> None:
    assert profile("short", worker_kills=5, bridge_kills=None).worker_kills == 5
    assert profile("short", bridge_kills=None).bridge_kills == SHORT.bridge_kills
    with pytest.raises(ValueError, match="nightly"):
        profile("nightly")


def test_full_profile_is_the_issue_s_fault_mix() -> None:
    full = PROFILES["full"]
    assert (full.bridge_kills, full.worker_kills, full.scale_cycles) == (10, 10, 5)
    assert full.broker_restarts == 1
    assert full.group_reset


def test_only_the_cluster_profiles_kill_brokers() -> None:
    killing = {name for name, p in PROFILES.items() if p.broker_kills}
    assert killing == set(CLUSTER_PROFILES)
    assert Counter(i.fault for i in plan(PROFILES["cluster"], 1))[Fault.BROKER_KILL] == 1
    assert all(
        i.hold_s > 0 for i in plan(PROFILES["cluster-full"], 1) if i.fault is Fault.BROKER_KILL
    )
