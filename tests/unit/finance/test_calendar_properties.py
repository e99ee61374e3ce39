"""Properties of the forward funding calendar (finance/calendar.py, finance/calendar_days.py),
over inputs built directly: any terms currency, interest rate and day count, one to three
shipments with any plan, ETA and milestones reached (in order or with one skipped), any
window. Plus the cases a passed milestone used to be listed as overdue, and a cash gap."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from finance.calendar import (
    CalendarInputs,
    CalendarLine,
    FundingCalendar,
    ShipmentPlan,
    eligible_at,
    funding_calendar,
)
from finance.collateral import MILESTONE_ORDER, STATUS_AFTER
from finance.ledger import entry_id
from finance.money import minor_exponent, quantum
from finance.positions import Movement, Position
from tests.unit.finance.builders import FAC, facility
from tradelane.contracts import CollateralStatus, Facility, Milestone, Money
from tradelane.contracts.finance import CollateralLine, LedgerEntryKind
from tradelane.contracts.registries import DayCount

EXAMPLES = int(os.environ.get("FINANCE_EXAMPLES", "150"))
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
DEP, ARR = Milestone.DEPARTED_ORIGIN, Milestone.ARRIVED_DESTINATION
WH, CUS, DLV = (
    Milestone.ENTERED_BONDED_WAREHOUSE,
    Milestone.CUSTOMS_CLEARED,
    Milestone.DELIVERED,
)
ARRIVAL_AND_AFTER = {ARR, WH, CUS, DLV}
ZERO = Decimal(0)


def terms(currency: str = "USD", rate: str = "0.073", **overrides: object) -> Facility:
    limit = Money(amount=Decimal(1_000_000), currency=currency)
    return facility(limit=limit, interest_rate=Decimal(rate), **overrides)


def collateral(
    facility_terms: Facility, shipment_id: str, status: CollateralStatus | None, value: Decimal
) -> CollateralLine:
    cur = facility_terms.limit.currency
    line = CollateralLine(
        shipment_id=shipment_id,
        status=status,
        value=Money(amount=value, currency=cur),
        advance_rate=Decimal(0),
        haircut=Decimal(0),
        eligible=Money(amount=Decimal(0), currency=cur),
    )
    if status is None:
        return line
    eligible = eligible_at(facility_terms, line, status) or Decimal(0)
    return line.model_copy(update={"eligible": Money(amount=eligible, currency=cur)})


@st.composite
def plans(draw: st.DrawFn, shipment_id: str) -> tuple[ShipmentPlan, Decimal]:
    """A single-leg shipment: planned departure and arrival, maybe an ETA, and the first k
    milestones reached (maybe with one skipped) at their expected times."""
    departure = T0 + timedelta(hours=draw(st.integers(-24 * 20, 24 * 20)))
    arrival = departure + timedelta(hours=draw(st.integers(24 * 6, 24 * 30)))
    eta = draw(st.none() | st.just(arrival + timedelta(hours=draw(st.integers(-24, 24 * 8)))))
    times = {DEP: departure, ARR: eta or arrival, WH: eta or arrival}
    order = [DEP, ARR, WH, CUS]
    count = draw(st.integers(0, 3))
    reached = {m: times.get(m, arrival) for m in order[:count]}
    if count >= 2 and draw(st.booleans()):
        del reached[order[count - 2]]  # a tracker missed one milestone
    value = Decimal(draw(st.integers(10_000, 400_000)))
    plan = ShipmentPlan(shipment_id, {DEP: departure, ARR: arrival}, eta, reached)
    return plan, value


@st.composite
def calendars(draw: st.DrawFn) -> tuple[CalendarInputs, datetime, int]:
    currency = draw(st.sampled_from(["USD", "JPY", "KWD"]))
    rate = draw(st.sampled_from(["0", "0.073", "0.1234"]))
    day_count = draw(st.sampled_from(list(DayCount)))
    ids = [f"shp-{i}" for i in range(draw(st.integers(1, 3)))]
    facility_terms = terms(currency, rate, pledged_shipments=ids, day_count=day_count)
    shipments, lines = {}, {}
    for shipment_id in ids:
        plan, value = draw(plans(shipment_id))
        furthest = [m for m in MILESTONE_ORDER if m in plan.reached]
        status = STATUS_AFTER[furthest[-1]] if furthest else None
        shipments[shipment_id] = plan
        lines[shipment_id] = collateral(facility_terms, shipment_id, status, value)
    q = quantum(currency)
    principal = Decimal(draw(st.integers(0, 300_000_000))) * Decimal("0.001")
    position = Position(
        FAC,
        currency=currency,
        principal=principal.quantize(q),
        interest_due=Decimal(draw(st.integers(0, 5000))).quantize(q),
        as_of=T0,
    )
    base = sum((line.eligible.amount for line in lines.values()), Decimal(0))
    inputs = CalendarInputs(facility_terms, position, base, lines, shipments)
    start = T0 + timedelta(days=draw(st.integers(-5, 30)))
    return inputs, start, draw(st.integers(1, 60))


def flow_day(cal: FundingCalendar, line: CalendarLine) -> date:
    return max(line.day, cal.start)


def moved(cal: FundingCalendar, kind: str, day: date | None = None) -> Decimal:
    """Principal the expected (and overdue) lines of ``kind`` move, on ``day`` or in all."""
    return sum(
        (
            line.amount.amount
            for line in cal.lines
            if line.kind == kind
            and line.status != "done"
            and line.amount is not None
            and (day is None or flow_day(cal, line) == day)
        ),
        Decimal(0),
    )


@settings(max_examples=EXAMPLES, deadline=None)
@given(calendars())
def test_rows_are_contiguous_and_explained_by_the_lines(
    drawn: tuple[CalendarInputs, datetime, int],
) -> None:
    inputs, start, days = drawn
    cal = funding_calendar(inputs, start, days)
    assert [r.day for r in cal.days] == [cal.start + timedelta(days=i) for i in range(days)]
    assert cal.days[0].opening == inputs.position.principal
    for before, row in zip(cal.days, cal.days[1:], strict=False):
        assert row.opening == before.outstanding  # no jump between days
    for row in cal.days:
        assert row.drawdowns == moved(cal, "drawdown", row.day)
        assert row.repayments == moved(cal, "repayment", row.day)
        assert row.outstanding == row.opening + row.drawdowns - row.repayments
        assert row.short == max(row.due - row.available, Decimal(0))
    change = cal.days[-1].outstanding - cal.days[0].opening
    assert moved(cal, "drawdown") - moved(cal, "repayment") == change
    assert sum(r.interest for r in cal.days) == sum(w.interest for w in cal.weeks)
    assert moved(cal, "interest") == sum(w.interest for w in cal.weeks)
    assert [g.day for g in cal.warnings] == [r.day for r in cal.days if r.short > 0]


@settings(max_examples=EXAMPLES, deadline=None)
@given(calendars())
def test_every_amount_is_on_the_currencys_minor_unit(
    drawn: tuple[CalendarInputs, datetime, int],
) -> None:
    inputs, start, days = drawn
    cal = funding_calendar(inputs, start, days)
    exponent = -minor_exponent(cal.currency)
    amounts = [line.amount.amount for line in cal.lines if line.amount is not None]
    for row in cal.days:
        amounts += [
            row.opening, row.drawdowns, row.repayments, row.interest, row.outstanding,
            row.interest_due, row.base, row.headroom, row.due, row.available, row.short,
        ]  # fmt: skip
    for week in cal.weeks:
        amounts += [week.drawdowns, week.repayments, week.interest, week.outstanding]
        amounts += [week.headroom_min, week.short]
    assert all(isinstance(a, Decimal) for a in amounts)
    assert {a.as_tuple().exponent for a in amounts} <= {exponent}


@settings(max_examples=EXAMPLES, deadline=None)
@given(calendars())
def test_a_reached_milestone_never_yields_an_overdue_line(
    drawn: tuple[CalendarInputs, datetime, int],
) -> None:
    inputs, start, days = drawn
    cal = funding_calendar(inputs, start, days)
    for line in cal.lines:
        if line.shipment_id is None or line.milestone is None:
            continue
        plan = inputs.shipments[line.shipment_id]
        furthest = max((MILESTONE_ORDER.index(m) for m in plan.reached), default=-1)
        if line.status == "overdue":
            assert line.milestone not in plan.reached
            assert MILESTONE_ORDER.index(line.milestone) > furthest
        if line.status == "done":
            assert (line.basis, line.certainty) == ("reached", "certain")


@settings(max_examples=EXAMPLES, deadline=None)
@given(calendars(), st.integers(-5, 5), st.data())
def test_moving_the_eta_moves_arrival_and_after_by_as_much_and_no_amount(
    drawn: tuple[CalendarInputs, datetime, int], k: int, data: st.DataObject
) -> None:
    inputs, start, days = drawn
    shipment_id = data.draw(st.sampled_from(sorted(inputs.shipments)))
    plan = inputs.shipments[shipment_id]
    eta = plan.eta or plan.planned[ARR]
    later = replace(plan, eta=eta + timedelta(days=k))
    moved_inputs = replace(inputs, shipments={**inputs.shipments, shipment_id: later})
    before = funding_calendar(inputs, start, days)
    after = funding_calendar(moved_inputs, start, days)

    def keyed(cal: FundingCalendar) -> dict[tuple[str, Milestone, str], CalendarLine]:
        return {
            (line.shipment_id, line.milestone, line.kind): line
            for line in cal.lines
            if line.shipment_id is not None and line.milestone is not None
        }

    old, new = keyed(before), keyed(after)
    for key in old.keys() & new.keys():
        assert old[key].amount == new[key].amount
        shipment, milestone, _ = key
        expected = old[key].status == new[key].status == "expected"
        by_eta = ARR not in plan.reached  # once arrived, the actual arrival dates what follows
        if shipment == shipment_id and milestone in ARRIVAL_AND_AFTER and expected and by_eta:
            assert new[key].day == old[key].day + timedelta(days=k)
        elif milestone not in ARRIVAL_AND_AFTER or shipment != shipment_id or not by_eta:
            assert new[key].day == old[key].day


# Cases: a milestone that happened is never overdue, whatever reached the read model first.

MARCH_10 = datetime(2026, 3, 10, tzinfo=UTC)


def one_shipment(
    plan: ShipmentPlan, status: CollateralStatus | None, **overrides: object
) -> CalendarInputs:
    facility_terms = facility(pledged_shipments=[plan.shipment_id], **overrides)
    line = collateral(facility_terms, plan.shipment_id, status, Decimal(200_000))
    return CalendarInputs(
        facility_terms, lent_at_departure(plan.shipment_id), line.eligible.amount,
        {plan.shipment_id: line}, {plan.shipment_id: plan},
    )  # fmt: skip


def lent_at_departure(shipment_id: str, amount: Decimal = Decimal("60000.00")) -> Position:
    """A position whose one drawdown the ledger booked at the shipment's departure."""
    drawn = entry_id(FAC, LedgerEntryKind.DRAWDOWN, shipment_id, DEP.value)
    move = Movement(0, drawn, LedgerEntryKind.DRAWDOWN, T0, "0" * 64, amount, *(ZERO, ZERO),
                    amount, ZERO)  # fmt: skip
    return Position(FAC, "USD", amount, drawn=amount, head_seq=0, as_of=T0, movements=[move])


