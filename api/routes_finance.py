"""``/api/v1/facilities``, ``/api/v1/policies`` and ``/api/v1/claims``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

from fastapi import APIRouter, HTTPException, Query

from api.access import can_see_claim, can_see_facility, can_see_policy
from api.auth import Principal
from api.deps import PrincipalDep, StateDep
from api.finance_reads import calendar, calendar_out, default_start, position_out
from api.models import (
    BasePoint,
    CalendarOut,
    ClaimOut,
    FacilityDetail,
    FacilitySummary,
    HistoryPoint,
    LedgerOut,
    Page,
    PolicyList,
)
from api.off_loop import ReadBusyError
from api.problems import problem_responses
from api.projection import ClaimView, FacilityView
from api.ratelimit import retry_after
from api.service import ApiState, FinanceReader
from finance.calendar import DAYS_MAX

T = TypeVar("T")
router = APIRouter(prefix="/api/v1", tags=["finance"])
ERRORS = problem_responses(401, 404, 422, 429)
KAFKA_ERRORS = problem_responses(401, 404, 422, 429, 503)


def _summary(view: FacilityView) -> FacilitySummary:
    f = view.facility
    return FacilitySummary(
        facility_id=view.facility_id,
        bank_id=f.bank_id if f else None,
        borrower_id=f.borrower_id if f else None,
        currency=f.limit.currency if f else None,
        limit=str(f.limit.amount) if f else None,
        base=None if view.base is None else str(view.base),
        outstanding=str(view.outstanding),
        headroom=None if view.headroom is None else str(view.headroom),
        updated_at=view.updated_at,
        open_margin_calls=sum(s == "open" for s in view.margin_calls.values()),
        pledged_shipments=len(f.pledged_shipments) if f else 0,
        position=position_out(view.position),
    )


def _busy(exc: ReadBusyError) -> HTTPException:
    return HTTPException(503, str(exc), headers={"Retry-After": retry_after(exc.retry_after_s)})


def seen_facility(api: ApiState, principal: Principal, facility_id: str) -> FacilityView:
    """The facility, if ``principal`` may see it; else 404, as if it did not exist."""
    view = api.model.facilities.get(facility_id)
    if view is None or not can_see_facility(principal, api.model, facility_id):
        raise HTTPException(404, f"no facility {facility_id!r} visible to this key")
    return view


@router.get("/facilities", response_model=Page[FacilitySummary], responses=ERRORS)
def list_facilities(
    api: StateDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[FacilitySummary]:
    """Pledge facilities visible to the key (a bank sees its own)."""
    found = [
        api.model.facilities[f]
        for f in sorted(api.model.facilities)
        if can_see_facility(principal, api.model, f)
    ]
    return Page[FacilitySummary](
        items=[_summary(v) for v in found[offset : offset + limit]],
        total=len(found),
        limit=limit,
        offset=offset,
    )


@router.get("/facilities/{facility_id}", response_model=FacilityDetail, responses=ERRORS)
def get_facility(facility_id: str, api: StateDep, principal: PrincipalDep) -> FacilityDetail:
    """Terms, borrowing base, the ledger's position and its history (one point per entry, in
    chain order), drawdowns, events."""
    view = seen_facility(api, principal, facility_id)
    return FacilityDetail(
        **_summary(view).model_dump(),
        facility=view.facility,
        history=[HistoryPoint.model_validate(p) for p in view.history()],
        base_history=[BasePoint.model_validate(p) for p in view.base_history],
        drawdowns=list(view.drawdowns),
        margin_calls=dict(view.margin_calls),
        events=list(view.events)[-200:],
    )


@router.get("/facilities/{facility_id}/ledger", response_model=LedgerOut, responses=KAFKA_ERRORS)
async def facility_ledger(facility_id: str, api: StateDep, principal: PrincipalDep) -> LedgerOut:
    """The facility's hash-chained ledger entries, read from Kafka and verified."""
    seen_facility(api, principal, facility_id)
    ledger = await finance_read(api, lambda finance: finance.ledger(facility_id))
    within_cap(api, len(ledger.entries), "`tradelane ledger export`")
    return ledger


async def finance_read(api: ApiState, read: Callable[[FinanceReader], Awaitable[T]]) -> T:
    """``read`` on the finance reader, its failures as the HTTP answers they mean: 503 when
    no reader is configured, Kafka does not answer, or the read worker is busy (with a
    Retry-After)."""
    if api.finance is None:
        raise HTTPException(503, "ledger reading is not configured")
    try:
        return await read(api.finance)
    except ReadBusyError as exc:
        raise _busy(exc) from exc
    except (TimeoutError, OSError) as exc:
        raise HTTPException(503, f"Kafka did not answer: {type(exc).__name__}") from exc


