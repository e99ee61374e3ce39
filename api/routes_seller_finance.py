"""The seller's other requests: staged repayment plans (the instalments, and the borrower's
requests to move one), the credit profile, and FX lock quotes.

``GET /facilities/{id}/instalments`` lists each started plan's instalments (due date, amount,
what is open, paid or overdue) and the delay requests with the bank's answers. The borrower
asks for a later due date with ``POST .../instalments/{shipment}/{instalment}/delay`` (the
stock is late); the facility's bank approves or refuses with ``POST .../delays/{id}/decision``.
Both travel on ``finance.requests`` and the engine applies them (:mod:`finance.instalments`);
202 answers that the request is on its way, the outcome (``repayment_delay_recorded``) comes on
the facility's events and in this list. Request ids derive from what is asked and who asks, so
the same request sent twice is one request.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Principal
from api.deps import PrincipalDep, StateDep
from api.finance_reads import default_start
from api.problems import problem_responses
from api.routes_seller import event_stamp, requester, visible_facility
from api.service import ApiState
from tradelane.contracts import Money
from tradelane.contracts.finance import FinanceRequestData
from tradelane.contracts.fx_quotes import FxQuoteRequested
from tradelane.contracts.seller import RepaymentDelayDecided, RepaymentDelayRequested
from tradelane.ids import derive_id
from tradelane.roles import Role

router = APIRouter(prefix="/api/v1", tags=["seller"])
ERRORS = problem_responses(401, 404, 422, 429)
ASK_ERRORS = problem_responses(400, 401, 403, 404, 409, 422, 429, 503)


class InstalmentOut(BaseModel):
    shipment_id: str
    instalment_id: str
    index: int
    due: datetime
    amount: str
    open: str = Field(
        description="Open in full until paid in full (partial payments are not shown)"
    )
    state: Literal["open", "overdue", "paid"]
    paid_at: datetime | None = None


class DelayOut(BaseModel):
    request_id: str
    shipment_id: str
    instalment_id: str | None
    new_due: datetime | None
    state: Literal["requested", "approved", "refused", "not_accepted"] = Field(
        description="not_accepted: the engine refused the request itself (see code)"
    )
    at: datetime
    decided_at: datetime | None
    code: str | None = Field(default=None, description="The engine's code for the request")


class InstalmentList(BaseModel):
    facility_id: str
    currency: str
    as_of: datetime | None = Field(description="The facility's event time overdue is judged at")
    instalments: list[InstalmentOut]
    delays: list[DelayOut]


class DelayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    new_due: datetime = Field(description="The later due date asked for (with a time zone)")
    reason: Annotated[str, Field(max_length=500)] = ""


class DelayDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: bool


class RequestAccepted(BaseModel):
    request_id: str
    status: Literal["queued"] = "queued"
    at: datetime
    see: str


@router.get(
    "/facilities/{facility_id}/instalments", response_model=InstalmentList, responses=ERRORS
)
def facility_instalments(
    facility_id: str, api: StateDep, principal: PrincipalDep
) -> InstalmentList:
    """Every started plan's instalments, soonest first, and the delay requests."""
    view = visible_facility(api, principal, facility_id)
    assert view.facility is not None
    now = default_start(view)
    seller = view.seller
    items = [
        InstalmentOut(
            shipment_id=shipment_id,
            instalment_id=i.instalment_id,
            index=i.index,
            due=i.due,
            amount=str(i.amount),
            open=str(i.open),
            state="paid"
            if i.instalment_id in seller.paid
            else "overdue"
            if now is not None and i.due < now
            else "open",
            paid_at=seller.paid.get(i.instalment_id),
        )
        for shipment_id, plan in sorted(seller.plans.items())
        for i in plan.values()
    ]
    items.sort(key=lambda i: (i.due, i.shipment_id, i.index))
    delays = [
        DelayOut(
            request_id=d.request_id,
            shipment_id=d.shipment_id,
            instalment_id=d.instalment_id,
            new_due=d.new_due,
            state=d.state,
            at=d.at,
            decided_at=d.decided_at,
            code=d.code,
        )
        for d in sorted(seller.delays.values(), key=lambda d: d.at, reverse=True)
    ]
    return InstalmentList(
        facility_id=facility_id,
        currency=view.facility.limit.currency,
        as_of=now,
        instalments=items,
        delays=delays,
    )


async def _send(api: ApiState, data: FinanceRequestData) -> None:
    if api.requests is None:
        raise HTTPException(503, "this server does not accept requests (no Kafka writer)")
    await api.requests.send(data)


