"""Share endpoints: a principal who may see a shipment makes, lists and revokes read-only
links to it; a link's holder reads the shipment through it without an API key.

``POST /api/v1/shipments/{id}/shares``, ``GET /api/v1/shipments/{id}/shares`` and
``DELETE /api/v1/shares/{share_id}`` take a key like every other call. ``GET
/api/v1/shared/{token}`` (or ``GET /api/v1/shared`` with ``X-Share-Token``) takes none: the
token is the credential. Its answers are never cached or sent on as a referrer, and an unknown,
expired or revoked link, or one whose creator can no longer see the shipment, all answer the
same 404, so a holder cannot tell whether a link ever worked.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request, Response
from fastapi.responses import JSONResponse

from api.access import can_see_shipment
from api.auth import Principal
from api.deps import PrincipalDep, StateDep, client_address
from api.problems import problem_response, problem_responses
from api.projection import ShipmentView
from api.ratelimit import retry_after
from api.service import ApiState
from api.shares.models import (
    ShareCreated,
    SharedShipment,
    ShareIn,
    ShareList,
    ShareOut,
    TrackPoint,
)
from api.shares.rules import creator_of, expiry, is_live, may_manage, revoked
from api.shares.store import ShareStore
from api.shares.tokens import new_token, share_id_for, token_sha256
from api.shares.view import TRACK_RESOLUTION, shared_view, track_points, voyage
from tradelane.contracts.shares import ShipmentShare

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["shares"])
ERRORS = problem_responses(400, 401, 404, 422, 503)
SHARED_ERRORS = problem_responses(404, 429, 503)
PRIVATE = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}
"""Headers on every answer that holds or is reached by a token: no cache keeps it, no page
opened from it learns the link (``Referer``), no search engine lists it."""
NOT_FOUND = "no shared shipment here: the link is unknown, expired or revoked"
TRACK_TIMEOUT_S = 10.0


def _store(api: ApiState) -> ShareStore:
    if api.shares is None:
        raise HTTPException(503, "shipment shares are not configured on this server")
    return api.shares


def _now() -> datetime:
    """The request's time: expiry is judged at the edge, by this server's clock."""
    return datetime.now(UTC)


def _visible(api: ApiState, principal: Principal, shipment_id: str) -> ShipmentView:
    view = api.model.shipments.get(shipment_id)
    if view is None or not can_see_shipment(principal, api.model, shipment_id):
        raise HTTPException(404, f"no shipment {shipment_id!r} visible to this key")
    return view


@router.post(
    "/shipments/{shipment_id}/shares",
    status_code=201,
    response_model=ShareCreated,
    responses=ERRORS,
)
async def create_share(
    shipment_id: str,
    body: ShareIn,
    request: Request,
    response: Response,
    api: StateDep,
    principal: PrincipalDep,
) -> ShareCreated:
    """A read-only link to one shipment, for its consignee or customs broker. The answer holds
    the token and the link, shown only this once."""
    store = _store(api)
    _visible(api, principal, shipment_id)
    now, token = _now(), new_token()
    digest = token_sha256(token)
    share = ShipmentShare(
        share_id=share_id_for(digest),
        shipment_id=shipment_id,
        token_sha256=digest,
        creator_role=principal.role.value,
        creator_party=principal.party,
        creator_name=principal.name,
        audience=body.audience,
        label=body.label,
        created_at=now,
        expires_at=expiry(now, body.expires_in_s),
        updated_at=now,
    )
    await _save(store, share)
    response.headers.update(PRIVATE)
    path = f"/api/v1/shared/{token}"
    return ShareCreated(
        **ShareOut.of(share, live=True).model_dump(),
        token=token,
        path=path,
        url=str(request.base_url).rstrip("/") + path,
    )


async def _save(store: ShareStore, share: ShipmentShare) -> None:
    try:
        await store.save(share)
    except Exception as exc:  # Kafka away or refusing: 503, try again
        log.exception("writing share %s failed", share.share_id)
        raise HTTPException(
            503, "the share could not be stored; try again", headers={"Retry-After": "5"}
        ) from exc


@router.get("/shipments/{shipment_id}/shares", response_model=ShareList, responses=ERRORS)
def list_shares(shipment_id: str, api: StateDep, principal: PrincipalDep) -> ShareList:
    """The shipment's shares this key may manage (its party's; an operator's: all), revoked
    and expired ones included, without their tokens."""
    store = _store(api)
    _visible(api, principal, shipment_id)
    now = _now()
    mine = [s for s in store.book.of_shipment(shipment_id) if may_manage(principal, s)]
    return ShareList(items=[ShareOut.of(s, is_live(s, now)) for s in mine])


@router.delete("/shares/{share_id}", status_code=204, responses=ERRORS)
async def revoke_share(share_id: str, api: StateDep, principal: PrincipalDep) -> Response:
    """Revoke a share: its link answers 404 from now on, on every API process. Only the
    creator's party or an operator may; revoking twice changes nothing."""
    store = _store(api)
    share = store.get(share_id)
    if share is None or not may_manage(principal, share):
        raise HTTPException(404, f"no share {share_id!r} for this key")
    new = revoked(share, _now())
    if new is not share:
        await _save(store, new)
    return Response(status_code=204)