def within_cap(api: ApiState, entries: int, instead: str) -> None:
    """422 when a ledger holds more entries than this server hands out in one answer
    (``ledger_max_entries``), naming the command that has no cap."""
    cap = api.settings.ledger_max_entries
    if entries > cap:
        raise HTTPException(
            422,
            f"the ledger holds {entries} entries, more than this server returns ({cap}); "
            f"use {instead}",
        )


@router.get("/facilities/{facility_id}/calendar", response_model=CalendarOut, responses=ERRORS)
def facility_calendar(
    facility_id: str,
    api: StateDep,
    principal: PrincipalDep,
    weeks: Annotated[int | None, Query(ge=1, le=26, description="Default 4")] = None,
    days: Annotated[
        int | None, Query(ge=1, le=DAYS_MAX, description="Instead of weeks; default 28")
    ] = None,
    start: Annotated[
        datetime | None, Query(description="Default: the facility's last event time")
    ] = None,
) -> CalendarOut:
    """The seller's forward calendar: expected drawdowns, repayments and weekly interest
    lines, each with its basis and certainty, and a row per day (principal, interest,
    projected base and headroom, cash gaps), projected from the ledger's position, the latest
    base, plans, ETAs and milestones reached (as `tradelane finance calendar`)."""
    view = seen_facility(api, principal, facility_id)
    if view.facility is None:
        raise HTTPException(404, f"facility {facility_id!r} has no terms yet")
    if days is not None and weeks is not None:
        raise HTTPException(422, "give days or weeks, not both")
    when = start or default_start(view) or datetime.now(UTC)
    if when.tzinfo is None:
        raise HTTPException(422, "start needs a time zone")
    pledged = view.facility.pledged_shipments
    if len(pledged) > api.settings.calendar_max_shipments:
        raise HTTPException(
            422,
            f"the facility pledges {len(pledged)} shipments, more than this server computes on "
            f"request ({api.settings.calendar_max_shipments}); use `tradelane finance calendar`",
        )
    window = days if days is not None else 7 * (weeks or 4)
    return calendar_out(calendar(api.model, view, when, window), view.position)


@router.get("/policies", response_model=PolicyList, responses=ERRORS)
def list_policies(api: StateDep, principal: PrincipalDep) -> PolicyList:
    """Policies visible to the key (an insurer sees its own)."""
    return PolicyList(
        items=[
            api.model.policies[p]
            for p in sorted(api.model.policies)
            if can_see_policy(principal, api.model, p)
        ]
    )


def _claim(view: ClaimView) -> ClaimOut:
    return ClaimOut(
        claim_id=view.claim_id,
        policy_id=view.policy_id,
        shipment_id=view.shipment_id,
        trigger=view.trigger,
        trigger_kind=view.trigger_kind,
        status=view.status,
        tier=view.tier,
        share=view.share,
        at=view.at,
        claim_value=view.claim_value,
        paid_total=view.paid_total,
        evidence=view.evidence,
        findings=view.findings,
        events=view.events,
    )


@router.get("/claims", response_model=Page[ClaimOut], responses=ERRORS)
def list_claims(
    api: StateDep,
    principal: PrincipalDep,
    policy_id: Annotated[str | None, Query(max_length=64)] = None,
    shipment_id: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[list[str] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[ClaimOut]:
    """Claims with their evidence, newest first (an insurer sees its policies' claims, a
    borrower the claims on its pledged goods)."""
    found = [
        c
        for c in api.model.claims.values()
        if can_see_claim(principal, api.model, c.policy_id, c.shipment_id)
        and (policy_id is None or c.policy_id == policy_id)
        and (shipment_id is None or c.shipment_id == shipment_id)
        and (not status or c.status in status)
    ]
    found.sort(key=lambda c: (c.at, c.claim_id), reverse=True)
    return Page[ClaimOut](
        items=[_claim(c) for c in found[offset : offset + limit]],
        total=len(found),
        limit=limit,
        offset=offset,
    )


@router.get("/claims/{claim_id}", response_model=ClaimOut, responses=ERRORS)
def get_claim(claim_id: str, api: StateDep, principal: PrincipalDep) -> ClaimOut:
    """One claim with its evidence and every event it went through."""
    view = api.model.claims.get(claim_id)
    if view is None or not can_see_claim(principal, api.model, view.policy_id, view.shipment_id):
        raise HTTPException(404, f"no claim {claim_id!r} visible to this key")
    return _claim(view)
