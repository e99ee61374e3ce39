"""The funding calendar: projected from what the worker published (ledger, base, plans, ETAs,
milestones), dated from plan and ETA, and stating the ledger's balance.

Each test runs the engine once, as the worker would, turns its outputs and inputs into the
records Kafka would carry, folds them into the API's read model and asks for the calendar the
way the API and ``tradelane finance calendar`` do."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from api.finance_reads import calendar
from api.projection import ReadModel, apply
from finance.calendar import FundingCalendar, render
from finance.pledge_engine import EngineInput
from tests.unit.finance.builders import (
    FAC,
    SHP,
    SHP2,
    at,
    booking,
    event,
    facility,
    milestone,
    play,
    repayment,
    setup,
)
from tradelane.contracts import EtaChanged, Facility, Milestone, ShipmentBooking, ShipmentEvent
from tradelane.contracts.finance import RepaymentSource
from tradelane.topics import (
    FINANCE_EVENTS,
    FINANCE_FACILITIES,
    FINANCE_LEDGER,
    SHIPMENTS_EVENTS,
    SHIPMENTS_REGISTRY,
)

DEP = Milestone.DEPARTED_ORIGIN
WH = Milestone.ENTERED_BONDED_WAREHOUSE
DLV = Milestone.DELIVERED
MARCH_2 = datetime(2026, 3, 2, tzinfo=UTC)


def published(items: list[EngineInput]) -> list[tuple[str, bytes]]:
    """The records Kafka holds once the worker has applied ``items``: the registries and
    shipment events it read, the finance events and ledger entries it wrote."""
    topics = {
        Facility: FINANCE_FACILITIES.name,
        ShipmentBooking: SHIPMENTS_REGISTRY.name,
        ShipmentEvent: SHIPMENTS_EVENTS.name,
    }
    records = [
        (topics[type(item)], item.model_dump_json().encode())
        for item in items
        if type(item) in topics
    ]
    _, outputs = play(items)
    for out in outputs:
        records += [(FINANCE_EVENTS.name, e.model_dump_json().encode()) for e in out.events]
        records += [(FINANCE_LEDGER.name, e.model_dump_json().encode()) for e in out.entries]
    return records


def projected(items: list[EngineInput], start: datetime = MARCH_2) -> FundingCalendar:
    model = ReadModel()
    for topic, value in published(items):
        apply(model, topic, value)
    return calendar(model, model.facilities[FAC], start, 28)


Row = tuple[str, str, str, str, str, str]


def rows(items: list[EngineInput], start: datetime = MARCH_2) -> list[Row]:
    return [
        (
            line.day.isoformat(),
            line.kind,
            line.shipment_id,
            line.milestone.value,
            str(line.amount.amount) if line.amount else "-",
            line.status,
        )
        for line in projected(items, start).lines
        if line.shipment_id is not None and line.milestone is not None
    ]


DEPARTED: list[EngineInput] = [*setup(), milestone(DEP, 1)]


def test_expected_tranches_and_repayments_for_four_weeks() -> None:
    assert rows(DEPARTED) == [
        ("2026-03-02", "drawdown", SHP, DEP.value, "66000.00", "done"),
        ("2026-03-02", "drawdown", SHP2, DEP.value, "66000.00", "expected"),
        ("2026-03-22", "drawdown", SHP, WH.value, "110000.00", "expected"),
        ("2026-03-22", "drawdown", SHP2, WH.value, "110000.00", "expected"),
        ("2026-03-24", "repayment", SHP, DLV.value, "176000.00", "expected"),
        ("2026-03-24", "repayment", SHP2, DLV.value, "176000.00", "expected"),
    ]
    cal = projected(DEPARTED)
    assert cal.total("drawdown") == Decimal("286000.00")
    assert (cal.outstanding, cal.base, cal.headroom) == (
        Decimal("66000.00"),
        Decimal("132000.00"),
        Decimal("66000.00"),
    )
    assert cal.ledger_seq == 0
    assert cal.as_of == at(1)


def test_missed_milestones_are_overdue_and_listed_first_reached_ones_never() -> None:
    found = rows(DEPARTED, datetime(2026, 3, 5, tzinfo=UTC))
    assert found[0] == ("2026-03-02", "drawdown", SHP2, DEP.value, "66000.00", "overdue")
    assert [r for r in found if r[2] == SHP and r[3] == DEP.value] == []  # reached: not overdue


def test_the_balance_is_the_ledgers_after_a_repayment() -> None:
    items = [*DEPARTED, repayment("16000", 30, "pay-1", SHP, "USD", RepaymentSource.BORROWER)]
    state, _ = play(items)
    cal = projected(items)
    assert (
        cal.outstanding == state.principal == Decimal("66000.00") - (16000 - state_interest(items))
    )
    mine = {
        line.milestone: line.amount.amount
        for line in cal.lines
        if line.shipment_id == SHP and line.amount is not None
    }
    top_up = Decimal("176000.00") - state.shipments[SHP].principal  # to the full advance
    assert (mine[WH], mine[DLV]) == (top_up, Decimal("176000.00"))


def state_interest(items: list[EngineInput]) -> Decimal:
    """Interest the repayment paid first (one day closed)."""
    _, outputs = play(items)
    return sum(
        (
            e.data.interest_paid.amount
            for o in outputs
            for e in o.events
            if e.data.kind == "repayment_applied"
        ),
        Decimal(0),
    )


def test_a_later_eta_moves_arrival_and_what_follows() -> None:
    late = event(EtaChanged(at=at(30), eta=at(24 * 23), planned_arrival=at(24 * 20)), at(30), SHP)
    mine = [r for r in rows([*DEPARTED, late]) if r[2] == SHP and r[5] != "done"]
    assert [(r[0], r[3]) for r in mine] == [("2026-03-25", WH.value), ("2026-03-27", DLV.value)]


def test_the_window_ends_after_four_weeks() -> None:
    items: list[EngineInput] = [facility(), booking(SHP), milestone(DEP, 1)]
    assert rows(items, datetime(2026, 3, 25, tzinfo=UTC))[-1][1] == "repayment"
    later = rows(items, datetime(2026, 4, 30, tzinfo=UTC))
    assert later, "milestones due long ago and never reached stay on the list"
    assert all(status == "overdue" for *_, status in later)


def test_without_a_rate_amounts_are_unknown_not_zero() -> None:
    items: list[EngineInput] = [facility(), booking(SHP), booking(SHP2)]
    assert {r[4] for r in rows(items)} == {"-"}
    assert "no FX rate" in render(projected(items))


def test_a_delivered_shipment_drops_off_and_its_repayment_is_in_the_balance() -> None:
    delivered = [*DEPARTED, milestone(DLV, 24 * 20)]
    cal = projected(delivered)
    assert {line.shipment_id for line in cal.lines if line.kind != "interest"} == {SHP2}
    assert cal.outstanding == 0


def test_render_is_a_table_with_totals() -> None:
    text = render(projected(DEPARTED))
    assert text.splitlines()[0] == "Funding calendar fac-1 (USD), 2026-03-02 .. 2026-03-29"
    assert "still expected: drawdowns 286,000.00 USD, repayments 352,000.00 USD" in text