async def _track(api: ApiState, view: ShipmentView) -> tuple[list[TrackPoint] | None, int | None]:
    """The voyage's positions from history, or ``(None, None)`` if history cannot say."""
    window = voyage(view)
    if window is None or api.history is None:
        return None, None
    try:
        series = await asyncio.wait_for(
            api.history.series(view.shipment_id, ("lat", "lon"), *window, TRACK_RESOLUTION),
            TRACK_TIMEOUT_S,
        )
    except Exception as exc:  # a track is optional: none rather than an error
        log.warning("no track for a shared shipment: %s", type(exc).__name__)
        return None, None
    return track_points(series.points), series.resolution_s


def _still_allowed(api: ApiState, share: ShipmentShare) -> bool:
    """A share never shows more than its creator may still see: a bank whose pledge ended
    no longer shares the shipment."""
    creator = creator_of(share)
    return creator is not None and can_see_shipment(creator, api.model, share.shipment_id)


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    # instance is the route, never the request path: that holds the token
    return problem_response(status, detail, "/api/v1/shared", headers=PRIVATE | (headers or {}))


async def _read_shared(api: ApiState, presented: str | None, request: Request) -> JSONResponse:
    store = api.shares
    if store is None or not store.ready.is_set():
        return _problem(503, "shares are not available yet", {"Retry-After": "5"})
    now = _now()
    share = store.book.by_token(presented) if presented else None
    view = api.model.shipments.get(share.shipment_id) if share is not None else None
    if share is None or view is None or not is_live(share, now) or not _still_allowed(api, share):
        assert api.address_limits is not None
        wait = api.address_limits.take(client_address(request))
        if wait > 0:
            return _problem(429, "too many unknown links from this address", _retry(wait))
        return _problem(404, NOT_FOUND)
    assert api.key_limits is not None
    wait = api.key_limits.take(f"share:{share.share_id}")
    if wait > 0:
        return _problem(429, "rate limit of this link exceeded", _retry(wait))
    track, resolution_s = await _track(api, view)
    body = shared_view(view, share, track, resolution_s)
    return JSONResponse(body.model_dump(mode="json"), headers=PRIVATE)


def _retry(wait_s: float) -> dict[str, str]:
    return {"Retry-After": retry_after(wait_s)}


@router.get("/shared/{token}", response_model=SharedShipment, responses=SHARED_ERRORS)
async def read_shared(token: str, request: Request, api: StateDep) -> JSONResponse:
    """The shipment behind a link, without an API key: status, milestones, position and
    track, condition. 404 for a link unknown, expired or revoked (the same answer for each)."""
    return await _read_shared(api, token, request)


@router.get("/shared", response_model=SharedShipment, responses=SHARED_ERRORS)
async def read_shared_by_header(
    request: Request,
    api: StateDep,
    token: Annotated[str | None, Header(alias="X-Share-Token")] = None,
) -> JSONResponse:
    """The same, with the token in ``X-Share-Token``: for programs, which can keep it out of
    URLs and so out of logs and histories."""
    return await _read_shared(api, token, request)
