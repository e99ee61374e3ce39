"""The funding calendar: tranches dated from plan and ETA, priced like the engine would."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from finance.calendar import funding_calendar, render
from finance.facility_state import FacilityState
from tests.unit.finance.builders import (
    SHP,
    SHP2,
    at,
    booking,
    event,
    facility,
    milestone,
    play,
    setup,
)
from tradelane.contracts import EtaChanged, Milestone

DEP = Milestone.DEPARTED_ORIGIN
WH = Milestone.ENTERED_BONDED_WAREHOUSE
DLV = Milestone.DELIVERED
MARCH_2 = datetime(2026, 3, 2, tzinfo=UTC)


def departed() -> FacilityState:
    state, _ = play([*setup(), milestone(DEP, 1)])
    return state


Row = tuple[str, str, str, str, str, bool]


def rows(state: FacilityState, start: datetime = MARCH_2) -> list[Row]:
    calendar = funding_calendar(state, start)
    return [
        (
            line.day.isoformat(),
            line.kind,
            line.shipment_id,
            line.milestone.value,
            str(line.amount.amount) if line.amount else "-",
            line.overdue,
        )
        for line in calendar.lines
    ]


def test_expected_tranches_and_repayments_for_four_weeks() -> None:
    assert rows(departed()) == [
        ("2026-03-02", "drawdown", SHP2, DEP.value, "66000.00", False),
        ("2026-03-22", "drawdown", SHP, WH.value, "110000.00", False),
        ("2026-03-22", "drawdown", SHP2, WH.value, "110000.00", False),
        ("2026-03-24", "repayment", SHP, DLV.value, "176000.00", False),
        ("2026-03-24", "repayment", SHP2, DLV.value, "176000.00", False),
    ]
    calendar = funding_calendar(departed(), MARCH_2)
    assert calendar.total("drawdown") == Decimal("286000.00")
    assert calendar.outstanding == Decimal("66000.00")


def test_missed_milestones_are_overdue_and_listed_first() -> None:
    first = rows(departed(), datetime(2026, 3, 5, tzinfo=UTC))[0]
    assert first == ("2026-03-02", "drawdown", SHP2, DEP.value, "66000.00", True)


def test_a_later_eta_moves_arrival_and_what_follows() -> None:
    late = event(EtaChanged(at=at(30), eta=at(24 * 23), planned_arrival=at(24 * 20)), at(30), SHP)
    state, _ = play([*setup(), milestone(DEP, 1), late])
    mine = [r for r in rows(state) if r[2] == SHP]
    assert [(r[0], r[3]) for r in mine] == [("2026-03-25", WH.value), ("2026-03-27", DLV.value)]


def test_the_window_ends_after_four_weeks() -> None:
    state, _ = play([facility(), booking(SHP), milestone(DEP, 1)])
    assert rows(state, datetime(2026, 3, 25, tzinfo=UTC))[-1][1] == "repayment"
    later = rows(state, datetime(2026, 4, 30, tzinfo=UTC))
    assert later, "milestones due long ago and never reached stay on the list"
    assert all(overdue for *_, overdue in later)


def test_without_a_rate_amounts_are_unknown_not_zero() -> None:
    state, _ = play([facility(), booking(SHP), booking(SHP2)])
    assert {r[4] for r in rows(state)} == {"-"}
    assert "no FX rate" in render(funding_calendar(state, MARCH_2))


def test_render_is_a_table_with_totals() -> None:
    text = render(funding_calendar(departed(), MARCH_2))
    assert text.splitlines()[0] == "Funding calendar fac-1 (USD), 2026-03-02 .. 2026-03-29"
    assert "expected drawdowns 286,000.00 USD, repayments 352,000.00 USD" in text
