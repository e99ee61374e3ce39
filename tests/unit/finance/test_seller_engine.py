"""The seller's side of the pledge engine: confirming tranches and reminders of what to expect.

Facilities in these stories confirm tranches (``Facility.confirmation``) and remind 3 days
ahead; the departure tranche of shp-1 is 66,000.00 (half of 60 % of EUR 200,000 at 1.10).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from finance.pledge_engine import EngineInput
from finance.repayment_plan import instalment_id
from finance.step import Outputs
from tests.unit.finance.builders import (
    SHP,
    SHP2,
    at,
    decision,
    eta,
    milestone,
    plan,
    play,
    setup,
    tick,
)
from tradelane.contracts import Milestone
from tradelane.contracts.finance import LedgerEntryKind, ResultCode
from tradelane.contracts.seller import Choice, ConfirmationTerms, DecisionCode

DEP = Milestone.DEPARTED_ORIGIN
WH = Milestone.ENTERED_BONDED_WAREHOUSE
TRANCHE = Decimal("66000.00")


def confirming(on_deadline: str = "skip", reminder_days: int = 0) -> list[EngineInput]:
    terms = ConfirmationTerms(window_hours=48, on_deadline=on_deadline)
    return setup(confirmation=terms, reminder_days=reminder_days)


def of_kind(outputs: list[Outputs], kind: str) -> list[object]:
    return [e.data for out in outputs for e in out.events if e.data.kind == kind]


def drawn(outputs: list[Outputs]) -> list[Decimal]:
    return [
        p.amount
        for out in outputs
        for entry in out.entries
        if entry.kind is LedgerEntryKind.DRAWDOWN
        for p in entry.postings
        if p.direction.value == "debit"
    ]


def codes(outputs: list[Outputs]) -> list[DecisionCode]:
    return [d.code for d in of_kind(outputs, "tranche_decision_recorded")]  # type: ignore[attr-defined]


def test_a_reached_tranche_waits_then_one_click_draws_it_once() -> None:
    state, outputs = play(
        [
            *confirming(),
            milestone(DEP, 1),
            decision(DEP, 5),
            decision(DEP, 6),  # the same click again: same request id
            decision(DEP, 7, request_id="click-2"),  # another click, after the money moved
        ]
    )
    waiting = of_kind(outputs, "tranche_awaiting_confirmation")
    assert [w.amount.amount for w in waiting] == [TRANCHE]  # type: ignore[attr-defined]
    assert drawn(outputs) == [TRANCHE]
    assert codes(outputs) == [DecisionCode.EXECUTED, DecisionCode.ALREADY_DECIDED]
    assert state.principal == TRANCHE
    executed = of_kind(outputs, "drawdown_executed")
    assert [e.at for e in executed] == [decision(DEP, 5).at]  # type: ignore[attr-defined]


def test_a_decision_before_the_milestone_applies_when_it_is_reached() -> None:
    _, declined = play([*confirming(), decision(DEP, 0.5, Choice.DECLINE), milestone(DEP, 1)])
    assert drawn(declined) == []
    assert codes(declined) == [DecisionCode.RECORDED]
    rejected = of_kind(declined, "drawdown_rejected")
    assert [r.code for r in rejected] == [ResultCode.DECLINED_BY_BORROWER]  # type: ignore[attr-defined]
    _, resized = play(
        [*confirming(), decision(DEP, 0.5, Choice.CHANGE_AMOUNT, "5000"), milestone(DEP, 1)]
    )
    assert drawn(resized) == [Decimal(5000)]


def test_asking_for_more_than_the_tranche_draws_the_tranche() -> None:
    _, outputs = play(
        [*confirming(), milestone(DEP, 1), decision(DEP, 2, Choice.CHANGE_AMOUNT, "900000")]
    )
    assert drawn(outputs) == [TRANCHE]


def test_at_the_deadline_a_tranche_is_skipped_or_executed_as_the_terms_say() -> None:
    _, skipped = play([*confirming("skip"), milestone(DEP, 1), tick(60)])
    assert drawn(skipped) == []
    expired = of_kind(skipped, "tranche_expired")
    assert [(e.outcome, e.at) for e in expired] == [  # type: ignore[attr-defined]
        ("skipped", milestone(DEP, 49).time)
    ]
    _, executed = play([*confirming("execute"), milestone(DEP, 1), tick(60)])
    assert drawn(executed) == [TRANCHE]
    late, _ = play([*confirming("skip"), milestone(DEP, 1), tick(60), decision(DEP, 61)])
    assert late.principal == 0


def test_only_the_facilitys_borrower_or_an_operator_decides() -> None:
    _, outputs = play(
        [
            *confirming(),
            milestone(DEP, 1),
            decision(DEP, 2, request_id="a", party="someone-else"),
            decision(DEP, 3, request_id="b", role="bank", party="bank-1"),
        ]
    )
    assert codes(outputs) == [DecisionCode.NOT_AUTHORISED, DecisionCode.NOT_AUTHORISED]
    assert drawn(outputs) == []
    _, by_ops = play([*confirming(), milestone(DEP, 1), decision(DEP, 2, role="operator")])
    assert drawn(by_ops) == [TRANCHE]


def test_a_facility_without_confirmation_refuses_decisions_and_draws_at_once() -> None:
    _, outputs = play([*setup(), decision(DEP, 0.5, Choice.DECLINE), milestone(DEP, 1)])
    assert codes(outputs) == [DecisionCode.CONFIRMATION_NOT_REQUIRED]
    assert drawn(outputs) == [TRANCHE]


CLICK = st.builds(
    lambda choice, hours, n, amount: decision(
        DEP,
        hours,
        choice,
        amount if choice is Choice.CHANGE_AMOUNT else None,
        request_id=f"click-{n}",
    ),
    st.sampled_from(Choice),
    st.integers(0, 60),
    st.integers(0, 3),
    st.sampled_from(["1000", "66000", "500000"]),
)


@settings(max_examples=200, deadline=None)
@given(
    clicks=st.lists(CLICK, max_size=6),
    reached=st.integers(0, 40),
    repeats=st.lists(st.integers(0, 5), max_size=4),
    on_deadline=st.sampled_from(["skip", "execute"]),
)
def test_whatever_the_clicks_the_tranche_moves_money_at_most_once_and_at_most_its_size(
    clicks: list[EngineInput], reached: int, repeats: list[int], on_deadline: str
) -> None:
    """Any decisions, before or after the milestone, repeated in any order: one tranche at
    most, never above the rules' tranche, and the same stream replayed gives the same books."""
    story = [*clicks, milestone(DEP, reached)]
    story.sort(key=lambda item: item.at if hasattr(item, "at") else item.time)  # type: ignore[union-attr]
    for n in repeats:  # redeliveries, late
        if n < len(story):
            story.append(story[n])
    items = [*confirming(on_deadline), *story, tick(24 * 5)]
    state, outputs = play(items)
    amounts = drawn(outputs)
    assert len(amounts) <= 1
    assert all(Decimal(0) < a <= TRANCHE for a in amounts)
    assert state.principal == sum(amounts, Decimal(0))
    again, replayed = play(items)
    assert again == state
    assert [o.events for o in replayed] == [o.events for o in outputs]


