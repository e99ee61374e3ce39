"""Value dating of tranches: a drawdown is lent as of its milestone's event time.

Two shipments draw on one credit line. Fed in event-time order, or with one shipment's
milestones reaching the line only after the other's later ones (and day ticks in between,
as when a worker's batches bring another shipment's events first), the line books the same
tranches with the same dates, the same interest income, and the same principal and
interest due at the end, to the cent.
"""

from __future__ import annotations

import os
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from finance.facility_state import FacilityState, new_state
from finance.ledger import entry_id
from finance.pledge_engine import EngineInput, run
from finance.step import Outputs
from tests.unit.finance import builders as b
from tests.unit.finance.test_value_dating import _checked, _interest
from tradelane.contracts import Milestone
from tradelane.contracts.finance import (
    DrawdownExecuted,
    InterestAdjusted,
    LedgerEntryKind,
    ValueDateLimited,
)

DEP = Milestone.DEPARTED_ORIGIN
WAREHOUSE = Milestone.ENTERED_BONDED_WAREHOUSE
DELIVERED = Milestone.DELIVERED
SETUP: list[EngineInput] = [b.facility(), b.booking(b.SHP), b.booking(b.SHP2), b.eur_usd()]
HORIZON = 24 * 60


def _play(items: list[EngineInput]) -> tuple[FacilityState, list[Outputs]]:
    return run(new_state(b.FAC), [*SETUP, *items, b.tick(HORIZON)])


def _tranches(outputs: list[Outputs]) -> dict[tuple[str, Milestone], tuple[object, Decimal]]:
    """Each tranche's (shipment, milestone) -> (the time it is booked at, its amount), as
    its event and its ledger entry state it (they must agree)."""
    entries = {e.entry_id: e for out in outputs for e in out.entries}
    found: dict[tuple[str, Milestone], tuple[object, Decimal]] = {}
    for out in outputs:
        for envelope in out.events:
            data = envelope.data
            if isinstance(data, DrawdownExecuted):
                key = entry_id(b.FAC, LedgerEntryKind.DRAWDOWN, data.shipment_id, data.milestone)
                assert entries[key].at == data.at == envelope.time
                found[(data.shipment_id, data.milestone)] = (data.at, data.amount.amount)
    return found


def _journey(
    start: int, gaps: tuple[int, int], delivered: bool, shipment: str
) -> list[tuple[int, EngineInput]]:
    """A shipment's milestones as (event hour, input): departure, warehouse, delivery."""
    warehouse = start + gaps[0]
    legs: list[tuple[int, EngineInput]] = [(start, b.milestone(DEP, start, True, shipment))]
    legs.append((warehouse, b.milestone(WAREHOUSE, warehouse, True, shipment)))
    if delivered:
        legs.append(
            (warehouse + gaps[1], b.milestone(DELIVERED, warehouse + gaps[1], True, shipment))
        )
    return legs


JOURNEY = st.tuples(
    st.integers(0, 24 * 10),
    st.tuples(st.integers(1, 24 * 12), st.integers(1, 24 * 12)),
    st.booleans(),
)


@settings(max_examples=int(os.environ.get("FINANCE_EXAMPLES", "150")), deadline=None)
@given(
    first=JOURNEY,
    second=JOURNEY,
    lag=st.integers(1, 24 * 15),
    ticks=st.lists(st.integers(0, 24 * 40), max_size=10),
)
def test_tranches_are_booked_as_of_their_milestones_in_any_order(
    first: tuple[int, tuple[int, int], bool],
    second: tuple[int, tuple[int, int], bool],
    lag: int,
    ticks: list[int],
) -> None:
    late = _journey(*first, shipment=b.SHP)
    other = _journey(*second, shipment=b.SHP2)
    clock = [(h, b.tick(h)) for h in ticks]
    in_order = [i for _, i in sorted([*late, *other, *clock], key=lambda t: t[0])]
    # shp-1's milestones reach the line `lag` hours after their event time: behind shp-2's
    # later milestones and the day ticks in between
    shifted = [(h + lag, i) for h, i in late]
    delayed = [i for _, i in sorted([*other, *clock, *shifted], key=lambda t: t[0])]
    ordered, out_ordered = _play(in_order)
    behind, out_behind = _play(delayed)
    tranches = _tranches(out_ordered)
    assert _tranches(out_behind) == tranches
    assert {k: at for k, (at, _) in tranches.items()} == {
        (s, m): b.at(h) for s, m, h in _milestones(first, second) if m is not DELIVERED
    }
    assert _interest(out_behind) == _interest(out_ordered)
    assert behind.principal == ordered.principal
    assert behind.interest_due == ordered.interest_due
    for shipment in (b.SHP, b.SHP2):
        assert behind.shipments[shipment].principal == ordered.shipments[shipment].principal
    assert not any(isinstance(e.data, ValueDateLimited) for out in out_behind for e in out.events)
    _checked(ordered, out_ordered)
    _checked(behind, out_behind)


def _milestones(
    first: tuple[int, tuple[int, int], bool], second: tuple[int, tuple[int, int], bool]
) -> list[tuple[str, Milestone, int]]:
    found: list[tuple[str, Milestone, int]] = []
    for shipment, (start, gaps, _) in ((b.SHP, first), (b.SHP2, second)):
        found += [(shipment, DEP, start), (shipment, WAREHOUSE, start + gaps[0])]
    return found


def test_a_tranche_released_before_midnight_is_charged_that_day() -> None:
    """shp-1 departs at 23:00 on 2 March but reaches the line after a tick at 14:48 on
    3 March closed the 2nd (shp-2 had drawn at 10:00): its USD 66,000 tranche is booked at
    23:00 on the 2nd, and that day's interest on it (13.20) is posted as an adjustment keyed
    by the tranche, after the tranche."""
    other = b.milestone(DEP, 2, True, b.SHP2)
    state, outputs = run(
        new_state(b.FAC), [*SETUP, other, b.tick(24 + 6.8), b.milestone(DEP, 15, True, b.SHP)]
    )
    step = outputs[-1]
    assert [e.kind for e in step.entries] == [
        LedgerEntryKind.DRAWDOWN,
        LedgerEntryKind.INTEREST_ADJUSTMENT,
    ]
    drawdown, adjustment = step.entries
    assert drawdown.at == adjustment.at == b.at(15)
    drawdown_id = next(
        e.data for e in step.events if isinstance(e.data, DrawdownExecuted)
    ).drawdown_id
    assert adjustment.entry_id == entry_id(b.FAC, LedgerEntryKind.INTEREST_ADJUSTMENT, drawdown_id)
    adjusted = next(e.data for e in step.events if isinstance(e.data, InterestAdjusted))
    assert adjusted.cause_id == drawdown_id
    assert adjusted.amount.amount == Decimal("13.20")  # 66,000 x 7.3 % / 365, day 0
    assert state.principal == Decimal(132_000)
    _checked(state, outputs)
