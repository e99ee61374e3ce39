"""The borrower's decisions on tranches, and the deadlines of the tranches that wait for one.

A :class:`~tradelane.contracts.seller.TrancheDecision` is checked (who asked, whether the
facility confirms tranches, whether the tranche can still change), then held on the
shipment's record. A tranche already waiting is executed, resized or declined at once; one
whose milestone is still ahead takes the decision when it is reached
(:func:`finance.confirmations.gate`). Each request id is applied once, and a tranche is lent at
most once (its ``ALREADY_DRAWN`` rule), so the same click twice moves money once.

:func:`expire_due` runs as the facility clock passes each deadline: a tranche still waiting
at its deadline is skipped, or executed when the terms say so, as of the deadline.
"""

from __future__ import annotations

from datetime import datetime

from finance.confirmations import earliest_deadline
from finance.drawdowns import attempt, reject, scheduled_share
from finance.facility_state import FacilityState, HeldChoice, ShipmentCollateral
from finance.step import Step
from tradelane.contracts import Milestone
from tradelane.contracts.finance import ResultCode
from tradelane.contracts.seller import (
    Choice,
    DecisionCode,
    TrancheDecision,
    TrancheDecisionRecorded,
    TrancheExpired,
)
from tradelane.tenancy import acts_for

CLOSED = (ResultCode.DECLINED_BY_BORROWER, ResultCode.CONFIRMATION_EXPIRED)
"""Outcomes after which a tranche takes no decision any more (so does a drawn one)."""


def decide(step: Step, decision: TrancheDecision) -> DecisionCode:
    """Apply one decision and announce its outcome (``TrancheDecisionRecorded``)."""
    state = step.state
    key = f"decision:{decision.request_id}"
    if key in state.handled:
        return DecisionCode.ALREADY_APPLIED  # a redelivered click: its first outcome stands
    code = _refusal(state, decision) or _apply(step, decision)
    state.handled[key] = ResultCode.OK
    step.emit(
        TrancheDecisionRecorded(
            facility_id=state.facility_id,
            shipment_id=decision.shipment_id,
            milestone=decision.milestone,
            request_id=decision.request_id,
            choice=decision.choice,
            amount=decision.amount,
            code=code,
            at=decision.at,
        ),
        decision.request_id,
    )
    return code


def _refusal(state: FacilityState, decision: TrancheDecision) -> DecisionCode | None:
    """The first reason the decision cannot apply, in precedence order."""
    terms = state.terms
    if terms is None or not acts_for(terms, decision.by, "borrower"):
        return DecisionCode.NOT_AUTHORISED
    if terms.confirmation is None:
        return DecisionCode.CONFIRMATION_NOT_REQUIRED
    shipment_id, milestone = decision.shipment_id, decision.milestone
    if not state.pledged(shipment_id) or scheduled_share(state, milestone) <= 0:
        return DecisionCode.NOT_SCHEDULED
    if decision.amount is not None and decision.amount.currency != terms.limit.currency:
        return DecisionCode.CURRENCY_MISMATCH
    shipment = state.shipments.get(shipment_id)
    if shipment is None:
        return None
    if milestone in shipment.drawn or shipment.attempted.get(milestone) in CLOSED:
        return DecisionCode.ALREADY_DECIDED
    waiting = shipment.awaiting.get(milestone)
    if waiting is not None and decision.at > waiting.deadline:
        return DecisionCode.DEADLINE_PASSED
    return None


def _apply(step: Step, decision: TrancheDecision) -> DecisionCode:
    state = step.state
    shipment = state.shipment(decision.shipment_id)
    milestone = decision.milestone
    amount = None if decision.amount is None else decision.amount.amount
    shipment.choices[milestone] = HeldChoice(
        request_id=decision.request_id,
        choice=decision.choice,
        amount=amount,
        at=decision.at,
        fx_quote_id=decision.fx_quote_id,
    )
    if shipment.awaiting.pop(milestone, None) is None:
        return DecisionCode.RECORDED  # applied when the milestone is reached
    state.next_deadline = earliest_deadline(state)
    if decision.choice is Choice.DECLINE:
        _close(step, shipment, milestone, ResultCode.DECLINED_BY_BORROWER, decision)
        return DecisionCode.DECLINED
    result = attempt(
        step, shipment.shipment_id, milestone, decision.request_id, decision.at, True, amount
    )
    shipment.attempted[milestone] = result
    return DecisionCode.EXECUTED if result is ResultCode.OK else DecisionCode.NOT_EXECUTED


def _close(
    step: Step,
    shipment: ShipmentCollateral,
    milestone: Milestone,
    code: ResultCode,
    decision: TrancheDecision,
) -> None:
    shipment.attempted[milestone] = code
    reject(step, shipment.shipment_id, milestone, code, decision.request_id, decision.at)


def deadlines_before(state: FacilityState, target: datetime) -> list[datetime]:
    """The distinct deadlines of waiting tranches before ``target``, earliest first: the
    facility clock stops at each on its way to ``target`` (:func:`expire_due`)."""
    if state.next_deadline is None or state.next_deadline >= target:
        return []
    return sorted(
        {
            w.deadline
            for s in state.shipments.values()
            for w in s.awaiting.values()
            if w.deadline < target
        }
    )


def expire_due(step: Step, upto: datetime) -> None:
    """Settle every waiting tranche whose deadline is at or before ``upto``, in deadline order
    (then milestone, shipment). The engine calls it with the clock stopped at each deadline,
    so a tranche expires as of its deadline whatever input moved the clock past it."""
    state = step.state
    execute = (
        state.terms is not None
        and state.terms.confirmation is not None
        and state.terms.confirmation.on_deadline == "execute"
    )
    order = list(Milestone)
    due = sorted(
        (w.deadline, order.index(m), s.shipment_id)
        for s in state.shipments.values()
        for m, w in s.awaiting.items()
        if w.deadline <= upto
    )
    for _, index, shipment_id in due:
        _expire(step, state.shipments[shipment_id], order[index], execute)
    state.next_deadline = earliest_deadline(state)


def expire_passed(step: Step) -> None:
    """Settle, at the end of a step, the waiting tranches whose deadline was already behind the
    clock when they were parked (a milestone that arrived late): the step that parked them
    settles them, so no later input, redelivered or not, decides when."""
    state, now = step.state, step.now
    if state.next_deadline is None or now is None or state.next_deadline >= now:
        return
    for deadline in deadlines_before(state, now):
        expire_due(step, deadline)


def _expire(step: Step, shipment: ShipmentCollateral, milestone: Milestone, execute: bool) -> None:
    state = step.state
    waiting = shipment.awaiting.pop(milestone)
    sid = shipment.shipment_id
    if execute:
        result = attempt(step, sid, milestone, waiting.cause_event_id, waiting.deadline, True)
        outcome = "executed" if result is ResultCode.OK else "not_executed"
    else:
        result, outcome = ResultCode.CONFIRMATION_EXPIRED, "skipped"
        reject(step, sid, milestone, result, waiting.cause_event_id, waiting.deadline)
    shipment.attempted[milestone] = step.result = result
    step.emit(
        TrancheExpired(
            facility_id=state.facility_id,
            shipment_id=sid,
            milestone=milestone,
            deadline=waiting.deadline,
            outcome=outcome,
            at=waiting.deadline,
        ),
        sid,
        milestone.value,
    )
