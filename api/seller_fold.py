"""What the seller's view keeps of a facility's events: each tranche's confirmation state and
the reminders sent. A pure fold over ``finance.events`` (the read model calls
:func:`fold` for every finance event, once per event id), so every API process agrees.

A tranche is named by (shipment, milestone). Its state moves through::

    awaiting ──► executed | declined | expired | not_executed
    (recorded: decided before the milestone; the outcome follows when it is reached)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from tradelane.contracts.finance import (
    DrawdownExecuted,
    DrawdownRejected,
    FinanceEventData,
    ResultCode,
)
from tradelane.contracts.seller import (
    Choice,
    DecisionCode,
    FundingReminder,
    TrancheAwaitingConfirmation,
    TrancheDecisionRecorded,
    TrancheExpired,
)

TrancheState = Literal[
    "awaiting", "recorded", "executed", "declined", "expired", "not_executed", "rejected"
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


@dataclass(slots=True)
class SellerView:
    tranches: dict[tuple[str, str], TrancheView] = field(default_factory=dict)
    reminders: deque[FundingReminder] = field(default_factory=lambda: deque(maxlen=REMINDERS_KEPT))

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
            t = view.tranche(data.shipment_id, data.milestone.value, data.at)
            t.state, t.at, t.deadline = "awaiting", data.at, data.deadline
            t.amount = str(data.amount.amount)
        case TrancheDecisionRecorded():
            _decided(view, data)
        case TrancheExpired():
            t = view.tranche(data.shipment_id, data.milestone.value, data.at)
            if data.outcome != "executed":
                t.state = "expired" if data.outcome == "skipped" else "not_executed"
            t.at, t.deadline = data.at, data.deadline
        case DrawdownExecuted():
            key = (data.shipment_id, data.milestone.value)
            if key in view.tranches:  # only tranches the borrower was asked about
                t = view.tranches[key]
                t.state, t.at, t.amount = "executed", data.at, str(data.amount.amount)
        case DrawdownRejected():
            key = (data.shipment_id, data.milestone.value)
            if key in view.tranches or data.code in _OUTCOME:
                t = view.tranche(data.shipment_id, data.milestone.value, data.at)
                t.state, t.at, t.code = _OUTCOME.get(data.code, "rejected"), data.at, data.code
        case FundingReminder():
            view.reminders.append(data)
        case _:
            pass


def _decided(view: SellerView, data: TrancheDecisionRecorded) -> None:
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
        t.choice, t.request_id = data.choice, data.request_id
        t.chosen_amount = None if data.amount is None else str(data.amount.amount)
    if data.code is DecisionCode.RECORDED and t.state == "recorded":
        t.at = data.at


def upcoming_reminders(view: SellerView, today: date) -> list[FundingReminder]:
    """The latest reminder per line still ahead of ``today``, soonest first."""
    latest: dict[tuple[str, str, str], FundingReminder] = {}
    for r in view.reminders:
        latest[(r.shipment_id, r.line, r.milestone.value)] = r
    ahead = [r for r in latest.values() if r.expected_on >= today]
    return sorted(ahead, key=lambda r: (r.expected_on, r.shipment_id, r.line))