def test_reminders_come_three_days_ahead_once_and_again_when_the_date_moves() -> None:
    """shp-1 departs at hour 0 and is planned to arrive at hour 480 (22 March, 08:00); the
    warehouse tranche (110,000.00: 80 % of 220,000 less the 66,000 lent) is expected on
    arrival, the delivery repayment two days later."""
    items = [
        *setup(reminder_days=3),
        milestone(DEP, 1),
        tick(24 * 16),  # 18 March: arrival 4 days away, nothing yet
        tick(24 * 17 + 1),  # 19 March: within 3 days -> the warehouse tranche
        tick(24 * 18 + 1),  # 20 March: nothing new
        eta(24 * 18 + 2, 24 * 20 + 12),  # the same day, 12 h later: not moved enough
        eta(24 * 18 + 3, 24 * 22 + 6),  # two days later: 4 days away, not yet
        tick(24 * 21 + 1),  # 23 March: within 3 days again -> re-sent, saying from when
    ]
    _, outputs = play(items)
    reminders = [r for r in of_kind(outputs, "funding_reminder") if r.shipment_id == SHP]  # type: ignore[attr-defined]
    seen = [
        (r.line, r.expected_on.day, r.previous_expected_on, r.basis, r.amount.amount)  # type: ignore[attr-defined]
        for r in reminders
    ]
    assert seen == [
        ("drawdown", 22, None, "plan", Decimal("110000.00")),
        ("drawdown", 24, date(2026, 3, 22), "eta", Decimal("110000.00")),
        ("repayment", 26, None, "eta", Decimal("176000.00")),  # all lent by then
    ]
    assert all(not r.needs_confirmation for r in reminders)  # type: ignore[attr-defined]
    _, again = play(items)
    assert [e.id for out in again for e in out.events] == [
        e.id for out in outputs for e in out.events
    ]


