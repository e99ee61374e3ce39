"""Hypothesis strategies for the pledge-finance contracts (``tradelane.contracts.finance``)
and the facility registry's finance terms; ``tests.strategies`` merges :data:`FINANCE_BY_MODEL`
into its ``BY_MODEL``, so every finance contract is covered by the round-trip tests."""

from __future__ import annotations

import base64
from decimal import Decimal

from hypothesis import strategies as st
from pydantic import BaseModel

from tests.strategies import aware, currencies, fractions, ids, money
from tradelane.contracts import CollateralStatus, Facility, Milestone, Money
from tradelane.contracts.credit import (
    AdvanceRatesChanged,
    CreditFactorName,
    CreditScoreChanged,
    FactorMoved,
    ScoreFactor,
)
from tradelane.contracts.finance import (
    AppliedFx,
    BorrowingBaseChanged,
    CollateralLine,
    DayTick,
    Direction,
    DrawdownExecuted,
    DrawdownRejected,
    DrawdownRequested,
    FinanceCommand,
    FinanceEvent,
    FinanceRequest,
    InterestAccrued,
    LedgerAccount,
    LedgerCheckpoint,
    LedgerEntry,
    LedgerEntryKind,
    MarginCallCured,
    MarginCallExpired,
    MarginCallIssued,
    Payout,
    PledgeCode,
    PledgeDecided,
    Posting,
    RepaymentApplied,
    RepaymentReceived,
    RepaymentRejected,
    RepaymentSource,
    ResultCode,
    SaleReported,
)
from tradelane.contracts.fx_quotes import (
    FxQuoteIssued,
    FxQuoteNotHonoured,
    FxQuoteRefused,
    FxQuoteRequested,
    NotHonouredCode,
    QuoteCode,
)
from tradelane.contracts.plans import (
    DefaultInterestAccrued,
    InstalmentOverdue,
    InstalmentPaid,
    PlannedInstalment,
    RepaymentPlanSet,
)
from tradelane.contracts.registries import (
    AdvanceBounds,
    DayCount,
    FxLockTerms,
    HaircutRule,
    ImpairmentKind,
    PlanInstalmentTerm,
    PlanStart,
    RepaymentPlanTerms,
    ScoreBand,
    ScoreBands,
)
from tradelane.contracts.seller import (
    Choice,
    ConfirmationTerms,
    DecisionCode,
    DelayCode,
    FundingReminder,
    RepaymentDelayDecided,
    RepaymentDelayRecorded,
    RepaymentDelayRequested,
    Requester,
    TrancheAwaitingConfirmation,
    TrancheDecision,
    TrancheDecisionRecorded,
    TrancheExpired,
)

haircut_rules = st.builds(
    HaircutRule,
    impairment=st.sampled_from(ImpairmentKind),
    min_severity=st.decimals(min_value=Decimal(0), max_value=Decimal(10**4), places=2),
    haircut=fractions,
)


@st.composite
def repayment_plans(draw: st.DrawFn) -> RepaymentPlanTerms:
    """Valid plans: strictly rising days, positive shares in millionths summing to exactly 1."""
    count = draw(st.integers(1, 6))
    cuts = sorted(draw(st.sets(st.integers(1, 999_999), min_size=count - 1, max_size=count - 1)))
    bounds = [0, *cuts, 1_000_000]
    days = sorted(draw(st.sets(st.integers(0, 3650), min_size=count, max_size=count)))
    return RepaymentPlanTerms(
        instalments=[
            PlanInstalmentTerm(days_after_start=d, share=Decimal(hi - lo).scaleb(-6))
            for d, lo, hi in zip(days, bounds, bounds[1:], strict=False)
        ],
        start=draw(st.sampled_from(PlanStart)),
        grace_days=draw(st.integers(0, 365)),
        default_rate=draw(fractions),
    )