def statuses(cal: FundingCalendar) -> list[tuple[str, str, str]]:
    return [
        (line.day.isoformat(), line.milestone.value, line.status)
        for line in cal.lines
        if line.milestone is not None
    ]


def test_a_skipped_milestone_is_passed_not_overdue() -> None:
    schedule = {ARR.value: Decimal("0.5"), WH.value: Decimal(1)}
    planned = {DEP: T0, ARR: T0 + timedelta(days=5)}
    plan = ShipmentPlan("shp-1", planned, reached={DEP: T0, WH: T0 + timedelta(days=6)})
    inputs = one_shipment(plan, CollateralStatus.IN_WAREHOUSE, drawdown_schedule=schedule)
    # arrival (planned 03-07) was passed on the way to the warehouse: only the delivery is
    # left, due 03-09 and not reached, so it alone is overdue
    assert statuses(funding_calendar(inputs, MARCH_10)) == [("2026-03-09", DLV.value, "overdue")]


def test_a_milestone_the_engine_is_past_is_not_overdue_before_its_event_arrives() -> None:
    plan = ShipmentPlan("shp-1", {DEP: T0, ARR: T0 + timedelta(days=5)}, reached={DEP: T0})
    behind = one_shipment(plan, CollateralStatus.IN_TRANSIT)
    assert ("2026-03-07", WH.value, "overdue") in statuses(funding_calendar(behind, MARCH_10))
    ahead = one_shipment(plan, CollateralStatus.IN_WAREHOUSE)  # the base saw the warehouse
    assert statuses(funding_calendar(ahead, MARCH_10)) == [("2026-03-09", DLV.value, "overdue")]


