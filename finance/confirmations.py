"""The borrower's consent to a milestone tranche, as the drawdown rules see it.

A facility whose terms carry ``confirmation`` lends at a milestone only with the borrower's
yes (:mod:`tradelane.contracts.seller`). :func:`gate` is the last rule of an automatic tranche
(after headroom, condition and freeze passed): the borrower's held decision executes, resizes
or declines it; without one the tranche is parked until a decision or its deadline. What the
decisions themselves do is :mod:`finance.tranche_decisions`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from finance.facility_state import AwaitingTranche, FacilityState, ShipmentCollateral
from finance.step import Step
from tradelane.contracts import Milestone
from tradelane.contracts.finance import ResultCode
from tradelane.contracts.seller import Choice, TrancheAwaitingConfirmation


def gate(
    step: Step,
    shipment: ShipmentCollateral,
    milestone: Milestone,
    amount: Decimal,
    cause_event_id: str,
    at: datetime,
) -> tuple[ResultCode, Decimal]:
    """``(OK, amount to lend)``, ``(DECLINED_BY_BORROWER, 0)`` or, with no decision held,
    ``(AWAITING_CONFIRMATION, amount)`` after parking the tranche."""
    terms = step.state.terms
    if terms is None or terms.confirmation is None:
        return ResultCode.OK, amount
    held = shipment.choices.get(milestone)
    if held is None:
        _park(step, shipment, milestone, amount, cause_event_id, at)
        return ResultCode.AWAITING_CONFIRMATION, amount
    if held.choice is Choice.DECLINE:
        return ResultCode.DECLINED_BY_BORROWER, Decimal(0)
    if held.choice is Choice.CHANGE_AMOUNT and held.amount is not None:
        return ResultCode.OK, min(amount, held.amount)
    return ResultCode.OK, amount


def _park(
    step: Step,
    shipment: ShipmentCollateral,
    milestone: Milestone,
    amount: Decimal,
    cause_event_id: str,
    at: datetime,
) -> None:
    state = step.state
    terms = state.terms
    assert terms is not None
    assert terms.confirmation is not None
    deadline = at + timedelta(hours=terms.confirmation.window_hours)
    shipment.awaiting[milestone] = AwaitingTranche(
        deadline=deadline, cause_event_id=cause_event_id, at=at
    )
    state.next_deadline = earliest_deadline(state)
    step.emit(
        TrancheAwaitingConfirmation(
            facility_id=state.facility_id,
            shipment_id=shipment.shipment_id,
            milestone=milestone,
            amount=step.money(amount),
            deadline=deadline,
            on_deadline=terms.confirmation.on_deadline,
            at=at,
        ),
        shipment.shipment_id,
        milestone.value,
        cause_event_id,
    )


def earliest_deadline(state: FacilityState) -> datetime | None:
    """The next deadline of a parked tranche (``None``: nothing waits)."""
    deadlines = [w.deadline for s in state.shipments.values() for w in s.awaiting.values()]
    return min(deadlines, default=None)
