"""Staged repayment plans: the terms' validation, the plan's arithmetic, payments, default
interest and delays (examples), and the money-conserving properties (hypothesis)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from finance.repayment_plan import (
    Instalment,
    PlanError,
    apply_payment,
    default_interest,
    delay,
    in_default,
    instalment_id,
    is_closed,
    outstanding,
    overdue,
    plan_for,
)
from tests import strategies as _base  # noqa: F401  first: it completes tests.finance_strategies
from tests.finance_strategies import repayment_plans
from tradelane.contracts.money import Money
from tradelane.contracts.registries import (
    DayCount,
    Facility,
    PlanInstalmentTerm,
    RepaymentPlanTerms,
)

START = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
THIRDS = RepaymentPlanTerms(
    instalments=[
        PlanInstalmentTerm(days_after_start=30, share=Decimal("0.333333")),
        PlanInstalmentTerm(days_after_start=60, share=Decimal("0.333333")),
        PlanInstalmentTerm(days_after_start=90, share=Decimal("0.333334")),
    ],
    grace_days=5,
    default_rate=Decimal("0.0365"),
)


def usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


# --- terms -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instalments", "fragment"),
    [
        ([(30, "0.5"), (60, "0.4")], "must sum to exactly 1, they sum to 0.9"),
        ([(30, "0.5"), (60, "0.6")], "must sum to exactly 1, they sum to 1.1"),
        ([(60, "0.5"), (30, "0.5")], "must rise strictly, got [60, 30]"),
        ([(30, "0.5"), (30, "0.5")], "must rise strictly, got [30, 30]"),
        ([(30, "0"), (60, "1")], "greater than 0"),
        ([], "at least 1 item"),
    ],
)
def test_terms_refuse_bad_instalments_with_a_clear_reason(
    instalments: list[tuple[int, str]], fragment: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(fragment)):
        RepaymentPlanTerms(
            instalments=[
                PlanInstalmentTerm(days_after_start=d, share=Decimal(s)) for d, s in instalments
            ]
        )


def test_a_facility_without_the_new_fields_still_parses_and_means_no_plan() -> None:
    old = {
        "facility_id": "fac-1",
        "bank_id": "bank",
        "borrower_id": "seller",
        "limit": {"amount": "1000000", "currency": "USD"},
        "advance_rates": {"in_transit": "0.6"},
        "concentration_limit": "0.5",
    }
    facility = Facility.model_validate(old)
    assert facility.repayment_plan is None
    assert facility.score_bands is None
    with_plan = Facility.model_validate({**old, "repayment_plan": THIRDS.model_dump(mode="json")})
    assert with_plan.repayment_plan == THIRDS


# --- plan ------------------------------------------------------------------------------------


def test_thirds_of_a_hundred_the_last_instalment_takes_the_remainder() -> None:
    plan = plan_for("shp-1", usd("100.00"), START, THIRDS)
    assert [i.amount for i in plan] == [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]
    assert [i.due for i in plan] == [START + timedelta(days=d) for d in (30, 60, 90)]
    assert [i.index for i in plan] == [0, 1, 2]
    assert len({i.instalment_id for i in plan}) == 3


def test_minor_units_follow_the_currency() -> None:
    plan = plan_for("shp-1", Money(amount=Decimal(1000), currency="JPY"), START, THIRDS)
    assert [i.amount for i in plan] == [Decimal(333), Decimal(333), Decimal(334)]


def test_ids_derive_from_shipment_index_and_start_instant() -> None:
    again = plan_for("shp-1", usd("5.00"), START.astimezone(UTC), THIRDS)
    same_instant = START.astimezone(datetime.fromisoformat("2026-03-01T12:00+02:00").tzinfo)
    assert [i.instalment_id for i in plan_for("shp-1", usd("5.00"), same_instant, THIRDS)] == [
        i.instalment_id for i in again
    ]
    assert instalment_id("shp-1", 0, START) != instalment_id("shp-2", 0, START)
    assert instalment_id("shp-1", 0, START) != instalment_id("shp-1", 0, START + timedelta(1))


@pytest.mark.parametrize("amount", ["0", "-1.00", "1.005"])
def test_a_plan_needs_a_positive_amount_on_the_grid(amount: str) -> None:
    with pytest.raises(ValueError, match=r"positive principal|whole number of minor units"):
        plan_for("shp-1", usd(amount), START, THIRDS)


# --- payments --------------------------------------------------------------------------------


def test_payment_goes_to_the_oldest_open_instalment_first_and_returns_the_surplus() -> None:
    plan = plan_for("shp-1", usd("100.00"), START, THIRDS)
    first = apply_payment(plan, usd("50.00"), START + timedelta(days=20))
    assert [(a.instalment_id, a.amount) for a in first.allocations] == [
        (plan[0].instalment_id, Decimal("33.33")),
        (plan[1].instalment_id, Decimal("16.67")),
    ]
    assert first.surplus == 0
    assert first.instalments[0].closed_at == START + timedelta(days=20)
    assert first.instalments[1].closed_at is None
    second = apply_payment(first.instalments, usd("60.00"), START + timedelta(days=40))
    assert [a.amount for a in second.allocations] == [Decimal("16.66"), Decimal("33.34")]
    assert second.surplus == Decimal("10.00")
    assert is_closed(second.instalments)


def test_payment_in_another_currency_or_negative_is_refused() -> None:
    plan = plan_for("shp-1", usd("100.00"), START, THIRDS)
    with pytest.raises(PlanError, match="payment in EUR, plan in USD"):
        apply_payment(plan, Money(amount=Decimal(1), currency="EUR"), START)
    with pytest.raises(PlanError, match="cannot be negative"):
        apply_payment(plan, usd("-1.00"), START)


# --- overdue and default interest ------------------------------------------------------------


def test_overdue_is_past_due_default_waits_for_the_grace_days() -> None:
    plan = plan_for("shp-1", usd("100.00"), START, THIRDS)
    due = plan[0].due  # 2026-03-31T10:00Z, grace 5 days: in default from 2026-04-06
    assert overdue(plan, due) == ()
    assert overdue(plan, due + timedelta(seconds=1)) == (plan[0],)
    assert plan[0].default_from == date(2026, 4, 6)
    assert in_default(plan, date(2026, 4, 5)) == ()
    assert default_interest(plan, date(2026, 4, 5), THIRDS.default_rate, DayCount.ACT_365F) == 0
    # 33.33 x 3.65 % / 365 = 0.003333 -> 0.00; on the whole 100.00 it is 0.01 a day
    assert default_interest(plan, date(2026, 4, 6), Decimal("0.0365"), DayCount.ACT_365F) == 0
    assert default_interest(plan, date(2026, 7, 1), Decimal("0.0365"), DayCount.ACT_365F) == (
        Decimal("0.01")
    )
    assert default_interest(plan, date(2026, 4, 6), Decimal("0.365"), DayCount.ACT_360) == (
        Decimal("0.03")  # 33.33 x 0.365 / 360 = 0.03379 -> 0.03
    )


def test_a_paid_instalment_accrues_no_default_interest() -> None:
    plan = plan_for("shp-1", usd("100.00"), START, THIRDS)
    paid = apply_payment(plan, usd("33.33"), START + timedelta(days=100)).instalments
    assert in_default(paid, date(2026, 4, 6)) == ()
    assert default_interest(paid, date(2026, 4, 6), Decimal("0.365"), DayCount.ACT_360) == 0


# --- delays ----------------------------------------------------------------------------------


def test_a_delay_moves_one_instalment_later_and_keeps_the_original_date() -> None:
    plan = plan_for("shp-1", usd("100.00"), START, THIRDS)
    later = plan[0].due + timedelta(days=45)
    moved = delay(plan, plan[0].instalment_id, later)
    assert moved[0].due == later
    assert moved[0].original_due == plan[0].due
    assert moved[1:] == plan[1:]
    # the payment now goes to the instalment due first: the second one
    assert apply_payment(moved, usd("1.00"), START).allocations[0].instalment_id == (
        plan[1].instalment_id
    )


def test_a_delay_is_refused_when_not_later_unknown_or_paid() -> None:
    plan = plan_for("shp-1", usd("100.00"), START, THIRDS)
    with pytest.raises(PlanError, match=r"must move instalment .* later"):
        delay(plan, plan[0].instalment_id, plan[0].due)
    with pytest.raises(PlanError, match="no instalment nope"):
        delay(plan, "nope", plan[0].due + timedelta(days=1))
    paid = apply_payment(plan, usd("33.33"), START).instalments
    with pytest.raises(PlanError, match="is paid: nothing to delay"):
        delay(paid, plan[0].instalment_id, plan[0].due + timedelta(days=1))


# --- properties ------------------------------------------------------------------------------

principals = st.builds(
    Money,
    amount=st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10) ** 12, places=2),
    currency=st.just("USD"),
)
starts = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=200, deadline=None)
@given(principal=principals, start=starts, terms=repayment_plans())
def test_instalments_add_up_to_the_principal(
    principal: Money, start: datetime, terms: RepaymentPlanTerms
) -> None:
    plan = plan_for("shp-1", principal, start, terms)
    assert sum((i.amount for i in plan), Decimal(0)) == principal.amount
    assert all(i.amount >= 0 for i in plan)
    assert all(i.amount == i.amount.quantize(Decimal("0.01")) for i in plan)  # the cent grid


@st.composite
def plan_and_payments(draw: st.DrawFn) -> tuple[tuple[Instalment, ...], list[Decimal], Decimal]:
    """A plan, payments covering it in arbitrary chunks, and an extra beyond what it owes."""
    principal = draw(principals)
    plan = plan_for("shp-1", principal, draw(starts), draw(repayment_plans()))
    cents = int(principal.amount * 100)
    cuts = sorted(draw(st.lists(st.integers(0, cents), max_size=6)))
    chunks = [Decimal(b - a).scaleb(-2) for a, b in zip([0, *cuts], [*cuts, cents], strict=True)]
    extra = draw(st.decimals(min_value=Decimal(0), max_value=Decimal(1000), places=2))
    return plan, draw(st.permutations([*chunks, extra])), extra


@settings(max_examples=200, deadline=None)
@given(case=plan_and_payments(), data=st.data())
def test_payments_conserve_money_and_paying_everything_closes_the_plan(
    case: tuple[tuple[Instalment, ...], list[Decimal], Decimal], data: st.DataObject
) -> None:
    plan, payments, extra = case
    surplus_total = Decimal(0)
    at = START
    for amount in payments:
        if not is_closed(plan) and data.draw(st.booleans()):  # a delay now and then
            target = data.draw(st.sampled_from([i for i in plan if i.open_amount > 0]))
            plan = delay(plan, target.instalment_id, target.due + timedelta(days=7))
        before = outstanding(plan)
        result = apply_payment(plan, Money(amount=amount, currency="USD"), at)
        allocated = sum((a.amount for a in result.allocations), Decimal(0))
        assert allocated + result.surplus == amount
        assert before - outstanding(result.instalments) == allocated
        assert all(0 <= i.paid <= i.amount for i in result.instalments)
        surplus_total += result.surplus
        plan = result.instalments
        at += timedelta(days=1)
    assert is_closed(plan)
    assert surplus_total == extra
    assert all(i.closed_at is not None for i in plan)


@settings(max_examples=200, deadline=None)
@given(
    principal=principals,
    terms=repayment_plans(),
    rate=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(1), places=4),
    day_count=st.sampled_from(DayCount),
    days=st.integers(0, 4000),
)
def test_no_default_interest_before_due_plus_grace(
    principal: Money, terms: RepaymentPlanTerms, rate: Decimal, day_count: DayCount, days: int
) -> None:
    plan = plan_for("shp-1", principal, START, terms)
    day = START.date() + timedelta(days=days)
    first_grace_end = (plan[0].due + timedelta(days=terms.grace_days)).date()
    if day <= first_grace_end:
        assert default_interest(plan, day, rate, day_count) == 0
    for inst in in_default(plan, day):
        assert datetime.combine(day, datetime.min.time(), UTC) >= inst.due + timedelta(
            days=inst.grace_days
        )


@settings(max_examples=200, deadline=None)
@given(
    principal=principals,
    terms=repayment_plans(),
    rate=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(1), places=4),
    day_count=st.sampled_from(DayCount),
    late=st.lists(st.integers(0, 400), min_size=2, max_size=2),
)
def test_default_interest_is_monotone_in_days_late(
    principal: Money, terms: RepaymentPlanTerms, rate: Decimal, day_count: DayCount, late: list[int]
) -> None:
    """An unpaid plan: a later day accrues at least as much, and so does a longer default."""
    plan = plan_for("shp-1", principal, START, terms)
    first = plan[0].default_from
    shorter, longer = sorted(late)
    per_day = [default_interest(plan, first + timedelta(days=d), rate, day_count) for d in late]
    assert per_day[late.index(shorter)] <= per_day[late.index(longer)]

    def accrued(days: int) -> Decimal:
        span = (first + timedelta(days=d) for d in range(days))
        return sum((default_interest(plan, day, rate, day_count) for day in span), Decimal(0))

    assert accrued(min(shorter, 60)) <= accrued(min(longer, 60))
