"""What the seller's view keeps of a facility's events: each tranche's confirmation state and
the reminders sent. A pure fold over ``finance.events`` (the read model calls
:func:`fold` for every finance event, once per event id), so every API process agrees.

A tranche is named by (shipment, milestone). Its state moves through::

    awaiting ──► executed | declined | expired | not_executed
    (recorded: decided before the milestone; the outcome follows when it is reached)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from finance.calendar_plans import OpenInstalment
from tradelane.contracts.credit import AdvanceRatesChanged, CreditScoreChanged
from tradelane.contracts.finance import (
    DrawdownExecuted,
    DrawdownRejected,
    FinanceEventData,
    RepaymentApplied,
    ResultCode,
)
from tradelane.contracts.fx_quotes import FxQuoteIssued, FxQuoteRefused
from tradelane.contracts.plans import InstalmentPaid, RepaymentPlanSet
from tradelane.contracts.seller import (
    Choice,
    DecisionCode,
    DelayCode,
    FundingReminder,
    RepaymentDelayRecorded,
    TrancheAwaitingConfirmation,
    TrancheDecision,
    TrancheDecisionRecorded,
    TrancheExpired,
)

TrancheState = Literal[
    "upcoming",
    "awaiting",
    "recorded",
    "executed",
    "declined",
    "expired",
    "not_executed",
    "rejected",
]
REMINDERS_KEPT = 200


@dataclass(slots=True)
class TrancheView:
    shipment_id: str
    milestone: str
    state: TrancheState
    at: datetime
    amount: str | None = None
    """The tranche as the engine last stated it (awaiting, executed)."""
    deadline: datetime | None = None
    choice: Choice | None = None
    chosen_amount: str | None = None
    request_id: str | None = None
    code: str | None = None
    fx_quote_id: str | None = None
    """The locked quote the decision held asks the payout at."""
    pending_request_id: str | None = None
    """A decision sent (seen on ``finance.requests``) that the engine has not answered yet."""
    pending_choice: Choice | None = None
    requested_at: datetime | None = None
    pending_fx_quote_id: str | None = None


@dataclass(slots=True)
class DelayView:
    """A borrower's request to move an instalment, and the bank's answer."""

    request_id: str
    shipment_id: str
    instalment_id: str | None
    new_due: datetime | None
    at: datetime
    state: Literal["requested", "approved", "refused", "not_accepted"] = "requested"
    decided_at: datetime | None = None
    code: str | None = None
    """The engine's code: why a request was not accepted (not authorised, not later...)."""


@dataclass(slots=True)
class QuoteView:
    """An FX lock quote the borrower asked for, and what became of it."""

    request_id: str
    side: str
    notional: str
    currency: str
    state: Literal["issued", "refused", "used"]
    at: datetime
    quote_id: str | None = None
    base: str | None = None
    quote: str | None = None
    all_in_rate: str | None = None
    mid_rate: str | None = None
    spread_bp: int | None = None
    valid_until: datetime | None = None
    code: str | None = None


@dataclass(slots=True)
class SellerView:
    tranches: dict[tuple[str, str], TrancheView] = field(default_factory=dict)
    reminders: deque[FundingReminder] = field(default_factory=lambda: deque(maxlen=REMINDERS_KEPT))
    plans: dict[str, dict[str, OpenInstalment]] = field(default_factory=dict)
    """Shipment -> instalment id -> its due date and what is open of it (a plan that started;
    an instalment is open in full until ``InstalmentPaid``: partial payments are not
    announced per instalment)."""
    delays: dict[str, DelayView] = field(default_factory=dict)
    """Delay request id -> the request and what the bank decided."""
    paid: dict[str, datetime] = field(default_factory=dict)
    """Instalment id -> when it was paid in full."""
    credit: CreditScoreChanged | None = None
    """The latest credit score the engine announced, with its factors."""
    rate_changes: deque[AdvanceRatesChanged] = field(default_factory=lambda: deque(maxlen=50))
    """Advance-rate changes because of the score, newest last."""
    quotes: dict[str, QuoteView] = field(default_factory=dict)
    """Quote request id -> the quote (or refusal); used once a repayment took it."""
    answered: set[str] = field(default_factory=set)
    """Request ids the engine answered (a request read after its answer stays answered)."""

    def tranche(self, shipment_id: str, milestone: str, at: datetime) -> TrancheView:
        key = (shipment_id, milestone)
        found = self.tranches.get(key)
        if found is None:
            found = self.tranches[key] = TrancheView(shipment_id, milestone, "recorded", at)
        return found