@st.composite
def score_bands(draw: st.DrawFn) -> ScoreBands:
    """Valid bands: bounded statuses, bands from score 0 up, every rate within its bounds."""
    bounds: dict[CollateralStatus, AdvanceBounds] = {}
    for status in draw(st.sets(st.sampled_from(CollateralStatus))):
        low, high = sorted(draw(st.lists(fractions, min_size=2, max_size=2)))
        bounds[status] = AdvanceBounds(min=low, max=high)
    starts = sorted(draw(st.sets(st.integers(1, 1000), max_size=4)))
    bands = []
    for index, start in enumerate([0, *starts]):
        rates = {}
        for status in draw(st.sets(st.sampled_from(sorted(bounds)))) if bounds else set():
            rates[status] = draw(
                st.decimals(min_value=bounds[status].min, max_value=bounds[status].max, places=4)
            )
        bands.append(ScoreBand(name=f"b{index}", min_score=start, advance_rates=rates))
    return ScoreBands(bounds=bounds, bands=bands)


facilities = st.builds(
    Facility,
    facility_id=ids,
    bank_id=st.text(min_size=1, max_size=20),
    borrower_id=st.text(min_size=1, max_size=20),
    limit=money,
    advance_rates=st.dictionaries(st.sampled_from(CollateralStatus), fractions),
    concentration_limit=fractions,
    margin_call_cure_hours=st.integers(0, 720),
    drawdown_schedule=st.dictionaries(st.sampled_from([m.value for m in Milestone]), fractions),
    auto_drawdown=st.booleans(),
    pledged_shipments=st.lists(ids, max_size=3),
    haircut_schedule=st.lists(haircut_rules, max_size=3),
    margin_call_threshold=fractions,
    interest_rate=fractions,
    day_count=st.sampled_from(DayCount),
    pledge_amounts=st.dictionaries(ids, money, max_size=2),
    repayment_plan=st.none() | repayment_plans(),
    score_bands=st.none() | score_bands(),
    confirmation=st.none()
    | st.builds(
        ConfirmationTerms,
        window_hours=st.integers(1, 720),
        on_deadline=st.sampled_from(["skip", "execute"]),
    ),
    reminder_days=st.integers(0, 28),
    fx_lock=st.none()
    | st.builds(
        FxLockTerms,
        spread_bp=st.integers(0, 1000),
        validity_minutes=st.integers(1, 7 * 24 * 60),
        max_notional=money,
    ),
)

