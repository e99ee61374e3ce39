"""The seller's endpoints: tranches to confirm, one-click decisions, reminders.

``GET /facilities/{id}/tranches`` lists every tranche the borrower can act on or was asked
about: the drawdowns the calendar expects (``upcoming``), the ones waiting for a decision
(``awaiting``, with their deadline) and the outcomes. ``POST .../decision`` sends one decision
to the engine through ``finance.requests`` and answers 202: the engine decides, and its answer
(``TrancheDecisionRecorded``, then the drawdown or its refusal) arrives on the facility's
events, webhooks and live feed. The borrower of the facility and operators may decide; a bank
reads the same list but cannot decide for its borrower (403).

A decision's ``request_id`` is the held decision's when the click repeats it (same choice and
amount), else derives from the facility, tranche, choice, amount, the party and the decision
held; so the same click sent twice (a double tap, a retried request, before or after the first
was recorded) is one request, while a new choice is a new one. An ``Idempotency-Key`` header,
when sent, replaces the held decision in that derivation.
A decision is stamped with the facility's event time (its latest event the API has seen), the
clock the engine judges deadlines by.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Header, HTTPException, Query

from api.access import can_see_facility
from api.auth import Principal
from api.deps import PrincipalDep, StateDep
from api.finance_reads import calendar, default_start
from api.problems import problem_responses
from api.projection import FacilityView
from api.seller_fold import TrancheView, upcoming_reminders
from api.seller_models import (
    DecisionAccepted,
    DecisionIn,
    ReminderList,
    ReminderOut,
    TrancheList,
    TrancheOut,
)
from api.service import ApiState
from finance.calendar import CalendarLine
from tradelane.contracts import Milestone, Money
from tradelane.contracts.seller import Choice, FundingReminder, Requester, TrancheDecision
from tradelane.ids import derive_id
from tradelane.roles import Role

router = APIRouter(prefix="/api/v1", tags=["seller"])
ERRORS = problem_responses(401, 404, 422, 429)
DECIDE_ERRORS = problem_responses(400, 401, 403, 404, 409, 422, 429, 503)
FINAL = frozenset({"executed", "declined", "expired", "not_executed"})


def visible_facility(api: ApiState, principal: Principal, facility_id: str) -> FacilityView:
    """The facility with terms, if ``principal`` may see it; else 404."""
    view = api.model.facilities.get(facility_id)
    if (
        view is None
        or view.facility is None
        or not can_see_facility(principal, api.model, facility_id)
    ):
        raise HTTPException(404, f"no facility {facility_id!r} visible to this key")
    return view


def _held(t: TrancheView) -> TrancheOut:
    return TrancheOut(
        shipment_id=t.shipment_id,
        milestone=t.milestone,
        state=t.state,
        amount=t.amount,
        expected_on=None,
        deadline=t.deadline,
        choice=t.choice,
        chosen_amount=t.chosen_amount,
        code=t.code,
        can_decide=t.state not in FINAL and t.state != "rejected",
        at=t.at,
        fx_quote_id=t.fx_quote_id,
        pending_request_id=t.pending_request_id,
        pending_choice=t.pending_choice,
        requested_at=t.requested_at,
    )


def _upcoming(line: CalendarLine) -> TrancheOut:
    assert line.shipment_id is not None
    assert line.milestone is not None
    return TrancheOut(
        shipment_id=line.shipment_id,
        milestone=line.milestone.value,
        state="upcoming",
        amount=None if line.amount is None else str(line.amount.amount),
        expected_on=line.day,
        certainty=line.certainty,
        choice=None,
        code=None,
        can_decide=True,
    )


@router.get("/facilities/{facility_id}/tranches", response_model=TrancheList, responses=ERRORS)
def facility_tranches(
    facility_id: str,
    api: StateDep,
    principal: PrincipalDep,
    days: Annotated[int, Query(ge=1, le=182, description="How far ahead")] = 28,
) -> TrancheList:
    """Tranches to confirm and their outcomes: upcoming (from the calendar), awaiting a
    decision (with the deadline), decided and done, soonest first."""
    view = visible_facility(api, principal, facility_id)
    terms = view.facility
    assert terms is not None
    held = {key: _held(t) for key, t in view.seller.tranches.items()}
    start = default_start(view) or datetime.now(UTC)
    cal = calendar(api.model, view, start, days)
    for line in cal.lines:
        if line.kind != "drawdown" or line.status == "done" or line.milestone is None:
            continue
        key = (line.shipment_id or "", line.milestone.value)
        if key in held:
            held[key].expected_on = line.day
            held[key].certainty = line.certainty
        else:
            held[key] = _upcoming(line)
    items = sorted(held.values(), key=lambda t: (t.state in FINAL, _when(t), t.shipment_id))
    confirm = terms.confirmation
    return TrancheList(
        facility_id=facility_id,
        currency=terms.limit.currency,
        confirmation_required=confirm is not None,
        window_hours=None if confirm is None else confirm.window_hours,
        on_deadline=None if confirm is None else confirm.on_deadline,
        items=items,
    )


def _when(t: TrancheOut) -> datetime:
    if t.deadline is not None:
        return t.deadline
    if t.expected_on is not None:
        return datetime(t.expected_on.year, t.expected_on.month, t.expected_on.day, tzinfo=UTC)
    return t.at or datetime.max.replace(tzinfo=UTC)


@router.post(
    "/facilities/{facility_id}/tranches/{shipment_id}/{milestone}/decision",
    status_code=202,
    response_model=DecisionAccepted,
    responses=DECIDE_ERRORS,
)
async def decide_tranche(
    facility_id: str,
    shipment_id: str,
    milestone: Milestone,
    body: DecisionIn,
    api: StateDep,
    principal: PrincipalDep,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> DecisionAccepted:
    """Confirm, decline or resize one tranche (the borrower, or an operator for it)."""
    view = visible_facility(api, principal, facility_id)
    terms = view.facility
    assert terms is not None
    if principal.role not in (Role.BORROWER, Role.OPERATOR):
        raise HTTPException(403, "only the facility's borrower (or an operator) decides tranches")
    if terms.confirmation is None:
        raise HTTPException(409, f"facility {facility_id!r} does not ask for confirmations")
    if shipment_id not in terms.pledged_shipments:
        raise HTTPException(404, f"no shipment {shipment_id!r} pledged to {facility_id!r}")
    if (body.choice is Choice.CHANGE_AMOUNT) != (body.amount is not None):
        raise HTTPException(422, "give an amount with change_amount, and only then")
    if body.choice is Choice.DECLINE and body.fx_quote_id is not None:
        raise HTTPException(422, "a declined tranche pays nothing out: no fx_quote_id")
    if api.requests is None:
        raise HTTPException(503, "this server does not accept requests (no Kafka writer)")
    decision = _decision(view, principal, shipment_id, milestone, body, idempotency_key)
    await api.requests.send(decision)
    return DecisionAccepted(
        request_id=decision.request_id,
        facility_id=facility_id,
        shipment_id=shipment_id,
        milestone=milestone.value,
        choice=body.choice,
        amount=None if body.amount is None else str(body.amount),
        at=decision.at,
        see=f"/api/v1/facilities/{facility_id}/tranches",
    )


def _decision(
    view: FacilityView,
    principal: Principal,
    shipment_id: str,
    milestone: Milestone,
    body: DecisionIn,
    idempotency_key: str | None,
) -> TrancheDecision:
    """The request, stamped with the facility's event time: the latest event of the facility
    the API has seen, the clock its deadlines are judged by (a replayed or simulated fleet
    runs at its own time, and a wall-clock stamp would move its clock by months). The wall
    clock only for a facility with no events yet."""
    terms = view.facility
    assert terms is not None
    held = view.seller.tranches.get((shipment_id, milestone.value))
    if idempotency_key is None and held is not None and _same(held, body):
        request_id = held.request_id or ""  # the decision held, clicked again: one request
    else:
        request_id = _request_id(
            view, principal, shipment_id, milestone, body, held, idempotency_key
        )
    return TrancheDecision(
        request_id=request_id,
        facility_id=view.facility_id,
        shipment_id=shipment_id,
        milestone=milestone,
        choice=body.choice,
        amount=None
        if body.amount is None
        else Money(amount=body.amount, currency=terms.limit.currency),
        by=requester(principal, "borrower"),
        at=event_stamp(view),
        fx_quote_id=body.fx_quote_id,
    )


def event_stamp(view: FacilityView) -> datetime:
    """What a request is stamped with: the facility's event time (its latest event the API
    has seen), the clock the engine judges deadlines by; the wall clock only for a facility
    with no events yet."""
    return default_start(view) or datetime.now(UTC)


def requester(principal: Principal, role: Literal["borrower", "bank"]) -> Requester:
    """Who asks, as the engine checks it: an operator as itself, else in ``role``."""
    if principal.role is Role.OPERATOR:
        return Requester(role="operator", party=principal.party)
    return Requester(role=role, party=principal.party)


def _same(held: TrancheView, body: DecisionIn) -> bool:
    chosen = None if held.chosen_amount is None else Decimal(held.chosen_amount)
    return held.request_id is not None and (held.choice, chosen, held.fx_quote_id) == (
        body.choice,
        body.amount,
        body.fx_quote_id,
    )


def _request_id(
    view: FacilityView,
    principal: Principal,
    shipment_id: str,
    milestone: Milestone,
    body: DecisionIn,
    held: TrancheView | None,
    idempotency_key: str | None,
) -> str:
    basis = idempotency_key or (held.request_id if held is not None else None) or "-"
    return derive_id(
        "tranche_decision",
        view.facility_id,
        shipment_id,
        milestone.value,
        body.choice.value,
        str(body.amount),
        body.fx_quote_id or "",
        principal.role.value,
        principal.party or "",
        basis,
    )


def _reminder(r: FundingReminder) -> ReminderOut:
    return ReminderOut(
        shipment_id=r.shipment_id,
        line=r.line,
        milestone=r.milestone.value,
        expected_on=r.expected_on,
        amount=None if r.amount is None else str(r.amount.amount),
        basis=r.basis,
        needs_confirmation=r.needs_confirmation,
        previous_expected_on=r.previous_expected_on,
        at=r.at,
    )


@router.get("/facilities/{facility_id}/reminders", response_model=ReminderList, responses=ERRORS)
def facility_reminders(facility_id: str, api: StateDep, principal: PrincipalDep) -> ReminderList:
    """The reminders sent (event time), and the latest per line still ahead."""
    view = visible_facility(api, principal, facility_id)
    terms = view.facility
    assert terms is not None
    today = (default_start(view) or datetime.now(UTC)).date()

    def reached(shipment_id: str, milestone: str) -> bool:
        shipment = api.model.shipments.get(shipment_id)
        return shipment is not None and milestone in shipment.milestones

    return ReminderList(
        facility_id=facility_id,
        reminder_days=terms.reminder_days,
        upcoming=[_reminder(r) for r in upcoming_reminders(view.seller, today, reached)],
        recent=[_reminder(r) for r in reversed(view.seller.reminders)],
    )
