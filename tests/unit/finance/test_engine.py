"""The pledge engine's behaviour on whole stories: a reefer failure from departure draw to
cure, interest, proceeds, external repayments, margin-call expiry, purity and idempotency."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from finance.facility_state import dump_state, load_state, new_state
from finance.ledger import balances, verify
from finance.pledge_engine import EngineInput, apply, run
from finance.step import Outputs
from tests.unit.finance.builders import (
    FAC,
    SHP,
    SHP2,
    booking,
    breach_ended,
    breach_progress,
    breach_started,
    eur_usd,
    facility,
    milestone,
    play,
    repayment,
    sale,
    setup,
    tick,
)
from tradelane.contracts import Milestone
from tradelane.contracts.finance import (
    DayTick,
    FinanceEvent,
    LedgerAccount,
    LedgerEntry,
    RepaymentSource,
    ResultCode,
)
from tradelane.contracts.registries import DayCount

DEP = Milestone.DEPARTED_ORIGIN
WH = Milestone.ENTERED_BONDED_WAREHOUSE


ANNOUNCEMENTS = {"credit_score_changed", "funding_reminder"}
"""Told to the borrower beside the money (test_credit_engine.py, test_seller_engine.py)."""


def kinds(outputs: list[Outputs]) -> list[str]:
    return [e.data.kind for out in outputs for e in out.events if e.data.kind not in ANNOUNCEMENTS]


def events(outputs: list[Outputs]) -> list[FinanceEvent]:
    return [e for out in outputs for e in out.events]


def entries(outputs: list[Outputs]) -> list[LedgerEntry]:
    return [e for out in outputs for e in out.entries]


def test_reefer_failure_draws_then_haircuts_then_calls_then_insurance_cures() -> None:
    """A pledged chilled shipment: the departure tranche, a reefer failure (haircut at 30 min,
    deeper at 4 h), the margin call, and an insurance payout that cures it."""
    story = [
        *setup(),
        milestone(DEP, 1),  # draws 50 % of 60 % of USD 220,000
        breach_started(48),  # 30 min out of band: 25 % haircut
        breach_progress(48, 120),
        breach_progress(48, 240),  # 4 h: 75 % haircut, base < outstanding
        breach_ended(48, 300),
        repayment(
            "40000",
            60,
            cause_id="claim-7:payout",
            shipment_id=SHP,
            source=RepaymentSource.INSURANCE,
        ),
    ]
    state, outputs = play(story)
    assert kinds(outputs) == [
        "drawdown_executed",
        "borrowing_base_changed",
        "interest_accrued",  # day 1 closes when the breach starts on day 3
        "interest_accrued",
        "borrowing_base_changed",  # 25 % haircut
        "borrowing_base_changed",  # 75 % haircut
        "margin_call_issued",
        "repayment_applied",
        "margin_call_cured",
    ]
    (drawn,) = [e.data for e in outputs[4].events if e.data.kind == "drawdown_executed"]
    assert drawn.amount.amount == Decimal("66000.00")
    assert drawn.fx.rate == Decimal("1.10")
    bases = [e.data.base.amount for e in events(outputs) if e.data.kind == "borrowing_base_changed"]
    assert bases == [Decimal("132000.00"), Decimal("99000.00"), Decimal("33000.00")]
    call = next(e.data for e in events(outputs) if e.data.kind == "margin_call_issued")
    assert call.kind == "margin_call_issued"
    assert call.shortfall.amount == Decimal("33000.00")
    assert (call.due_at - call.at).total_seconds() == 48 * 3600
    cured = [e for e in events(outputs) if e.data.kind not in ANNOUNCEMENTS][-1].data
    assert cured.kind == "margin_call_cured"
    assert cured.cured_by == "repayment"
    assert state.margin_call is None
    assert state.principal == Decimal("66000.00") + 0 - (Decimal(40000) - Decimal("26.40"))
    result = verify(FAC, entries(outputs))
    assert result.ok, result.problems
    assert result.entries == 4


def test_margin_call_freezes_drawdowns_and_expires_without_cure() -> None:
    state, outputs = play(
        [
            *setup(),
            milestone(DEP, 1),
            breach_started(10),
            breach_progress(10, 300),
            milestone(WH, 20),  # 80 % of the cut value: still short
            tick(10 + 47),
            tick(10 + 5 + 48 + 1),  # an hour after the cure period ended
        ]
    )
    assert outputs[-3].result is ResultCode.FACILITY_FROZEN
    assert "margin_call_expired" not in kinds(outputs[:-1])
    assert kinds([outputs[-1]])[-1] == "margin_call_expired"
    assert state.margin_call is not None
    assert state.margin_call.expired
    _, again = play([tick(24 * 9)], state)
    assert "margin_call_expired" not in kinds(again), "expiry is announced once"


def test_switching_auto_drawdown_on_does_not_draw_for_milestones_already_passed() -> None:
    state, _ = play(
        [
            *setup(auto_drawdown=False),
            milestone(DEP, 1),
            facility(auto_drawdown=True),
            milestone(DEP, 2, shipment_id="shp-0"),  # not pledged: tracked, never drawn on
        ]
    )
    assert state.principal == 0
    assert "shp-0" in state.shipments


def test_collateral_recovery_cures_a_margin_call() -> None:
    """The other pledged shipment departing adds base: the call is cured by collateral."""
    state, outputs = play(
        [
            *setup(),
            milestone(DEP, 1),
            breach_started(10),
            breach_progress(10, 300),
            facility(drawdown_schedule={}),
            milestone(DEP, 20, shipment_id=SHP2),
        ]
    )
    assert state.margin_call is None
    assert kinds(outputs)[-2:] == ["borrowing_base_changed", "margin_call_cured"]
    assert events(outputs)[-1].data.cured_by == "collateral"  # type: ignore[union-attr]


def test_delivery_repays_from_proceeds_once_a_rate_allows() -> None:
    state, outputs = play(
        [
            facility(),
            booking(SHP),
            eur_usd(),
            milestone(DEP, 1),
            milestone(Milestone.DELIVERED, 24 * 20),
        ]
    )
    repaid = next(e.data for e in events(outputs) if e.data.kind == "repayment_applied")
    assert repaid.kind == "repayment_applied"
    assert repaid.source is RepaymentSource.DELIVERY
    assert repaid.received.amount == Decimal("200000.00")  # EUR, no haircut
    assert repaid.principal_paid.amount == Decimal("66000.00")
    assert state.principal == 0
    assert state.interest_due == 0
    assert (
        repaid.surplus.amount
        == Decimal("220000.00") - Decimal("66000.00") - repaid.interest_paid.amount
    )
    # the same story without a rate at delivery: proceeds wait for one, then apply once
    fx_later = eur_usd(hours=24 * 21)
    state, outputs = play([facility(), booking(SHP), eur_usd(), milestone(DEP, 1)], new_state(FAC))
    state.fx.clear()
    state, outputs = play([milestone(Milestone.DELIVERED, 24 * 20)], state)
    assert "repayment_applied" not in kinds(outputs)
    assert state.shipments[SHP].pending_proceeds is not None
    state, outputs = play([fx_later, fx_later, tick(24 * 22)], state)
    assert kinds(outputs).count("repayment_applied") == 1
    assert state.principal == 0


def test_sale_repays_the_shipment_and_leaves_the_base() -> None:
    state, outputs = play([*setup(), milestone(DEP, 1), sale("50000", 5)])
    assert outputs[-1].result is ResultCode.OK
    assert state.shipments[SHP].sold
    paid = next(e.data for e in events(outputs) if e.data.kind == "repayment_applied")
    assert paid.kind == "repayment_applied"
    assert paid.principal_paid.amount == Decimal("50000")
    assert state.principal == Decimal("16000.00")
    assert state.base == 0
    assert state.margin_call is not None, "the rest is no longer secured"


def test_insurance_payout_applies_once_however_often_it_arrives() -> None:
    payout = repayment("10000", 30, cause_id="claim-1:payout", shipment_id=SHP,
                       source=RepaymentSource.INSURANCE)  # fmt: skip
    state, outputs = play([*setup(), milestone(DEP, 1), payout, payout, tick(40), payout])
    assert [o.result for o in outputs[-4:]] == [
        ResultCode.OK,
        ResultCode.ALREADY_APPLIED,
        None,
        ResultCode.ALREADY_APPLIED,
    ]
    assert kinds(outputs).count("repayment_applied") == 1
    assert state.principal == Decimal("66000.00") - Decimal("10000") + Decimal("13.20")


def test_interest_is_simple_daily_and_independent_of_how_days_are_closed() -> None:
    story = [*setup(), milestone(DEP, 1)]
    daily = [tick(24 * d) for d in range(1, 11)]
    _, by_ticks = play([*story, *daily])
    _, at_once = play([*story, tick(24 * 10)])
    assert entries(by_ticks) == entries(at_once)
    accrued = [e.data for e in events(at_once) if e.data.kind == "interest_accrued"]
    assert [a.day for a in accrued] == [date(2026, 3, d) for d in range(2, 12)]
    # 66,000 x 7.30 % / 365 = 13.20 a day, on principal only (not compounded)
    assert {a.amount.amount for a in accrued} == {Decimal("13.20")}
    ledger = balances(entries(at_once))
    assert ledger[LedgerAccount.INTEREST_RECEIVABLE] == Decimal("132.00")
    _, act360 = play([*setup(day_count=DayCount.ACT_360), milestone(DEP, 1), tick(48)])
    first = next(e.data for e in events(act360) if e.data.kind == "interest_accrued")
    assert first.amount.amount == Decimal("13.38")  # 66,000 x 0.073 / 360 = 13.383


def test_apply_never_changes_the_state_it_was_given() -> None:
    state, _ = play([*setup(), milestone(DEP, 1)])
    before = dump_state(state)
    apply(state, breach_started(3))
    apply(state, repayment("5", 4))
    assert dump_state(state) == before


def test_state_round_trips_through_json_and_continues_identically() -> None:
    state, _ = play([*setup(), milestone(DEP, 1), breach_started(10), breach_progress(10, 300)])
    text = dump_state(state)
    restored = load_state(text)
    assert restored == state
    assert dump_state(restored) == text
    follow: list[EngineInput] = [
        repayment("70000", 30),
        tick(24 * 5),
        milestone(WH, 24 * 6, shipment_id=SHP2),
    ]
    assert play(follow, state) == play(follow, restored)


def test_processing_every_input_twice_changes_nothing() -> None:
    story = [
        *setup(),
        milestone(DEP, 1),
        breach_started(10),
        breach_progress(10, 300),
        repayment("70000", 30),
        milestone(DEP, 31, shipment_id=SHP2),
        tick(24 * 4),
        milestone(WH, 24 * 6, shipment_id=SHP2),
        sale("1000", 24 * 7, shipment_id=SHP2),
    ]
    _, once = play(story)
    _, twice = play([item for item in story for _ in (0, 1)])
    assert entries(twice) == entries(once)
    assert events(twice) == events(once)


def test_registry_updates_routed_to_the_wrong_facility_are_refused() -> None:
    with pytest.raises(ValueError, match="routed to"):
        apply(new_state("fac-other"), facility())
    with pytest.raises(ValueError, match="routed to"):
        apply(new_state("fac-other"), DayTick(facility_id=FAC, at=tick(1).at))


def test_a_facility_currency_cannot_change_under_an_open_ledger() -> None:
    state, _ = play([*setup(), milestone(DEP, 1)])
    state, _ = play([facility(limit={"amount": "1000000", "currency": "EUR"})], state)
    assert state.currency == "USD"


def test_run_folds_like_apply() -> None:
    items = [*setup(), milestone(DEP, 1)]
    state, outs = run(new_state(FAC), items)
    manual = new_state(FAC)
    for item in items:
        manual, _ = apply(manual, item)
    assert manual == state
    assert len(outs) == len(items)