hex64 = st.from_regex(r"\A[0-9a-f]{64}\Z")
requesters = st.builds(
    Requester,
    role=st.sampled_from(["operator", "borrower", "bank"]),
    party=st.none() | st.text(max_size=64),
)
fee_ids = st.text(min_size=1, max_size=32)
positive_amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10) ** 12, places=2)
signed_money = st.builds(
    Money,
    amount=st.decimals(min_value=-(Decimal(10) ** 12), max_value=Decimal(10) ** 12, places=2),
    currency=currencies,
)
rates = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal(10) ** 6, places=8)
applied_fx = st.builds(
    AppliedFx,
    base=currencies,
    quote=currencies,
    rate=st.decimals(min_value=Decimal("0.000001"), max_value=Decimal(10) ** 6, places=8),
    as_of=st.none() | aware,
    via=st.none() | currencies,
    quote_id=st.none() | st.text(min_size=1, max_size=64),
)
postings = st.builds(
    Posting,
    posting_id=fee_ids,
    account=st.sampled_from(LedgerAccount),
    direction=st.sampled_from(Direction),
    amount=positive_amounts,
    currency=currencies,
    fx=applied_fx,
    cause_event_id=fee_ids,
    payout=st.none() | st.builds(Payout, amount=money, fx=applied_fx),
)
ledger_entries = st.builds(
    LedgerEntry,
    facility_id=ids,
    seq=st.integers(0, 2**40),
    entry_id=fee_ids,
    kind=st.sampled_from(LedgerEntryKind),
    cause_event_id=fee_ids,
    at=aware,
    postings=st.lists(postings, min_size=2, max_size=4),
    prev_hash=hex64,
    hash=hex64,
)
ledger_checkpoints = st.builds(
    LedgerCheckpoint,
    checkpoint_id=fee_ids,
    facility_id=ids,
    seq=st.integers(0, 2**40),
    head_hash=hex64,
    entry_count=st.integers(1, 2**40),
    at=aware,
    key_id=st.from_regex(r"\A[0-9a-f]{16}\Z"),
    signature=st.binary(min_size=64, max_size=64).map(lambda b: base64.b64encode(b).decode()),
)
band_names = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.:+-]{0,15}\Z")
scores = st.integers(0, 1000)
rates_by_status = st.dictionaries(st.sampled_from(CollateralStatus), fractions)
counts = st.decimals(min_value=Decimal(0), max_value=Decimal(10**6), places=1)
score_factors = st.builds(
    ScoreFactor,
    name=st.sampled_from(CreditFactorName),
    weight=scores,
    good=counts,
    bad=counts,
    value=fractions,
    points=scores,
    explanation=st.text(max_size=80),
)
factor_moves = st.builds(
    FactorMoved,
    name=st.sampled_from(CreditFactorName),
    old_points=scores,
    new_points=scores,
    change=st.integers(-1000, 1000),
    explanation=st.text(max_size=80),
)
credit_data = st.one_of(
    st.builds(
        AdvanceRatesChanged,
        facility_id=ids,
        cause_id=fee_ids,
        old_band=band_names,
        new_band=band_names,
        old_score=scores,
        new_score=scores,
        old_rates=rates_by_status,
        new_rates=rates_by_status,
        moved=st.lists(factor_moves, max_size=3),
        at=aware,
    ),
    st.builds(
        CreditScoreChanged,
        facility_id=ids,
        cause_id=fee_ids,
        score=scores,
        previous_score=scores,
        band=st.none() | band_names,
        previous_band=st.none() | band_names,
        factors=st.lists(score_factors, max_size=6),
        at=aware,
    ),
)
finance_data = st.one_of(
    credit_data,
    st.builds(
        DrawdownExecuted,
        facility_id=ids,
        shipment_id=ids,
        milestone=st.sampled_from(Milestone),
        drawdown_id=fee_ids,
        amount=money,
        share=fractions,
        headroom_before=signed_money,
        outstanding_after=money,
        fx=applied_fx,
        at=aware,
        ledger_seq=st.integers(0, 2**40),
        ledger_hash=hex64,
        payout=st.none() | money,
        payout_quote_id=st.none() | st.text(min_size=1, max_size=64),
    ),
    st.builds(
        DrawdownRejected,
        facility_id=ids,
        shipment_id=ids,
        milestone=st.sampled_from(Milestone),
        code=st.sampled_from(ResultCode),
        requested=st.none() | money,
        headroom=st.none() | signed_money,
        at=aware,
    ),
    st.builds(
        BorrowingBaseChanged,
        facility_id=ids,
        at=aware,
        base=money,
        previous_base=money,
        outstanding=money,
        headroom=signed_money,
        collateral=st.lists(
            st.builds(
                CollateralLine,
                shipment_id=ids,
                status=st.none() | st.sampled_from(CollateralStatus),
                value=st.none() | money,
                advance_rate=fractions,
                haircut=fractions,
                eligible=money,
            ),
            max_size=3,
        ),
    ),
    st.builds(
        MarginCallIssued,
        facility_id=ids,
        margin_call_id=fee_ids,
        at=aware,
        due_at=aware,
        shortfall=money,
        outstanding=money,
        base=money,
    ),
    st.builds(
        MarginCallCured,
        facility_id=ids,
        margin_call_id=fee_ids,
        at=aware,
        cured_by=st.sampled_from(["repayment", "collateral"]),
        outstanding=money,
        base=money,
    ),
    st.builds(
        MarginCallExpired,
        facility_id=ids,
        margin_call_id=fee_ids,
        at=aware,
        due_at=aware,
        shortfall=money,
    ),
    st.builds(
        RepaymentApplied,
        facility_id=ids,
        shipment_id=st.none() | ids,
        cause_id=fee_ids,
        source=st.sampled_from(RepaymentSource),
        received=money,
        fx=applied_fx,
        interest_paid=money,
        principal_paid=money,
        surplus=money,
        outstanding_after=money,
        at=aware,
        ledger_seq=st.none() | st.integers(0, 2**40),
        ledger_hash=st.none() | hex64,
    ),
    st.builds(
        RepaymentRejected,
        facility_id=ids,
        cause_id=fee_ids,
        code=st.sampled_from(ResultCode),
        at=aware,
    ),
    st.builds(
        PledgeDecided,
        facility_id=ids,
        shipment_id=ids,
        decision_id=st.text(min_size=1, max_size=64),
        concerns=st.sampled_from(["own_pledge", "later_pledge"]),
        code=st.sampled_from(PledgeCode),
        cargo_value=money,
        requested=st.none() | money,
        granted=money,
        pledged_elsewhere=money,
        at=aware,
    ),
    st.builds(
        InterestAccrued,
        facility_id=ids,
        day=st.dates(),
        principal=money,
        annual_rate=fractions,
        day_count=st.sampled_from(DayCount),
        amount=money,
        interest_due_after=money,
        at=aware,
        ledger_seq=st.integers(0, 2**40),
        ledger_hash=hex64,
    ),
    st.builds(
        TrancheAwaitingConfirmation,
        facility_id=ids,
        shipment_id=ids,
        milestone=st.sampled_from(Milestone),
        amount=money,
        deadline=aware,
        on_deadline=st.sampled_from(["skip", "execute"]),
        at=aware,
    ),
    st.builds(
        TrancheDecisionRecorded,
        facility_id=ids,
        shipment_id=ids,
        milestone=st.sampled_from(Milestone),
        request_id=fee_ids,
        choice=st.sampled_from(Choice),
        amount=st.none() | money,
        code=st.sampled_from(DecisionCode),
        at=aware,
    ),
    st.builds(
        TrancheExpired,
        facility_id=ids,
        shipment_id=ids,
        milestone=st.sampled_from(Milestone),
        deadline=aware,
        outcome=st.sampled_from(["skipped", "executed", "not_executed"]),
        at=aware,
    ),
    st.builds(
        FundingReminder,
        facility_id=ids,
        shipment_id=ids,
        line=st.sampled_from(["drawdown", "repayment"]),
        milestone=st.sampled_from(Milestone),
        expected_on=st.dates(),
        amount=st.none() | money,
        basis=st.sampled_from(["eta", "plan", "reached"]),
        needs_confirmation=st.booleans(),
        previous_expected_on=st.none() | st.dates(),
        at=aware,
    ),
    st.builds(
        RepaymentPlanSet,
        facility_id=ids,
        shipment_id=ids,
        start=aware,
        start_event=st.sampled_from(PlanStart),
        principal=money,
        instalments=st.lists(
            st.builds(
                PlannedInstalment,
                instalment_id=ids,
                index=st.integers(0, 119),
                due=aware,
                amount=money,
            ),
            max_size=3,
        ),
        grace_days=st.integers(0, 365),
        default_rate=fractions,
        at=aware,
    ),
    st.builds(
        InstalmentPaid,
        facility_id=ids,
        shipment_id=ids,
        instalment_id=ids,
        index=st.integers(0, 119),
        amount=money,
        due=aware,
        late=st.booleans(),
        at=aware,
    ),
    st.builds(
        InstalmentOverdue,
        facility_id=ids,
        shipment_id=ids,
        instalment_id=ids,
        index=st.integers(0, 119),
        due=aware,
        grace_days=st.integers(0, 365),
        open_amount=money,
        default_from=st.dates(),
        at=aware,
    ),
    st.builds(
        DefaultInterestAccrued,
        facility_id=ids,
        day=st.dates(),
        in_default=money,
        annual_rate=fractions,
        day_count=st.sampled_from(DayCount),
        amount=money,
        interest_due_after=money,
        at=aware,
        ledger_seq=st.integers(0, 2**40),
        ledger_hash=hex64,
    ),
    st.builds(
        RepaymentDelayRecorded,
        facility_id=ids,
        shipment_id=ids,
        request_id=fee_ids,
        delay_request_id=st.none() | fee_ids,
        instalment_id=st.none() | ids,
        decision=st.sampled_from(["requested", "approved", "refused"]),
        new_due=st.none() | aware,
        due_after=st.none() | aware,
        code=st.sampled_from(DelayCode),
        at=aware,
    ),
    st.builds(
        FxQuoteIssued,
        facility_id=ids,
        request_id=fee_ids,
        quote_id=fee_ids,
        side=st.sampled_from(["drawdown_payout", "repayment"]),
        notional=money,
        base=currencies,
        quote=currencies,
        mid_rate=rates,
        mid_as_of=st.none() | aware,
        via=st.none() | currencies,
        spread_bp=st.integers(0, 1000),
        all_in_rate=rates,
        valid_until=aware,
        at=aware,
    ),
    st.builds(
        FxQuoteRefused,
        facility_id=ids,
        request_id=fee_ids,
        side=st.sampled_from(["drawdown_payout", "repayment"]),
        notional=money,
        code=st.sampled_from(QuoteCode),
        at=aware,
    ),
    st.builds(
        FxQuoteNotHonoured,
        facility_id=ids,
        quote_id=fee_ids,
        cause_id=fee_ids,
        code=st.sampled_from(NotHonouredCode),
        valid_until=st.none() | aware,
        at=aware,
    ),
)
finance_events = st.builds(
    FinanceEvent,
    id=st.text(min_size=1, max_size=32),
    source=st.just("/tradelane/finance"),
    type=st.just("tradelane.finance.test.v1"),
    subject=ids,
    time=aware,
    data=finance_data,
)