@router.post(
    "/facilities/{facility_id}/instalments/{shipment_id}/{instalment_id}/delay",
    status_code=202,
    response_model=RequestAccepted,
    responses=ASK_ERRORS,
)
async def ask_delay(
    facility_id: str,
    shipment_id: str,
    instalment_id: str,
    body: DelayIn,
    api: StateDep,
    principal: PrincipalDep,
) -> RequestAccepted:
    """The borrower asks to move one instalment to a later date (the stock is late)."""
    view = visible_facility(api, principal, facility_id)
    if principal.role not in (Role.BORROWER, Role.OPERATOR):
        raise HTTPException(403, "only the facility's borrower (or an operator) asks for a delay")
    if instalment_id not in view.seller.plans.get(shipment_id, {}):
        raise HTTPException(404, f"no instalment {instalment_id!r} of {shipment_id!r} here")
    if body.new_due.tzinfo is None:
        raise HTTPException(422, "new_due needs a time zone")
    request_id = derive_id(
        "delay_request",
        facility_id,
        shipment_id,
        instalment_id,
        body.new_due.isoformat(),
        _who(principal),
    )
    data = RepaymentDelayRequested(
        request_id=request_id,
        facility_id=facility_id,
        shipment_id=shipment_id,
        instalment_id=instalment_id,
        new_due=body.new_due,
        reason=body.reason,
        by=requester(principal, "borrower"),
        at=event_stamp(view),
    )
    await _send(api, data)
    see = f"/api/v1/facilities/{facility_id}/instalments"
    return RequestAccepted(request_id=request_id, at=data.at, see=see)


@router.post(
    "/facilities/{facility_id}/delays/{delay_request_id}/decision",
    status_code=202,
    response_model=RequestAccepted,
    responses=ASK_ERRORS,
)
async def decide_delay(
    facility_id: str,
    delay_request_id: str,
    body: DelayDecisionIn,
    api: StateDep,
    principal: PrincipalDep,
) -> RequestAccepted:
    """The facility's bank (or an operator) approves or refuses a delay request."""
    view = visible_facility(api, principal, facility_id)
    if principal.role not in (Role.BANK, Role.OPERATOR):
        raise HTTPException(403, "only the facility's bank (or an operator) decides a delay")
    asked = view.seller.delays.get(delay_request_id)
    if asked is None:
        raise HTTPException(404, f"no delay request {delay_request_id!r} on {facility_id!r}")
    if asked.state != "requested":
        raise HTTPException(409, f"delay request {delay_request_id!r} was {asked.state}")
    request_id = derive_id("delay_decision", facility_id, delay_request_id, _who(principal))
    data = RepaymentDelayDecided(
        request_id=request_id,
        facility_id=facility_id,
        shipment_id=asked.shipment_id,
        delay_request_id=delay_request_id,
        approve=body.approve,
        by=requester(principal, "bank"),
        at=event_stamp(view),
    )
    await _send(api, data)
    see = f"/api/v1/facilities/{facility_id}/instalments"
    return RequestAccepted(request_id=request_id, at=data.at, see=see)


def _who(principal: Principal) -> str:
    return f"{principal.role.value}:{principal.party or ''}"


class FactorOut(BaseModel):
    name: str
    weight: int = Field(description="Points at a perfect value")
    value: str = Field(description="0 (worst) to 1 (best), after shrinking towards the prior")
    points: int
    explanation: str


class RateChangeOut(BaseModel):
    at: datetime
    old_band: str
    new_band: str
    old_score: int
    new_score: int
    old_rates: dict[str, str]
    new_rates: dict[str, str]
    moved: list[str] = Field(description="The factors that moved the score most, explained")


class CreditProfileOut(BaseModel):
    facility_id: str
    score: int | None = Field(description="0-1000; None until the engine announced one")
    band: str | None
    at: datetime | None
    factors: list[FactorOut]
    rate_changes: list[RateChangeOut] = Field(description="Newest first")