_OUTCOME: dict[ResultCode, TrancheState] = {
    ResultCode.DECLINED_BY_BORROWER: "declined",
    ResultCode.CONFIRMATION_EXPIRED: "expired",
}


def fold(view: SellerView, data: FinanceEventData) -> None:
    """Fold one finance event into the seller's view (events of other kinds change nothing)."""
    match data:
        case TrancheAwaitingConfirmation():
            _awaiting(view, data)
        case TrancheDecisionRecorded():
            _decided(view, data)
        case TrancheExpired():
            _expired(view, data)
        case DrawdownExecuted():
            _executed(view, data)
        case DrawdownRejected():
            _rejected(view, data)
        case FundingReminder():
            view.reminders.append(data)
        case FxQuoteIssued():
            _quote_issued(view, data)
        case FxQuoteRefused():
            _quote_refused(view, data)
        case RepaymentApplied() if data.fx.quote_id is not None:
            _used(view, data.fx.quote_id)
        case CreditScoreChanged():
            if view.credit is None or data.at >= view.credit.at:
                view.credit = data
        case AdvanceRatesChanged():
            view.rate_changes.append(data)
        case RepaymentPlanSet():
            _plan_set(view, data)
        case InstalmentPaid():
            _instalment_paid(view, data)
        case RepaymentDelayRecorded():
            _delay(view, data)
        case _:
            pass


def _awaiting(view: SellerView, data: TrancheAwaitingConfirmation) -> None:
    t = view.tranche(data.shipment_id, data.milestone.value, data.at)
    t.state, t.at, t.deadline = "awaiting", data.at, data.deadline
    t.amount = str(data.amount.amount)


def _expired(view: SellerView, data: TrancheExpired) -> None:
    """The confirmation window closed; an executed tranche keeps its state."""
    t = view.tranche(data.shipment_id, data.milestone.value, data.at)
    if data.outcome != "executed":
        t.state = "expired" if data.outcome == "skipped" else "not_executed"
    t.at, t.deadline = data.at, data.deadline


def _executed(view: SellerView, data: DrawdownExecuted) -> None:
    if data.payout_quote_id is not None:
        _used(view, data.payout_quote_id)
    key = (data.shipment_id, data.milestone.value)
    if key in view.tranches:  # only tranches the borrower was asked about
        t = view.tranches[key]
        t.state, t.at, t.amount = "executed", data.at, str(data.amount.amount)


def _rejected(view: SellerView, data: DrawdownRejected) -> None:
    """A rejection shows on a tranche the borrower was asked about, or when it is the
    borrower's own outcome (declined, confirmation expired)."""
    key = (data.shipment_id, data.milestone.value)
    if key in view.tranches or data.code in _OUTCOME:
        t = view.tranche(data.shipment_id, data.milestone.value, data.at)
        t.state, t.at, t.code = _OUTCOME.get(data.code, "rejected"), data.at, data.code


def _quote_issued(view: SellerView, data: FxQuoteIssued) -> None:
    view.quotes[data.request_id] = QuoteView(
        data.request_id,
        data.side,
        str(data.notional.amount),
        data.notional.currency,
        "issued",
        data.at,
        quote_id=data.quote_id,
        base=data.base,
        quote=data.quote,
        all_in_rate=str(data.all_in_rate),
        mid_rate=str(data.mid_rate),
        spread_bp=data.spread_bp,
        valid_until=data.valid_until,
    )


def _quote_refused(view: SellerView, data: FxQuoteRefused) -> None:
    view.quotes[data.request_id] = QuoteView(
        data.request_id,
        data.side,
        str(data.notional.amount),
        data.notional.currency,
        "refused",
        data.at,
        code=data.code.value,
    )


def _plan_set(view: SellerView, data: RepaymentPlanSet) -> None:
    """A (new) plan replaces the shipment's instalments, each open in full."""
    view.plans[data.shipment_id] = {
        i.instalment_id: OpenInstalment(
            i.instalment_id, i.index, i.due, i.amount.amount, i.amount.amount
        )
        for i in data.instalments
    }