def test_a_reported_eta_makes_the_near_lines_firm_and_dates_delivery_from_it() -> None:
    eta = MARCH_10 + timedelta(days=3, hours=6)
    plan = ShipmentPlan("shp-1", {DEP: T0, ARR: T0 + timedelta(days=5)}, eta, {DEP: T0})
    cal = funding_calendar(one_shipment(plan, CollateralStatus.IN_TRANSIT), MARCH_10)
    found = {
        line.milestone: (line.day.isoformat(), line.basis, line.eta, line.certainty)
        for line in cal.lines
        if line.milestone is not None
    }
    assert found == {
        WH: ("2026-03-13", "eta", eta, "firm"),
        DLV: ("2026-03-15", "delivery_lag", eta, "estimated"),
    }
    far = funding_calendar(one_shipment(plan, CollateralStatus.IN_TRANSIT), MARCH_10, firm_days=3)
    assert {line.certainty for line in far.lines} == {"estimated"}


def test_a_delivery_day_shows_the_cash_gap_the_buyer_must_cover() -> None:
    eta = MARCH_10 + timedelta(days=3)
    plan = ShipmentPlan("shp-1", {DEP: T0, ARR: T0 + timedelta(days=5)}, eta, {DEP: T0})
    cal = funding_calendar(one_shipment(plan, CollateralStatus.IN_TRANSIT), MARCH_10, days=7)
    # 200,000 x 0.8 in the warehouse tops the 60,000 lent up to 160,000, repaid on delivery
    day = {row.day.isoformat(): row for row in cal.days}
    assert (day["2026-03-13"].drawdowns, day["2026-03-13"].outstanding) == (
        Decimal("100000.00"),
        Decimal("160000.00"),
    )
    delivery = day["2026-03-15"]
    interest = sum((r.interest for r in cal.days if r.day < delivery.day), Decimal(0))
    assert delivery.repayments == Decimal("160000.00")
    assert delivery.due == Decimal("160000.00") + interest
    assert (delivery.base, delivery.available) == (Decimal("0.00"), Decimal("0.00"))
    assert [(g.day.isoformat(), g.short) for g in cal.warnings] == [("2026-03-15", delivery.due)]
    assert day["2026-03-10"].interest == Decimal("12.00")  # 60,000 x 7.3 % / 365
    assert [line.amount for line in cal.lines if line.kind == "interest"] == [
        Money(amount=interest + delivery.interest + day["2026-03-16"].interest, currency="USD")
    ]
