"""Staged repayment plans enforced by the pledge engine: stories on one shipment.

shp-1 draws 66,000.00 at departure (hour 1) and is delivered at hour 240 (2026-03-12 08:00):
its plan, 30 and 60 days after delivery, owes 33,000.00 on 2026-04-11 08:00 and 33,000.00 on
2026-05-11 08:00; grace 5 days; default rate 10 %, one day of it on 33,000.00 is 9.04.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from finance.pledge_engine import EngineInput, run
from finance.positions import fold
from finance.repayment_plan import instalment_id, outstanding
from finance.step import Outputs
from tests.unit.finance import builders as b
from tradelane.contracts import Milestone
from tradelane.contracts.finance import LedgerEntryKind
from tradelane.contracts.registries import PlanStart
from tradelane.contracts.seller import DelayCode

DEP, DEL = Milestone.DEPARTED_ORIGIN, Milestone.DELIVERED
FIRST = instalment_id(b.SHP, 0, b.at(240))
ONE_DAY = Decimal("9.04")  # round_half_even(33,000.00 x 0.10 / 365)


def delivered(**terms: object) -> list[EngineInput]:
    plan = terms.pop("repayment_plan", b.plan())
    return [
        *b.setup(repayment_plan=plan, **terms),
        b.milestone(DEP, 1),
        b.milestone(DEL, 240),
    ]


def of_kind(outputs: list[Outputs], kind: str) -> list[object]:
    return [e.data for out in outputs for e in out.events if e.data.kind == kind]


def default_days(outputs: list[Outputs]) -> list[tuple[date, Decimal]]:
    return [(d.day, d.amount.amount) for d in of_kind(outputs, "default_interest_accrued")]  # type: ignore[attr-defined]


def days(first: date, count: int) -> list[tuple[date, Decimal]]:
    return [(first + timedelta(days=n), ONE_DAY) for n in range(count)]


def test_delivery_sets_the_plan_and_repays_nothing_from_proceeds() -> None:
    state, outputs = b.play(delivered())
    (plan,) = of_kind(outputs, "repayment_plan_set")
    amounts = [i.amount.amount for i in plan.instalments]  # type: ignore[attr-defined]
    assert amounts == [Decimal("33000.00"), Decimal("33000.00")]
    assert sum(amounts) == plan.principal.amount == Decimal("66000.00")  # type: ignore[attr-defined]
    assert [i.due for i in plan.instalments] == [b.at(240 + 24 * 30), b.at(240 + 24 * 60)]  # type: ignore[attr-defined]
    assert not of_kind(outputs, "repayment_applied")
    assert state.principal == Decimal("66000.00")
    shipment = state.shipments[b.SHP]
    assert outstanding(shipment.instalments) == shipment.principal
    assert shipment.pending_proceeds is None


def test_without_a_plan_delivery_proceeds_still_repay() -> None:
    state, outputs = b.play([*b.setup(), b.milestone(DEP, 1), b.milestone(DEL, 240)])
    assert of_kind(outputs, "repayment_applied")
    assert not of_kind(outputs, "repayment_plan_set")
    assert state.shipments[b.SHP].instalments == []


def test_on_time_payments_close_the_instalments_oldest_first_without_default() -> None:
    state, outputs = b.play(
        [
            *delivered(),
            b.repayment("40000", 24 * 35, "pay-1", b.SHP),
            b.tick(24 * 50),
            b.repayment("60000", 24 * 65, "pay-2"),  # names no shipment: the waterfall's order
            b.tick(24 * 80),
        ]
    )
    paid = of_kind(outputs, "instalment_paid")
    assert [(p.index, p.late, p.at) for p in paid] == [  # type: ignore[attr-defined]
        (0, False, b.at(24 * 35)),
        (1, False, b.at(24 * 65)),
    ]
    assert not of_kind(outputs, "instalment_overdue")
    assert default_days(outputs) == []
    assert state.principal == 0
    assert all(i.open_amount == 0 for i in state.shipments[b.SHP].instalments)


def test_a_late_instalment_is_announced_once_and_accrues_default_interest_after_grace() -> None:
    items = [*delivered(), b.tick(24 * 44), b.tick(24 * 50)]
    state, outputs = b.play(items)
    (overdue,) = of_kind(outputs, "instalment_overdue")
    assert overdue.instalment_id == FIRST  # type: ignore[attr-defined]
    assert overdue.at == b.at(240 + 24 * 35)  # type: ignore[attr-defined]  # due + 5 days' grace
    assert overdue.default_from == date(2026, 4, 17)  # type: ignore[attr-defined]
    assert default_days(outputs) == days(date(2026, 4, 17), 4)  # up to the tick's day
    entries = [e for out in outputs for e in out.entries]
    assert sum(e.kind is LedgerEntryKind.DEFAULT_INTEREST for e in entries) == 4
    position = fold(b.FAC, entries)
    assert position.verified
    assert position.interest_due == state.interest_due
    assert position.principal == state.principal
    # Redelivered inputs and later days announce nothing twice.
    _, again = run(state, [*items, b.tick(24 * 52)])
    assert not of_kind(again, "instalment_overdue")
    assert default_days(again) == days(date(2026, 4, 21), 2)


def test_paying_a_late_instalment_stops_its_default_interest() -> None:
    _, outputs = b.play(
        [*delivered(), b.tick(24 * 48), b.repayment("50000", 24 * 48 + 1, "pay-1"), b.tick(24 * 55)]
    )
    (paid, *_) = of_kind(outputs, "instalment_paid")
    assert paid.late  # type: ignore[attr-defined]
    assert default_days(outputs) == days(date(2026, 4, 17), 2)  # the 17th and 18th only


def test_an_approved_delay_defers_default_interest_to_the_new_date() -> None:
    new_due = 240 + 24 * 50  # 2026-05-01 08:00
    _, outputs = b.play(
        [
            *delivered(),
            b.delay_request(FIRST, new_due, 24 * 35),
            b.delay_decision(True, 24 * 36),
            b.tick(24 * 50),
            b.tick(24 * 70),
        ]
    )
    recorded = of_kind(outputs, "repayment_delay_recorded")
    assert [(r.decision, r.code) for r in recorded] == [  # type: ignore[attr-defined]
        ("requested", DelayCode.REQUESTED),
        ("approved", DelayCode.APPROVED),
    ]
    assert recorded[1].due_after == b.at(new_due)  # type: ignore[attr-defined]
    (overdue,) = of_kind(outputs, "instalment_overdue")
    assert overdue.due == b.at(new_due)  # type: ignore[attr-defined]
    assert default_days(outputs) == days(date(2026, 5, 7), 4)  # none before new due + grace


def test_a_refused_delay_changes_nothing() -> None:
    refused = [
        *delivered(),
        b.delay_request(FIRST, 240 + 24 * 50, 24 * 35),
        b.delay_decision(False, 24 * 36),
        b.tick(24 * 50),
    ]
    _, outputs = b.play(refused)
    _, late = b.play([*delivered(), b.tick(24 * 50)])
    codes = [r.code for r in of_kind(outputs, "repayment_delay_recorded")]  # type: ignore[attr-defined]
    assert codes == [DelayCode.REQUESTED, DelayCode.REFUSED]
    assert default_days(outputs) == default_days(late) == days(date(2026, 4, 17), 4)


def test_delay_requests_are_checked_and_applied_once() -> None:
    _, outputs = b.play(
        [
            *delivered(),
            b.delay_request(FIRST, 24 * 400, 24 * 20, "d-0", party="someone-else"),
            b.delay_request("no-such-instalment", 24 * 400, 24 * 20, "d-1"),
            b.delay_request(FIRST, 24 * 30, 24 * 20, "d-2"),  # earlier than its due date
            b.delay_request(FIRST, 24 * 400, 24 * 20, "d-3"),
            b.delay_request(FIRST, 24 * 400, 24 * 21, "d-3"),  # the same click again
            b.delay_decision(True, 24 * 22, "d-3", "a-0", party="shipper-1", role="borrower"),
            b.delay_decision(True, 24 * 22, "d-9", "a-1"),
            b.delay_decision(False, 24 * 23, "d-3", "a-2"),
            b.delay_decision(True, 24 * 24, "d-3", "a-3"),  # already refused
            b.delay_decision(True, 24 * 24, "d-3", "a-3"),  # redelivered
        ]
    )
    codes = [r.code for r in of_kind(outputs, "repayment_delay_recorded")]  # type: ignore[attr-defined]
    assert codes == [
        DelayCode.NOT_AUTHORISED,
        DelayCode.UNKNOWN_INSTALMENT,
        DelayCode.NOT_LATER,
        DelayCode.REQUESTED,
        DelayCode.NOT_AUTHORISED,
        DelayCode.UNKNOWN_REQUEST,
        DelayCode.REFUSED,
        DelayCode.ALREADY_DECIDED,
    ]


def test_a_sale_starts_a_sale_plan_and_its_proceeds_repay_nothing() -> None:
    plan = b.plan(start=PlanStart.SALE)
    state, outputs = b.play(
        [*delivered(repayment_plan=plan), b.sale("500000", 24 * 12, "sale-1", b.SHP)]
    )
    (set_,) = of_kind(outputs, "repayment_plan_set")
    assert set_.start == b.at(24 * 12)  # type: ignore[attr-defined]
    assert not of_kind(outputs, "repayment_applied")
    assert state.principal == Decimal("66000.00")
    assert state.shipments[b.SHP].pending_proceeds is None