def _instalment_paid(view: SellerView, data: InstalmentPaid) -> None:
    view.paid[data.instalment_id] = data.at
    plan = view.plans.get(data.shipment_id, {})
    if data.instalment_id in plan:
        plan[data.instalment_id] = replace(plan[data.instalment_id], open=Decimal(0))


def requested(view: SellerView, data: TrancheDecision) -> None:
    """A decision on its way (read from ``finance.requests``); the answer clears it."""
    if data.request_id in view.answered:
        return  # the answer came first (the two topics are read side by side)
    key = (data.shipment_id, data.milestone.value)
    if key not in view.tranches:  # not reached yet: still upcoming until the engine answers
        view.tranches[key] = TrancheView(key[0], key[1], "upcoming", data.at)
    t = view.tranches[key]
    t.pending_request_id, t.pending_choice, t.requested_at = data.request_id, data.choice, data.at
    t.pending_fx_quote_id = data.fx_quote_id


def _used(view: SellerView, quote_id: str) -> None:
    for quote in view.quotes.values():
        if quote.quote_id == quote_id:
            quote.state = "used"


def _delay(view: SellerView, data: RepaymentDelayRecorded) -> None:
    """A request held (``requested``), or the bank's answer to one."""
    if data.decision == "requested":
        accepted = data.code is DelayCode.REQUESTED
        view.delays[data.request_id] = DelayView(
            data.request_id,
            data.shipment_id,
            data.instalment_id,
            data.new_due,
            data.at,
            "requested" if accepted else "not_accepted",
            code=data.code.value,
        )
        return
    if data.code not in (DelayCode.APPROVED, DelayCode.REFUSED):
        return  # refused for its shape (not authorised, unknown...): nothing changed
    asked = view.delays.get(data.delay_request_id or "")
    if asked is not None:
        asked.state, asked.decided_at = data.decision, data.at
    if data.code is DelayCode.APPROVED:
        _delayed(view, data)


def _delayed(view: SellerView, data: RepaymentDelayRecorded) -> None:
    plan = view.plans.get(data.shipment_id, {})
    held = plan.get(data.instalment_id or "")
    if held is not None and data.due_after is not None:
        plan[held.instalment_id] = replace(held, due=data.due_after)


def _decided(view: SellerView, data: TrancheDecisionRecorded) -> None:
    view.answered.add(data.request_id)
    pending = view.tranches.get((data.shipment_id, data.milestone.value))
    quote: str | None = None
    if pending is not None and pending.pending_request_id == data.request_id:
        quote = pending.pending_fx_quote_id
        pending.pending_request_id = pending.pending_choice = pending.requested_at = None
        pending.pending_fx_quote_id = None
    if data.code in (DecisionCode.ALREADY_APPLIED, DecisionCode.NOT_AUTHORISED):
        return  # changes nothing the seller sees; the refusal is on the event itself
    t = view.tranche(data.shipment_id, data.milestone.value, data.at)
    t.code = data.code.value
    if data.code in (
        DecisionCode.RECORDED,
        DecisionCode.EXECUTED,
        DecisionCode.DECLINED,
        DecisionCode.NOT_EXECUTED,
    ):
        t.choice, t.request_id, t.fx_quote_id = data.choice, data.request_id, quote
        t.chosen_amount = None if data.amount is None else str(data.amount.amount)
    if data.code is DecisionCode.RECORDED and t.state in ("upcoming", "recorded"):
        t.state, t.at = "recorded", data.at


def upcoming_reminders(
    view: SellerView, today: date, reached: Callable[[str, str], bool]
) -> list[FundingReminder]:
    """The latest reminder per line still ahead of ``today`` whose milestone has not been
    reached (``reached(shipment_id, milestone)``), soonest first."""
    latest: dict[tuple[str, str, str], FundingReminder] = {}
    for r in view.reminders:
        latest[(r.shipment_id, r.line, r.milestone.value)] = r
    ahead = [
        r
        for r in latest.values()
        if r.expected_on >= today and not reached(r.shipment_id, r.milestone.value)
    ]
    return sorted(ahead, key=lambda r: (r.expected_on, r.shipment_id, r.line))
