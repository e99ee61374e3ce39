"""The issue's floors, asserted on the scenario-truth harness (pure cores, every delivery order).

A nominal fleet must book no claim, no tamper, no rejected tranche and no tranche before the
goods moved, must time at least 98 % of its milestones within 30 min of the simulator's truth,
and must book interest equal to the event-time principal to the cent, whatever order its
readings arrive in. Every incident planted in the other scenarios must be detected, and every
claim it should raise raised at the right tier. (The full run, 20 trackers per scenario, is
`tradelane bench truth`; this is its short profile.)
"""

from __future__ import annotations

from functools import cache

import pytest

from faults.truth.orders import ORDERS, ideal
from faults.truth.replay import replay
from faults.truth.scoring import Row, run_scenario
from tests.unit.faults import fleets

SEED, TRACKERS = fleets.SEED, 10


@cache
def rows(scenario: str, orders: tuple[str, ...]) -> list[Row]:
    return run_scenario(scenario, SEED, TRACKERS, list(orders))


@pytest.mark.parametrize("order", sorted(ORDERS))
def test_a_nominal_fleet_meets_the_floors_in_every_delivery_order(order: str) -> None:
    (row,) = [r for r in rows("nominal", tuple(sorted(ORDERS))) if r.order == order]
    assert row.claims.raised == 0
    assert row.alarms.detected.get("tamper", 0) == 0
    assert row.tranches.rejected == {}
    assert row.tranches.before_departure == 0
    assert row.tranches.released == row.tranches.expected
    assert row.milestones.within_share >= 0.98, row.misses
    assert row.interest_booked == row.interest_reference


@pytest.mark.parametrize("scenario", ["reefer-failure", "rough-handling", "theft", "tracker-dies"])
def test_every_planted_incident_is_detected_and_claimed_at_its_tier(scenario: str) -> None:
    (row,) = rows(scenario, ("ideal",))
    assert row.alarms.planted, "the scenario planted nothing at this fleet size"
    for kind, planted in row.alarms.planted.items():
        assert row.alarms.detected.get(kind, 0) == planted, (kind, row.alarms)
    assert row.claims.matched == row.claims.expected
    assert row.claims.right_tier == row.claims.expected
    assert row.claims.false == 0


def test_a_replay_a_week_later_books_every_entry_identically() -> None:
    """Nothing the cores book depends on when they run: the same readings processed a week
    later give the same events, claims and finance events, byte for byte."""
    fleet = fleets.fleet("reefer-failure", 6)
    now = ideal(fleet.messages, SEED)
    # the event-time run, shared with test_truth_order_money's ideal order; later, from scratch
    first = replay(fleet, now, fleets.replay_cache("reefer-failure", 6))
    later = replay(fleet, [(at + 7 * 86_400, message) for at, message in now])
    assert first.finance, "the run booked nothing: the comparison would prove nothing"
    assert [f.model_dump_json() for f in later.finance] == [
        f.model_dump_json() for f in first.finance
    ]
    assert [c.model_dump_json() for c in later.claims] == [
        c.model_dump_json() for c in first.claims
    ]
    assert later.events.keys() == first.events.keys()
