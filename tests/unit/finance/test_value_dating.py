"""Value dating: a repayment is booked as of its event time, whenever it arrives.

The property: for a line that draws, closes days and receives a payout (and perhaps another
repayment and a second tranche in between), booking the payout in event-time order or after
later day ticks, repayments and drawdowns gives the same interest income, the same
outstanding principal and the same interest due, to the cent. Then the adjustment entry
itself: its id, its balance, its fold, a redelivery, and the window's limit.
"""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from finance.facility_state import FacilityState, dump_state, load_state, new_state
from finance.ledger import entry_id, verify
from finance.pledge_engine import EngineInput, apply, run
from finance.positions import fold
from finance.step import Outputs
from finance.value_dating import WINDOW_DAYS
from tests.unit.finance import builders as b
from tradelane.contracts import Milestone
from tradelane.contracts.finance import (
    InterestAccrued,
    InterestAdjusted,
    LedgerEntryKind,
    RepaymentApplied,
    RepaymentSource,
    ValueDateLimited,
)

DEP = Milestone.DEPARTED_ORIGIN
WAREHOUSE = Milestone.ENTERED_BONDED_WAREHOUSE
SETUP: list[EngineInput] = [b.facility(), b.booking(b.SHP), b.booking(b.SHP2), b.eur_usd()]


def _interest(outputs: list[Outputs]) -> Decimal:
    """Interest income as the events state it: accruals plus signed corrections."""
    return sum(
        (
            e.data.amount.amount
            for out in outputs
            for e in out.events
            if isinstance(e.data, InterestAccrued | InterestAdjusted)
        ),
        Decimal(0),
    )


def _play(items: list[EngineInput]) -> tuple[FacilityState, list[Outputs]]:
    return run(new_state(b.FAC), [*SETUP, *items])


def _checked(state: FacilityState, outputs: list[Outputs]) -> None:
    """The ledger folds to the engine's figures and verifies."""
    entries = [e for out in outputs for e in out.entries]
    position = fold(b.FAC, entries)
    assert position.verified, position.problems
    assert position.principal == state.principal
    assert position.interest_due == state.interest_due
    assert position.interest_accrued == _interest(outputs)
    assert verify(b.FAC, entries).ok


HOURS = st.integers(6, 24 * 40)


@settings(max_examples=int(os.environ.get("FINANCE_EXAMPLES", "150")), deadline=None)
@given(
    payout_at=HOURS,
    payout=st.decimals(Decimal(1), Decimal(90_000), places=2),
    named=st.sampled_from([None, b.SHP]),
    ticks=st.lists(HOURS, min_size=1, max_size=12),
    other=st.none() | st.tuples(HOURS, st.decimals(Decimal(1), Decimal(5_000), places=2)),
    second_draw=st.none() | HOURS,
)
def test_a_late_payout_books_what_an_event_time_run_books(
    payout_at: int,
    payout: Decimal,
    named: str | None,
    ticks: list[int],
    other: tuple[int, Decimal] | None,
    second_draw: int | None,
) -> None:
    timed: list[tuple[int, EngineInput]] = [(0, b.milestone(DEP, 0, True, b.SHP))]
    timed += [(h, b.tick(h)) for h in ticks]
    if other is not None:
        timed.append((other[0], b.repayment(str(other[1]), other[0], "borrower-1")))
    if second_draw is not None:
        timed.append((second_draw, b.milestone(DEP, second_draw, True, b.SHP2)))
    pay = b.repayment(str(payout), payout_at, "claim-1", named, source=RepaymentSource.INSURANCE)
    horizon = b.tick(24 * 45)
    in_order = [i for _, i in sorted([*timed, (payout_at, pay)], key=lambda t: t[0])]
    late = [i for _, i in sorted(timed, key=lambda t: t[0])]
    ordered, out_ordered = _play([*in_order, horizon])
    delayed, out_delayed = _play([*late, pay, horizon])
    assert _interest(out_delayed) == _interest(out_ordered)
    assert delayed.principal == ordered.principal
    assert delayed.interest_due == ordered.interest_due
    for shipment in (b.SHP, b.SHP2):
        held = ordered.shipments.get(shipment)
        assert delayed.shipments[shipment].principal == (0 if held is None else held.principal)
    _checked(ordered, out_ordered)
    _checked(delayed, out_delayed)


def test_the_adjustment_entry_corrects_the_closed_days_once() -> None:
    """A payout of USD 30,000 at day 2 arriving after day 6 closed: its waterfall takes only
    the interest due at day 2, and one adjustment entry, posted just before it, takes back the
    interest its principal accrued on days 2-5; redelivered, it moves nothing."""
    pay = b.repayment("30000", 48, "claim-7", b.SHP, source=RepaymentSource.INSURANCE)
    state, outputs = _play([b.milestone(DEP, 0, True, b.SHP), b.tick(24 * 6 + 1), pay])
    step = outputs[-1]
    kinds = [e.kind for e in step.entries]
    assert kinds == [LedgerEntryKind.INTEREST_ADJUSTMENT, LedgerEntryKind.REPAYMENT]
    adjustment = step.entries[0]
    assert adjustment.entry_id == entry_id(b.FAC, LedgerEntryKind.INTEREST_ADJUSTMENT, "claim-7")
    assert adjustment.at == b.at(48)
    applied = [e.data for e in step.events if isinstance(e.data, RepaymentApplied)]
    assert applied[0].at == b.at(48)
    assert applied[0].interest_paid.amount == Decimal("26.40")  # days 0 and 1 on 66,000
    adjusted = next(e.data for e in step.events if isinstance(e.data, InterestAdjusted))
    assert [d.day for d in adjusted.days] == [(b.at(24 * k)).date() for k in range(2, 6)]
    assert all(d.principal_after.amount == Decimal("36026.40") for d in adjusted.days)
    assert adjusted.amount.amount == Decimal("-23.96")  # 4 x (7.21 - 13.20)
    assert adjusted.ledger_seq == adjustment.seq
    _checked(state, outputs)
    again, repeat = apply(state, pay)
    assert repeat.entries == ()
    assert repeat.events == ()
    assert dump_state(again) == dump_state(state)
    assert load_state(dump_state(state)) == state


def test_a_value_date_before_the_window_is_booked_at_the_clock() -> None:
    days = WINDOW_DAYS + 5
    pay = b.repayment("1000", 30, "claim-old", source=RepaymentSource.INSURANCE)
    state, outputs = _play([b.milestone(DEP, 0, True, b.SHP), b.tick(24 * days + 2), pay])
    step = outputs[-1]
    limited = [e.data for e in step.events if isinstance(e.data, ValueDateLimited)]
    assert len(limited) == 1
    assert limited[0].value_date == b.at(30)
    assert limited[0].at == b.at(24 * days + 2)
    assert state.window_from is not None
    assert limited[0].window_from == state.window_from > b.at(30)
    assert [e.kind for e in step.entries] == [LedgerEntryKind.REPAYMENT]
    assert step.entries[0].at == b.at(24 * days + 2)
    assert len(state.closed_days) == WINDOW_DAYS
    assert state.closed_days[0].day == (b.at(24 * days + 2) - timedelta(days=WINDOW_DAYS)).date()
    _checked(state, outputs)