def test_a_reminder_of_a_tranche_that_waits_for_the_borrower_says_so() -> None:
    _, outputs = play([*confirming(reminder_days=3), milestone(DEP, 1), tick(24 * 17 + 1)])
    reminders = of_kind(outputs, "funding_reminder")
    mine = [(r.milestone, r.needs_confirmation) for r in reminders if r.shipment_id == SHP]  # type: ignore[attr-defined]
    assert mine == [(WH, True)]
    # shp-2 never departed: its departure, planned for the day the facility first heard of
    # anything, was reminded that day
    others = [(r.milestone, r.expected_on.day) for r in reminders if r.shipment_id == SHP2]  # type: ignore[attr-defined]
    assert others[0] == (DEP, 2)


def test_with_a_staged_plan_the_instalments_are_reminded_not_the_delivery() -> None:
    """Delivered 12 March (hour 240); the plan owes half on 11 April and half on 11 May."""
    items = [
        *setup(reminder_days=3, repayment_plan=plan()),
        milestone(DEP, 1),
        milestone(Milestone.DELIVERED, 240),
        tick(24 * 36),  # 7 April: the first instalment is 4 days away
        tick(24 * 37 + 1),  # 8 April: within 3 days
    ]
    _, outputs = play(items)
    reminders = [r for r in of_kind(outputs, "funding_reminder") if r.shipment_id == SHP]  # type: ignore[attr-defined]
    seen = [(r.line, r.expected_on, r.amount.amount, r.instalment_id) for r in reminders]  # type: ignore[attr-defined]
    assert seen == [
        ("repayment", date(2026, 4, 11), Decimal("33000.00"), instalment_id(SHP, 0, at(240)))
    ]


def test_a_redelivered_eta_reviews_nothing_so_a_replay_sends_the_same_reminders() -> None:
    """shp-1 arrives on 12 March (hour 241), ten days early, after that day's review: its
    repayment, two days after arrival, is now within 3 days, and is reminded at the next
    day's review (13 March). An ETA estimate redelivered in between moves no ETA, so it must
    not review the lines early (it used to, at the later clock, and sent reminders the first
    delivery never sent)."""
    estimate = eta(24 * 5, 24 * 30)  # 7 March: arrival expected on 1 April
    before = [*setup(reminder_days=3), milestone(DEP, 1), estimate, tick(24 * 10)]
    after = [tick(24 * 11)]  # 13 March: the day's review
    arrival = milestone(Milestone.ARRIVED_DESTINATION, 24 * 10 + 1)
    _, once = play([*before, arrival, *after])
    _, redelivered = play([*before, arrival, estimate, *after])

    assert redelivered[len(before) + 1].events == ()
    assert [e for o in redelivered for e in o.events] == [e for o in once for e in o.events]
    mine = [r for r in of_kind(once[-1:], "funding_reminder") if r.shipment_id == SHP]  # type: ignore[attr-defined]
    assert [(r.line, r.expected_on.day) for r in mine] == [("repayment", 14)]  # type: ignore[attr-defined]


def test_two_estimates_made_at_once_keep_the_later_eta_whichever_is_redelivered() -> None:
    """On 18 March two estimates made at the same time say 19 and 21 March (both within 3
    days): the later ETA stands in either order, so redelivering the other one neither moves
    the ETA back nor reminds the warehouse tranche again."""
    early, late = eta(24 * 16, 24 * 17), eta(24 * 16, 24 * 19)
    base = [*setup(reminder_days=3), milestone(DEP, 1)]
    for first, second in ((early, late), (late, early)):
        state, outputs = play([*base, first, second])
        again, redelivered = play([*base, first, second, first, second])
        assert state.shipments[SHP].eta == again.shipments[SHP].eta == at(24 * 19)
        assert redelivered[-2].events == redelivered[-1].events == ()
        assert [o.events for o in redelivered[: len(outputs)]] == [o.events for o in outputs]