@router.get(
    "/facilities/{facility_id}/credit-profile", response_model=CreditProfileOut, responses=ERRORS
)
def credit_profile(facility_id: str, api: StateDep, principal: PrincipalDep) -> CreditProfileOut:
    """The borrower's credit score as the engine last announced it (a move of 10 points or a
    new band), every factor with its explanation, and the advance-rate changes it caused."""
    view = visible_facility(api, principal, facility_id)
    seller = view.seller
    shown = seller.credit
    factors = (
        []
        if shown is None
        else [
            FactorOut(
                name=f.name.value,
                weight=f.weight,
                value=str(f.value),
                points=f.points,
                explanation=f.explanation,
            )
            for f in shown.factors
        ]
    )
    changes = [
        RateChangeOut(
            at=c.at,
            old_band=c.old_band,
            new_band=c.new_band,
            old_score=c.old_score,
            new_score=c.new_score,
            old_rates={k.value: str(v) for k, v in c.old_rates.items()},
            new_rates={k.value: str(v) for k, v in c.new_rates.items()},
            moved=[m.explanation for m in c.moved],
        )
        for c in reversed(seller.rate_changes)
    ]
    return CreditProfileOut(
        facility_id=facility_id,
        score=None if shown is None else shown.score,
        band=None if shown is None else shown.band,
        at=None if shown is None else shown.at,
        factors=factors,
        rate_changes=changes,
    )


class QuoteIn(BaseModel):
    """Ask for a rate to lock: for a repayment you will pay in ``currency``, or a tranche you
    want paid out in it."""

    model_config = ConfigDict(extra="forbid")

    side: Literal["repayment", "drawdown_payout"]
    amount: Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=4)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class QuoteOut(BaseModel):
    request_id: str
    side: str
    notional: str
    currency: str
    state: Literal["issued", "refused", "used"]
    at: datetime
    quote_id: str | None
    base: str | None
    quote: str | None
    all_in_rate: str | None = Field(description="1 base = all_in_rate quote, spread included")
    mid_rate: str | None
    spread_bp: int | None
    valid_until: datetime | None = Field(description="Last event time the rate holds")
    code: str | None = Field(description="Why a quote was refused")


class QuoteList(BaseModel):
    facility_id: str
    offered: bool = Field(description="Whether the facility's terms offer FX locks")
    as_of: datetime | None = Field(
        description="The facility's event time: an issued quote holds until valid_until"
    )
    quotes: list[QuoteOut] = Field(description="Newest first")


@router.get("/facilities/{facility_id}/fx-quotes", response_model=QuoteList, responses=ERRORS)
def fx_quotes(facility_id: str, api: StateDep, principal: PrincipalDep) -> QuoteList:
    """The FX lock quotes asked for on the facility: issued (until when), refused (why) or
    used by a repayment."""
    view = visible_facility(api, principal, facility_id)
    assert view.facility is not None
    found = sorted(view.seller.quotes.values(), key=lambda q: q.at, reverse=True)
    return QuoteList(
        facility_id=facility_id,
        offered=view.facility.fx_lock is not None,
        as_of=default_start(view),
        quotes=[
            QuoteOut(
                request_id=q.request_id,
                side=q.side,
                notional=q.notional,
                currency=q.currency,
                state=q.state,
                at=q.at,
                quote_id=q.quote_id,
                base=q.base,
                quote=q.quote,
                all_in_rate=q.all_in_rate,
                mid_rate=q.mid_rate,
                spread_bp=q.spread_bp,
                valid_until=q.valid_until,
                code=q.code,
            )
            for q in found
        ],
    )


@router.post(
    "/facilities/{facility_id}/fx-quotes",
    status_code=202,
    response_model=RequestAccepted,
    responses=ASK_ERRORS,
)
async def ask_quote(
    facility_id: str, body: QuoteIn, api: StateDep, principal: PrincipalDep
) -> RequestAccepted:
    """The borrower asks for an FX rate to lock (the engine answers with a quote or a refusal;
    a repayment naming the quote within its validity converts at it)."""
    view = visible_facility(api, principal, facility_id)
    assert view.facility is not None
    if principal.role not in (Role.BORROWER, Role.OPERATOR):
        raise HTTPException(403, "only the facility's borrower (or an operator) asks for a quote")
    if view.facility.fx_lock is None:
        raise HTTPException(409, f"facility {facility_id!r} offers no FX locks")
    at = event_stamp(view)
    request_id = derive_id(
        "fx_quote",
        facility_id,
        body.side,
        str(body.amount),
        body.currency,
        at.isoformat(),
        _who(principal),
    )
    data = FxQuoteRequested(
        request_id=request_id,
        facility_id=facility_id,
        side=body.side,
        notional=Money(amount=body.amount, currency=body.currency),
        by=requester(principal, "borrower"),
        at=at,
    )
    await _send(api, data)
    return RequestAccepted(
        request_id=request_id, at=at, see=f"/api/v1/facilities/{facility_id}/fx-quotes"
    )
