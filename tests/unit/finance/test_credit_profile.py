"""Credit profile: the fold and its adapters, the score's arithmetic and explanations, bands
within the bank's bounds (examples), and the score's properties (hypothesis)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from finance.credit_profile import (
    FACTORS,
    ClaimObserved,
    CreditHistory,
    DisputeObserved,
    ExcursionObserved,
    FactorName,
    MilestoneObserved,
    Observation,
    RepaymentObserved,
    ShipmentDelivered,
    advance_rates_for,
    band_for,
    count_fact,
    from_claim_paid,
    from_payment,
    from_shipment_event,
    rate_change,
    score,
)
from finance.repayment_plan import apply_payment, plan_for
from tests import strategies as _base  # noqa: F401  first: it completes tests.finance_strategies
from tests.finance_strategies import score_bands
from tradelane.contracts.events import (
    BreachKind,
    BreachRule,
    BreachStarted,
    Evidence,
    Milestone,
    MilestoneReached,
    ShipmentStatus,
    ShockDetected,
)
from tradelane.contracts.insurance import ClaimPaid, PayeeRole
from tradelane.contracts.money import Money
from tradelane.contracts.registries import (
    AdvanceBounds,
    CollateralStatus,
    PlanInstalmentTerm,
    RepaymentPlanTerms,
    ScoreBand,
    ScoreBands,
    TriggerKind,
)

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
IN_TRANSIT, WAREHOUSE = CollateralStatus.IN_TRANSIT, CollateralStatus.IN_WAREHOUSE
BANDS = ScoreBands(
    bounds={
        IN_TRANSIT: AdvanceBounds(min=Decimal("0.4"), max=Decimal("0.7")),
        WAREHOUSE: AdvanceBounds(min=Decimal("0.5"), max=Decimal("0.8")),
    },
    bands=[
        ScoreBand(name="C", min_score=0, advance_rates={IN_TRANSIT: Decimal("0.4")}),
        ScoreBand(name="B", min_score=450, advance_rates={IN_TRANSIT: Decimal("0.55")}),
        ScoreBand(
            name="A",
            min_score=700,
            advance_rates={IN_TRANSIT: Decimal("0.7"), WAREHOUSE: Decimal("0.8")},
        ),
    ],
)
BASE = {
    IN_TRANSIT: Decimal("0.6"),
    WAREHOUSE: Decimal("0.9"),
    CollateralStatus.DELIVERED: Decimal("0.3"),
}


def fold(*events: Observation, history: CreditHistory | None = None) -> CreditHistory:
    for event in events:
        history = count_fact(history or CreditHistory(), event)
    return history or CreditHistory()


# --- the fold --------------------------------------------------------------------------------


def test_observe_counts_each_kind_and_buckets_late_repayments() -> None:
    h = fold(
        RepaymentObserved(due=T0, paid_at=T0 + timedelta(hours=15)),  # same UTC day: on time
        RepaymentObserved(due=T0, paid_at=T0 + timedelta(days=3)),
        RepaymentObserved(due=T0, paid_at=T0 + timedelta(days=10)),
        RepaymentObserved(due=T0, paid_at=T0 + timedelta(days=45)),
        ShipmentDelivered(in_spec=True),
        ShipmentDelivered(in_spec=False),
        ExcursionObserved(excursion="shock"),
        ClaimObserved(),
        MilestoneObserved(
            milestone=Milestone.DELIVERED, planned=T0, reached=T0 + timedelta(hours=24)
        ),
        MilestoneObserved(
            milestone=Milestone.DELIVERED, planned=T0, reached=T0 + timedelta(hours=25)
        ),
        DisputeObserved(),
    )
    assert h == CreditHistory(
        repayments_on_time=1,
        repayments_late_1_7_days=1,
        repayments_late_8_30_days=1,
        repayments_late_over_30_days=1,
        days_late_total=58,
        shipments_in_spec=1,
        shipments_out_of_spec=1,
        excursions=1,
        claims=1,
        milestones_on_time=1,
        milestones_late=1,
        disputes=1,
    )
    assert h.repayments_late == 3


def test_shipment_events_map_to_observations() -> None:
    delivered = MilestoneReached(
        milestone=Milestone.DELIVERED, at=T0, status=ShipmentStatus.DELIVERED, in_spec=False
    )
    assert from_shipment_event(delivered) == (ShipmentDelivered(in_spec=False),)
    assert from_shipment_event(delivered, planned=T0 - timedelta(days=2)) == (
        ShipmentDelivered(in_spec=False),
        MilestoneObserved(
            milestone=Milestone.DELIVERED, planned=T0 - timedelta(days=2), reached=T0
        ),
    )
    breach = BreachStarted(
        breach=BreachKind.HUMIDITY_HIGH,
        rule=BreachRule.CONSECUTIVE,
        limit=80.0,
        minutes=30,
        started_at=T0,
        value=85.0,
    )
    assert from_shipment_event(breach) == (ExcursionObserved(excursion="humidity"),)
    evidence = Evidence(readings=[], digest="0" * 64, count=0)
    shock = ShockDetected(device_id="trk-1", at=T0, g=9.0, limit_g=5.0, evidence=evidence)
    assert from_shipment_event(shock) == (ExcursionObserved(excursion="shock"),)
    assert from_shipment_event(object()) == ()


def _claim_paid(amount: str, total: str) -> ClaimPaid:
    def usd(value: str) -> Money:
        return Money(amount=Decimal(value), currency="USD")

    return ClaimPaid(
        claim_id="0" * 32,
        policy_id="pol-1",
        shipment_id="shp-1",
        trigger="temperature",
        trigger_kind=TriggerKind.TEMPERATURE,
        tier=0,
        share=Decimal("0.2"),
        at=T0,
        cause_id="1" * 32,
        amount=usd(amount),
        claim_paid_total=usd(total),
        policy_paid_total=usd(total),
        capped=False,
        loss_payee="bank",
        payee_role=PayeeRole.LENDER,
    )


def test_a_claim_counts_once_on_its_first_payment() -> None:
    assert from_claim_paid(_claim_paid("100.00", "100.00")) == (ClaimObserved(),)
    assert from_claim_paid(_claim_paid("50.00", "150.00")) == ()


def test_a_plan_payment_reports_the_instalments_it_closed() -> None:
    terms = RepaymentPlanTerms(
        instalments=[
            PlanInstalmentTerm(days_after_start=10, share=Decimal("0.5")),
            PlanInstalmentTerm(days_after_start=20, share=Decimal("0.5")),
        ]
    )
    plan = plan_for("shp-1", Money(amount=Decimal(100), currency="USD"), T0, terms)
    late_first = apply_payment(
        plan, Money(amount=Decimal(60), currency="USD"), T0 + timedelta(days=12)
    )
    assert from_payment(late_first) == (
        RepaymentObserved(due=plan[0].due, paid_at=T0 + timedelta(days=12)),
    )
    rest = apply_payment(
        late_first.instalments, Money(amount=Decimal(40), currency="USD"), T0 + timedelta(days=13)
    )
    assert fold(*from_payment(late_first), *from_payment(rest)) == CreditHistory(
        repayments_on_time=1, repayments_late_1_7_days=1, days_late_total=2
    )


# --- the score -------------------------------------------------------------------------------


def test_weights_add_up_to_a_thousand_and_no_history_scores_the_prior() -> None:
    assert sum(weight for _, weight, _ in FACTORS) == 1000
    blank = score(CreditHistory())
    assert blank.score == 500
    assert all(f.value == Decimal("0.5") for f in blank.factors)


def test_one_late_payment_does_not_sink_a_new_seller() -> None:
    late = score(fold(RepaymentObserved(due=T0, paid_at=T0 + timedelta(days=3))))
    punctuality = late.factors[0]
    assert punctuality.name is FactorName.REPAYMENT_PUNCTUALITY
    # (0 + 0.5 x 4) / (0 + 0.5 + 4) = 0.4444 -> 155.54 -> 156 of 350
    assert (punctuality.value, punctuality.points) == (Decimal("0.4444"), 156)
    assert late.score == 481
    assert punctuality.explanation == (
        "0 of 1 instalments paid on time, 1 late (3 days in all; a late one counts 0.5 up to 7 "
        "days, 1 up to 30, 2 beyond): value 0.4444, 156 of 350 points"
    )


def test_a_long_clean_record_scores_high_and_each_factor_explains_itself() -> None:
    history = CreditHistory(
        repayments_on_time=40, shipments_in_spec=30, milestones_on_time=90, milestones_late=2
    )
    result = score(history)
    assert result.score == sum(f.points for f in result.factors)
    assert result.score >= 900
    for f in result.factors:
        assert re.fullmatch(rf".+: value {f.value}, {f.points} of {f.weight} points", f.explanation)


# --- bands -----------------------------------------------------------------------------------


def test_bands_refuse_rates_outside_the_bank_s_bounds() -> None:
    bounds = {IN_TRANSIT: AdvanceBounds(min=Decimal("0.4"), max=Decimal("0.7"))}
    with pytest.raises(ValidationError, match=r"outside the bank's bounds 0\.4\.\.0\.7"):
        ScoreBands(
            bounds=bounds,
            bands=[ScoreBand(name="A", min_score=0, advance_rates={IN_TRANSIT: Decimal("0.75")})],
        )
    with pytest.raises(ValidationError, match="has no bounds"):
        ScoreBands(
            bounds=bounds,
            bands=[ScoreBand(name="A", min_score=0, advance_rates={WAREHOUSE: Decimal("0.5")})],
        )
    with pytest.raises(ValidationError, match="must start at score 0"):
        ScoreBands(bounds=bounds, bands=[ScoreBand(name="A", min_score=10, advance_rates={})])
    with pytest.raises(ValidationError, match="must rise strictly"):
        ScoreBands(
            bounds=bounds,
            bands=[
                ScoreBand(name="A", min_score=0, advance_rates={}),
                ScoreBand(name="B", min_score=0, advance_rates={}),
            ],
        )
    with pytest.raises(ValidationError, match=r"min 0\.8 is above max 0\.7"):
        AdvanceBounds(min=Decimal("0.8"), max=Decimal("0.7"))


def test_rates_come_from_the_band_else_the_base_held_within_bounds() -> None:
    assert band_for(449, BANDS).name == "C"
    assert band_for(450, BANDS).name == "B"
    assert advance_rates_for(700, BANDS, BASE) == {
        IN_TRANSIT: Decimal("0.7"),
        WAREHOUSE: Decimal("0.8"),
        CollateralStatus.DELIVERED: Decimal("0.3"),  # no bounds: the base rate
    }
    # band B names no warehouse rate: the base 0.9 is held to the bank's max 0.8
    assert advance_rates_for(500, BANDS, BASE)[WAREHOUSE] == Decimal("0.8")
    assert advance_rates_for(500, BANDS, {IN_TRANSIT: Decimal("0.6")}) == {
        IN_TRANSIT: Decimal("0.55")
    }


def test_rate_change_names_the_bands_the_rates_and_the_factors_that_moved() -> None:
    good = CreditHistory(repayments_on_time=20, shipments_in_spec=10, milestones_on_time=20)
    worse = good.model_copy(update={"repayments_late_over_30_days": 20, "claims": 10})
    old, new = score(good), score(worse)
    assert band_for(old.score, BANDS).name == "A"
    assert band_for(new.score, BANDS).name == "B"
    change = rate_change(old, new, BANDS, BASE)
    assert change is not None
    assert (change.old_band, change.new_band) == ("A", "B")
    assert change.old_rates[IN_TRANSIT] == Decimal("0.7")
    assert change.new_rates[IN_TRANSIT] == Decimal("0.55")
    assert [m.name for m in change.moved] == [FactorName.REPAYMENT_PUNCTUALITY, FactorName.CLAIMS]
    assert all(m.change < 0 for m in change.moved)
    assert rate_change(old, old, BANDS) is None
    assert rate_change(old, new, BANDS).new_rates == {IN_TRANSIT: Decimal("0.55")}  # type: ignore[union-attr]


# --- properties ------------------------------------------------------------------------------

counts = st.integers(0, 10**6)
histories = st.builds(
    CreditHistory,
    **dict.fromkeys(CreditHistory.model_fields, counts),
)
GOOD = ["repayments_on_time", "shipments_in_spec", "milestones_on_time"]
BAD = [
    "repayments_late_1_7_days",
    "repayments_late_8_30_days",
    "repayments_late_over_30_days",
    "shipments_out_of_spec",
    "excursions",
    "claims",
    "milestones_late",
    "disputes",
]


@settings(max_examples=300, deadline=None)
@given(history=histories)
def test_score_stays_within_0_and_1000_and_is_the_sum_of_its_factors(
    history: CreditHistory,
) -> None:
    result = score(history)
    assert 0 <= result.score <= 1000
    assert result.score == sum(f.points for f in result.factors)
    assert all(0 <= f.points <= f.weight for f in result.factors)


@settings(max_examples=300, deadline=None)
@given(history=histories, field=st.sampled_from(GOOD + BAD), more=st.integers(1, 1000))
def test_each_count_moves_the_score_only_in_its_intended_direction(
    history: CreditHistory, field: str, more: int
) -> None:
    after = history.model_copy(update={field: getattr(history, field) + more})
    if field in GOOD:
        assert score(after).score >= score(history).score
    else:
        assert score(after).score <= score(history).score


@settings(max_examples=200, deadline=None)
@given(history=histories)
def test_same_history_same_score(history: CreditHistory) -> None:
    again = CreditHistory.model_validate_json(history.model_dump_json())
    assert score(again) == score(history)
    assert score(again).model_dump_json() == score(history).model_dump_json()


observations = st.one_of(
    st.builds(
        RepaymentObserved,
        due=st.just(T0),
        paid_at=st.integers(-5, 60).map(lambda d: T0 + timedelta(days=d)),
    ),
    st.builds(ShipmentDelivered, in_spec=st.booleans()),
    st.builds(ExcursionObserved, excursion=st.sampled_from(["temperature", "humidity", "shock"])),
    st.just(ClaimObserved()),
    st.builds(
        MilestoneObserved,
        milestone=st.sampled_from(Milestone),
        planned=st.just(T0),
        reached=st.integers(-48, 96).map(lambda h: T0 + timedelta(hours=h)),
    ),
    st.just(DisputeObserved()),
)


@settings(max_examples=200, deadline=None)
@given(events=st.lists(observations, max_size=30), data=st.data())
def test_the_fold_does_not_depend_on_the_order_of_observations(
    events: list[Observation], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(events))
    assert fold(*events) == fold(*shuffled)
    assert score(fold(*events)) == score(fold(*shuffled))


@settings(max_examples=300, deadline=None)
@given(
    bands=score_bands(),
    points=st.integers(0, 1000),
    base=st.dictionaries(
        st.sampled_from(CollateralStatus),
        st.decimals(min_value=Decimal(0), max_value=Decimal(1), places=4),
    ),
)
def test_band_rates_always_lie_within_the_bank_s_bounds(
    bands: ScoreBands, points: int, base: dict[CollateralStatus, Decimal]
) -> None:
    rates = advance_rates_for(points, bands, base)
    assert set(rates) == set(base)
    for status, rate in rates.items():
        bound = bands.bounds.get(status)
        if bound is not None:
            assert bound.min <= rate <= bound.max
        else:
            assert rate == base[status]
    for band in bands.bands:
        for status, rate in band.advance_rates.items():
            assert bands.bounds[status].min <= rate <= bands.bounds[status].max


@settings(max_examples=200, deadline=None)
@given(old=histories, new=histories, bands=score_bands())
def test_a_rate_change_is_reported_exactly_when_the_band_changes(
    old: CreditHistory, new: CreditHistory, bands: ScoreBands
) -> None:
    before, after = score(old), score(new)
    change = rate_change(before, after, bands)
    same_band = band_for(before.score, bands).name == band_for(after.score, bands).name
    assert (change is None) == same_band
    if change is not None:
        assert len(change.moved) <= 3
        changes = [abs(m.change) for m in change.moved]
        assert changes == sorted(changes, reverse=True)