@st.composite
def _tranche_decision(draw: st.DrawFn) -> TrancheDecision:
    choice = draw(st.sampled_from(Choice))
    amount = draw(positive_money) if choice is Choice.CHANGE_AMOUNT else None
    return TrancheDecision(
        request_id=draw(fee_ids),
        facility_id=draw(ids),
        shipment_id=draw(ids),
        milestone=draw(st.sampled_from(Milestone)),
        choice=choice,
        amount=amount,
        by=Requester(role=draw(st.sampled_from(["operator", "borrower", "bank"])), party="p"),
        at=draw(aware),
        fx_quote_id=None if choice is Choice.DECLINE else draw(st.none() | ids),
    )


positive_money = st.builds(Money, amount=positive_amounts, currency=currencies)
tranche_decisions = _tranche_decision()
delay_requests = st.builds(
    RepaymentDelayRequested,
    request_id=fee_ids,
    facility_id=ids,
    shipment_id=ids,
    instalment_id=ids,
    new_due=aware,
    reason=st.text(max_size=40),
    by=requesters,
    at=aware,
)
delay_decisions = st.builds(
    RepaymentDelayDecided,
    request_id=fee_ids,
    facility_id=ids,
    shipment_id=ids,
    delay_request_id=fee_ids,
    approve=st.booleans(),
    by=requesters,
    at=aware,
)
fx_quote_requests = st.builds(
    FxQuoteRequested,
    request_id=fee_ids,
    facility_id=ids,
    side=st.sampled_from(["drawdown_payout", "repayment"]),
    notional=positive_money,
    by=requesters,
    at=aware,
)
request_data = st.one_of(tranche_decisions, delay_requests, delay_decisions, fx_quote_requests)
command_data = st.one_of(
    st.builds(
        DrawdownRequested,
        request_id=fee_ids,
        facility_id=ids,
        shipment_id=ids,
        milestone=st.sampled_from(Milestone),
        at=aware,
    ),
    st.builds(
        RepaymentReceived,
        facility_id=ids,
        shipment_id=st.none() | ids,
        amount=money,
        cause_id=fee_ids,
        source=st.sampled_from(RepaymentSource),
        at=aware,
        fx_quote_id=st.none() | fee_ids,
    ),
    st.builds(
        SaleReported, facility_id=ids, shipment_id=ids, proceeds=money, cause_id=fee_ids, at=aware
    ),
    st.builds(DayTick, facility_id=ids, at=aware),
    request_data,
)
finance_commands = st.builds(
    FinanceCommand,
    id=st.text(min_size=1, max_size=32),
    source=st.just("/tradelane/test"),
    type=st.just("tradelane.finance.command.test.v1"),
    subject=ids,
    time=aware,
    data=command_data,
)

finance_requests = st.builds(
    FinanceRequest,
    id=st.text(min_size=1, max_size=32),
    source=st.just("/tradelane/api"),
    type=st.just("tradelane.finance.request.tranche_decision.v1"),
    subject=ids,
    time=aware,
    data=request_data,
)

FINANCE_BY_MODEL: dict[type[BaseModel], st.SearchStrategy[BaseModel]] = {
    Facility: facilities,
    FinanceEvent: finance_events,
    FinanceCommand: finance_commands,
    FinanceRequest: finance_requests,
    LedgerEntry: ledger_entries,
    LedgerCheckpoint: ledger_checkpoints,
}
