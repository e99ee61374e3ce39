"""Rule outcomes, one case a line: the inputs after the standard setup, and the result code the
last input must produce. Every result code appears; precedence cases break several rules at
once and expect the first in precedence order.

Setup (see builders): USD 1,000,000 limit; shipments shp-1 and shp-2 pledged, each EUR 200,000
of chilled goods at EUR/USD 1.10 (USD 220,000); 60 % advance in transit, 80 % in the warehouse;
departure releases half the in-transit advance (USD 66,000), the warehouse tops up.
"""

# ruff: noqa: E501  (the case table is one case a line, by design)

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import pytest

from finance.pledge_engine import EngineInput
from tests.unit.finance.builders import (
    FAC,
    SHP,
    SHP2,
    booking,
    breach_progress,
    breach_started,
    decision,
    eur_usd,
    facility,
    milestone,
    play,
    pledge_decided,
    repayment,
    request,
    resumed,
    sale,
    setup,
    silent,
    tamper,
    tick,
)
from tradelane.contracts import CollateralStatus, Milestone
from tradelane.contracts.finance import LedgerEntryKind, RepaymentApplied, RepaymentSource
from tradelane.contracts.finance import ResultCode as R
from tradelane.contracts.seller import Choice, ConfirmationTerms

INSURER = RepaymentSource.INSURANCE

DEP = Milestone.DEPARTED_ORIGIN
WH = Milestone.ENTERED_BONDED_WAREHOUSE
ARR = Milestone.ARRIVED_DESTINATION

NO_TRANSIT_ADVANCE = {"advance_rates": {CollateralStatus.IN_TRANSIT: Decimal(0)}}
FULL_AT_DEPARTURE = {"drawdown_schedule": {DEP.value: Decimal(1)}, "margin_call_threshold": 1}
SMALL_LIMIT = {"limit": {"amount": "100000", "currency": "USD"}, "concentration_limit": 1,
               "drawdown_schedule": {DEP.value: Decimal(1)}}  # fmt: skip
MANUAL = {"auto_drawdown": False}
CONFIRMING = {"confirmation": ConfirmationTerms(window_hours=48)}
# a 5-hour breach on shp-1 after its departure draw: 75 % haircut, base below outstanding
MARGIN_CALL = [milestone(DEP, 1), breach_started(10), breach_progress(10, 300)]

