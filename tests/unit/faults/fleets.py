"""The simulated fleets the scenario-truth tests share.

Simulating a fleet and running the cores over it are most of these tests' time. Each fleet is
simulated once per test session, and each has one replay cache (faults.truth.replay.Cache:
a shipment's outputs keyed by its exact delivered sequence), so two tests that replay the same
fleet in the same order run the cores over it once. Both are deterministic for their
arguments, so sharing them changes no result.
"""

from __future__ import annotations

from functools import cache

from faults.truth.replay import Cache
from faults.truth.stream import Fleet, fleet_config, simulate

SEED = 11


@cache
def fleet(scenario: str, trackers: int) -> Fleet:
    """``scenario``'s fleet of ``trackers`` trackers, simulated with :data:`SEED`."""
    return simulate(fleet_config(scenario, SEED, trackers))


@cache
def replay_cache(scenario: str, trackers: int) -> Cache:
    """The replay cache of :func:`fleet` (``scenario``, ``trackers``), under the default terms."""
    return {}