CASES: list[tuple[str, Mapping[str, object], list[EngineInput], R]] = [
    ("departure draws",             {},                 [milestone(DEP, 1)],                          R.OK),
    ("manual request draws",        MANUAL,             [milestone(DEP, 1), request(DEP, 2)],         R.OK),
    ("repayment applies",           {},                 [milestone(DEP, 1), repayment("1000", 2)],    R.OK),
    ("no facility yet",             {"skip": True},     [request(DEP, 2)],                            R.FACILITY_UNKNOWN),
    ("repayment of zero",           {},                 [milestone(DEP, 1), repayment("0", 2)],       R.INVALID_AMOUNT),
    ("negative sale proceeds",      {},                 [milestone(DEP, 1), sale("-1", 2)],           R.INVALID_AMOUNT),
    ("payout delivered twice",      {},                 [milestone(DEP, 1), repayment("10", 2), repayment("10", 3)], R.ALREADY_APPLIED),
    ("request id reused",           MANUAL,             [milestone(DEP, 1), request(DEP, 2), request(DEP, 3)], R.ALREADY_APPLIED),
    ("sale reported twice",         {},                 [milestone(DEP, 1), sale("9", 2), sale("9", 3)], R.ALREADY_APPLIED),
    ("milestone drawn before",      {},                 [milestone(DEP, 1), request(DEP, 2)],         R.ALREADY_DRAWN),
    ("shipment not pledged",        {},                 [milestone(DEP, 1, shipment_id="shp-9"), request(DEP, 2, shipment_id="shp-9")], R.SHIPMENT_NOT_PLEDGED),
    ("sale of unpledged goods",     {},                 [sale("9", 2, shipment_id="shp-9")],          R.SHIPMENT_NOT_PLEDGED),
    ("pledged to another bank",     {},                 [pledge_decided("0"), milestone(DEP, 1)],     R.COLLATERAL_ALREADY_PLEDGED),
    ("pledged elsewhere, manual",   MANUAL,             [pledge_decided("0"), milestone(DEP, 1), request(DEP, 2)], R.COLLATERAL_ALREADY_PLEDGED),
    ("capped pledge draws on less", {},                 [pledge_decided("100000"), milestone(DEP, 1)], R.OK),
    ("milestone not in schedule",   {},                 [milestone(ARR, 1), request(ARR, 2)],         R.MILESTONE_NOT_SCHEDULED),
    ("milestone not reached",       {},                 [request(WH, 2)],                             R.MILESTONE_NOT_REACHED),
    ("margin call open",            {},                 [*MARGIN_CALL, milestone(DEP, 20, shipment_id=SHP2)], R.FACILITY_FROZEN),
    ("out of spec at milestone",    {},                 [milestone(DEP, 1, in_spec=False)],           R.CARGO_IMPAIRED),
    ("breach still open",           {},                 [breach_started(0), milestone(DEP, 1)],       R.CARGO_IMPAIRED),
    ("tampered in transit",         MANUAL,             [milestone(DEP, 1), tamper(2), request(DEP, 3)], R.CARGO_IMPAIRED),
    ("doors opened while loading",  {},                 [tamper(0), milestone(DEP, 1)],               R.OK),
    ("tracker silent",              {},                 [silent(0), milestone(DEP, 1)],               R.TRACKER_UNHEALTHY),
    ("tracker resumed",             {},                 [silent(0), resumed(0.5), milestone(DEP, 1)], R.OK),
    ("no FX rate for the cargo",    {"no_fx": True},    [milestone(DEP, 1)],                          R.FX_RATE_MISSING),
    ("foreign repayment, no rate",  {},                 [milestone(DEP, 1), repayment("9", 2, currency="JPY")], R.FX_RATE_MISSING),
    ("no advance in transit",       NO_TRANSIT_ADVANCE, [milestone(DEP, 1)],                          R.NOTHING_TO_DRAW),
    ("tranche above headroom",      FULL_AT_DEPARTURE,  [milestone(DEP, 1, shipment_id=SHP2), breach_started(2, SHP2), milestone(DEP, 3)], R.EXCEEDS_HEADROOM),
    ("tranche above limit",         SMALL_LIMIT,        [milestone(DEP, 1, shipment_id=SHP2), milestone(DEP, 2)], R.EXCEEDS_LIMIT),
    ("repayment with nothing owed", {},                 [repayment("10", 2)],                         R.NOTHING_OWED),
    ("insurer payout, nothing owed", {},                [repayment("10", 2, shipment_id=SHP, source=INSURER)], R.OK),  # the borrower's surplus
    # precedence: several rules broken, the first in precedence order is reported
    ("drawn beats frozen",          {},                 [*MARGIN_CALL, request(DEP, 20)],             R.ALREADY_DRAWN),
    ("unpledged beats no FX",       {"no_fx": True},    [milestone(DEP, 1, shipment_id="shp-9"), request(DEP, 2, shipment_id="shp-9")], R.SHIPMENT_NOT_PLEDGED),
    ("unpledged beats elsewhere",   {},                 [pledge_decided("0", shipment_id="shp-9"), milestone(DEP, 1, shipment_id="shp-9"), request(DEP, 2, shipment_id="shp-9")], R.SHIPMENT_NOT_PLEDGED),
    ("elsewhere beats unscheduled", {},                 [pledge_decided("0"), milestone(ARR, 1), request(ARR, 2)], R.COLLATERAL_ALREADY_PLEDGED),
    ("elsewhere beats no FX",       {"no_fx": True},    [pledge_decided("0"), milestone(DEP, 1)],     R.COLLATERAL_ALREADY_PLEDGED),
    ("frozen beats impaired",       {},                 [*MARGIN_CALL, milestone(WH, 20)],            R.FACILITY_FROZEN),  # breach still open
    ("impaired beats silent",       MANUAL,             [milestone(DEP, 1), tamper(2), silent(2), request(DEP, 3)], R.CARGO_IMPAIRED),
    ("silent beats no FX",          {"no_fx": True},    [silent(0), milestone(DEP, 1)],               R.TRACKER_UNHEALTHY),
    ("zero amount beats owed",      {},                 [repayment("0", 2)],                          R.INVALID_AMOUNT),
    ("duplicate beats no rate",     {},                 [milestone(DEP, 1), repayment("9", 2, currency="JPY"), repayment("9", 3, currency="JPY")], R.ALREADY_APPLIED),
    # the borrower's consent (facilities that confirm tranches): after every other rule
    ("waits for the borrower",      CONFIRMING,         [milestone(DEP, 1)],                          R.AWAITING_CONFIRMATION),
    ("declined ahead",              CONFIRMING,         [decision(DEP, 0.5, Choice.DECLINE), milestone(DEP, 1)], R.DECLINED_BY_BORROWER),
    ("no answer by the deadline",   CONFIRMING,         [milestone(DEP, 1), tick(50)],                R.CONFIRMATION_EXPIRED),
    ("confirmed ahead",             CONFIRMING,         [decision(DEP, 0.5), milestone(DEP, 1)],      R.OK),
    ("impaired beats awaiting",     CONFIRMING,         [breach_started(0), milestone(DEP, 1)],       R.CARGO_IMPAIRED),
]  # fmt: skip


def _inputs(options: Mapping[str, object], steps: list[EngineInput]) -> list[EngineInput]:
    if options.get("skip"):
        return steps
    terms = {k: v for k, v in options.items() if k != "no_fx"}
    registry: list[EngineInput] = [facility(**terms), booking(SHP), booking(SHP2)]
    if not options.get("no_fx"):
        registry.append(eur_usd())
    return registry + steps


@pytest.mark.parametrize(("name", "options", "steps", "expected"), CASES, ids=[c[0] for c in CASES])
def test_rule(
    name: str, options: Mapping[str, object], steps: list[EngineInput], expected: R
) -> None:
    _, outputs = play(_inputs(options, steps))
    assert outputs[-1].result is expected, name
    moved = [e for e in outputs[-1].entries if e.kind is not LedgerEntryKind.INTEREST]
    if expected is R.OK:
        assert moved, "an accepted drawdown or repayment posts to the ledger"
    elif expected is R.AWAITING_CONFIRMATION:
        assert not moved, "a tranche waiting for the borrower moves no money"
        assert "tranche_awaiting_confirmation" in [e.data.kind for e in outputs[-1].events]
    elif expected is not R.ALREADY_APPLIED:
        assert not moved, "a rejection moves no money"
        rejected = [e.data for e in outputs[-1].events if "rejected" in e.data.kind]
        assert [getattr(d, "code", None) for d in rejected] == [expected]


def test_an_insurer_payout_beyond_the_debt_is_held_for_the_borrower() -> None:
    """The lender is loss payee: what the payout leaves after the debt is the borrower's, booked
    as ``borrower_payable`` whether the debt was cleared before the payout or after it."""
    _, outputs = play(_inputs({}, [repayment("10", 2, shipment_id=SHP, source=INSURER)]))
    applied = [e.data for e in outputs[-1].events if isinstance(e.data, RepaymentApplied)]
    assert [(a.principal_paid.amount, a.surplus.amount) for a in applied] == [
        (Decimal(0), Decimal(10))
    ]


def test_every_result_code_has_a_case() -> None:
    assert {case[3] for case in CASES} == set(R)


def test_setup_is_what_the_docstring_says() -> None:
    state, _ = play([*setup(), milestone(DEP, 1)])
    assert state.principal == Decimal("66000.00")
    assert state.facility_id == FAC


def test_a_tranche_rejected_for_a_silent_tracker_is_paid_once_the_tracker_resumes() -> None:
    """Departure while the tracker is judged silent: rejected; the tracker resumes: the same
    tranche is drawn, once, however often the resume is delivered."""
    items = _inputs({}, [silent(0), milestone(DEP, 1)])
    _, before = play(items)
    codes = [e.data.code for o in before for e in o.events if e.data.kind == "drawdown_rejected"]
    assert codes == [R.TRACKER_UNHEALTHY]
    state, after = play([resumed(2), resumed(2)], play(items)[0])
    drawn = [e for o in after for e in o.events if e.data.kind == "drawdown_executed"]
    assert len(drawn) == 1
    assert drawn[0].data.milestone is DEP
    assert DEP in state.shipment(SHP).drawn


def test_a_tranche_still_impaired_when_a_tracker_resumes_stays_rejected() -> None:
    items = _inputs({}, [silent(0), breach_started(0.5), milestone(DEP, 1)])
    state, _ = play(items)
    _, after = play([resumed(2)], state)
    assert not [e for o in after for e in o.events if e.data.kind == "drawdown_executed"]
