"""``/api/v1/shipments``: list, detail, events, track and sensor history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from api.access import can_see_facility, can_see_shipment
from api.deps import PrincipalDep, StateDep
from api.feed_filter import in_bbox, parse_bbox
from api.history import SENSOR_FIELDS, Aggregate, parse_resolution
from api.models import (
    EventList,
    Page,
    PlaceOut,
    PositionOut,
    SeriesOut,
    ShipmentDetail,
    ShipmentSummary,
)
from api.problems import problem_responses
from api.projection import ShipmentView
from api.service import ApiState
from tradelane.contracts import Place, ShipmentBooking
from tradelane.roles import Role

router = APIRouter(prefix="/api/v1/shipments", tags=["shipments"])
ERRORS = problem_responses(401, 404, 422)
HISTORY_ERRORS = problem_responses(401, 404, 422, 503)


def _place(place: Place | None) -> PlaceOut | None:
    if place is None:
        return None
    return PlaceOut(locode=place.locode, name=place.name, lat=place.lat, lon=place.lon)


def _route(booking: ShipmentBooking | None) -> list[tuple[float, float]]:
    if booking is None:
        return []
    route: list[tuple[float, float]] = []
    for leg in booking.legs:
        route.append((leg.origin.lat, leg.origin.lon))
        route.extend(leg.waypoints)
    route.append((booking.legs[-1].destination.lat, booking.legs[-1].destination.lon))
    return route


def summary(view: ShipmentView) -> ShipmentSummary:
    b = view.booking
    p = view.position
    return ShipmentSummary(
        shipment_id=view.shipment_id,
        status=view.status,
        shipper=b.shipper if b else None,
        consignee=b.consignee if b else None,
        origin=_place(b.origin if b else None),
        destination=_place(b.destination if b else None),
        planned_arrival=b.legs[-1].planned_arrival if b else None,
        eta=view.eta,
        flags=sorted(view.flags),
        alerts=dict(view.alerts),
        position=None
        if p is None
        else PositionOut(
            lat=p.lat,
            lon=p.lon,
            at=p.at,
            device_id=p.device_id,
            speed_kmh=p.speed_kmh,
            heading_deg=p.heading_deg,
        ),
        last_event_at=view.last_event_at,
        temp_min_c=b.condition.temp_min_c if b else None,
        temp_max_c=b.condition.temp_max_c if b else None,
        route=_route(b),
    )


def _visible(api: ApiState, principal: PrincipalDep, shipment_id: str) -> ShipmentView:
    view = api.model.shipments.get(shipment_id)
    if view is None or not can_see_shipment(principal, api.model, shipment_id):
        raise HTTPException(404, f"no shipment {shipment_id!r} visible to this key")
    return view


@router.get("", response_model=Page[ShipmentSummary], responses=ERRORS)
def list_shipments(
    api: StateDep,
    principal: PrincipalDep,
    status: Annotated[list[str] | None, Query(description="Only these statuses")] = None,
    alert: Annotated[list[str] | None, Query(description="Only with alerts of these kinds")] = None,
    flag: Annotated[list[str] | None, Query(description="Only with these flags set")] = None,
    q: Annotated[str | None, Query(max_length=100, description="Id/shipper/consignee")] = None,
    bbox: Annotated[
        str | None, Query(description="min_lon,min_lat,max_lon,max_lat of the last position")
    ] = None,
    facility_id: Annotated[
        str | None, Query(max_length=64, description="Only those pledged to this facility")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[ShipmentSummary]:
    """Shipments visible to the key, by id, filtered and paged."""
    try:
        box = parse_bbox(bbox)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    if facility_id and not can_see_facility(principal, api.model, facility_id):
        raise HTTPException(404, f"no facility {facility_id!r} visible to this key")
    needle = q.lower() if q else None
    found: list[ShipmentView] = []
    for shipment_id in sorted(api.model.shipments):
        view = api.model.shipments[shipment_id]
        if not can_see_shipment(principal, api.model, shipment_id):
            continue
        if facility_id and facility_id not in api.model.shipment_facilities.get(shipment_id, ()):
            continue
        if status and view.status not in status:
            continue
        if alert and not any(view.alerts.get(a) for a in alert):
            continue
        if flag and not set(flag) <= view.flags:
            continue
        if needle and not _mentions(view, needle):
            continue
        if box is not None and (
            view.position is None or not in_bbox(box, view.position.lat, view.position.lon)
        ):
            continue
        found.append(view)
    page = found[offset : offset + limit]
    return Page[ShipmentSummary](
        items=[summary(v) for v in page], total=len(found), limit=limit, offset=offset
    )


def _mentions(view: ShipmentView, needle: str) -> bool:
    b = view.booking
    texts = [view.shipment_id] + ([b.shipper, b.consignee] if b else [])
    return any(needle in t.lower() for t in texts)


@router.get("/{shipment_id}", response_model=ShipmentDetail, responses=ERRORS)
def get_shipment(shipment_id: str, api: StateDep, principal: PrincipalDep) -> ShipmentDetail:
    """Current state, last reading, ETA, flags, planned route, facilities and policies."""
    view = _visible(api, principal, shipment_id)
    facilities = sorted(
        f
        for f in api.model.shipment_facilities.get(shipment_id, ())
        if can_see_facility(principal, api.model, f)
    )
    policies = (
        sorted(p.policy_id for p in api.model.policies.values() if p.shipment_id == shipment_id)
        if principal.role is Role.OPERATOR
        else []
    )
    return ShipmentDetail(
        **summary(view).model_dump(),
        booking=view.booking,
        last_reading=view.last_reading,
        milestones=dict(view.milestones),
        facilities=facilities,
        policies=policies,
    )


@router.get("/{shipment_id}/events", response_model=EventList, responses=ERRORS)
def shipment_events(
    shipment_id: str,
    api: StateDep,
    principal: PrincipalDep,
    kind: Annotated[list[str] | None, Query(description="Only events of these kinds")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> EventList:
    """The shipment's most recent events (CloudEvents envelopes), oldest first."""
    view = _visible(api, principal, shipment_id)
    items = [e for e in view.events if not kind or e["data"].get("kind") in kind]
    return EventList(shipment_id=shipment_id, items=items[-limit:])


def _window(
    view: ShipmentView, start: datetime | None, stop: datetime | None
) -> tuple[datetime, datetime]:
    """The requested range, or the voyage: booked - 1 day .. planned arrival + 14 days (and
    at least the last reading)."""
    b = view.booking
    if b is not None:
        first = min(b.booked_at, b.legs[0].planned_departure) - timedelta(days=1)
        last = b.legs[-1].planned_arrival + timedelta(days=14)
    else:
        last = datetime.now(UTC) + timedelta(days=1)
        first = last - timedelta(days=31)
    if view.last_reading_at is not None:
        last = max(last, view.last_reading_at + timedelta(hours=1))
    start, stop = start or first, stop or last
    if start.tzinfo is None or stop.tzinfo is None:
        raise HTTPException(422, "start and stop need a time zone, e.g. 2026-11-01T00:00:00Z")
    if stop <= start:
        raise HTTPException(422, "stop must be after start")
    if stop - start > timedelta(days=3660):
        raise HTTPException(422, "the range may span at most ten years")
    return start, stop


async def _series(
    api: ApiState,
    view: ShipmentView,
    fields: tuple[str, ...],
    start: datetime | None,
    stop: datetime | None,
    resolution: str,
    aggregate: Aggregate,
) -> SeriesOut:
    try:
        every = parse_resolution(resolution)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    first, last = _window(view, start, stop)
    if api.history is None:
        raise HTTPException(503, "no InfluxDB configured for history")
    try:
        series = await api.history.series(view.shipment_id, fields, first, last, every, aggregate)
    except Exception as exc:  # the client, aiohttp or a timeout: answer 503
        raise HTTPException(503, f"InfluxDB did not answer: {type(exc).__name__}") from exc
    b = view.booking
    return SeriesOut(
        shipment_id=view.shipment_id,
        start=first,
        stop=last,
        resolution_s=series.resolution_s,
        aggregate=aggregate,
        fields=list(fields),
        temp_min_c=b.condition.temp_min_c if b else None,
        temp_max_c=b.condition.temp_max_c if b else None,
        points=series.points,
    )


Start = Annotated[datetime | None, Query(description="Default: a day before booking")]
Stop = Annotated[datetime | None, Query(description="Default: two weeks after planned arrival")]
Resolution = Annotated[
    str, Query(max_length=8, description="Window: 30s, 15m, 1h, 1d (coarsened to <= 5000 points)")
]


@router.get("/{shipment_id}/track", response_model=SeriesOut, responses=HISTORY_ERRORS)
async def shipment_track(
    shipment_id: str,
    api: StateDep,
    principal: PrincipalDep,
    start: Start = None,
    stop: Stop = None,
    resolution: Resolution = "1h",
) -> SeriesOut:
    """Positions from InfluxDB, mean lat/lon per window (all the shipment's trackers)."""
    view = _visible(api, principal, shipment_id)
    return await _series(api, view, ("lat", "lon"), start, stop, resolution, "mean")


@router.get("/{shipment_id}/sensors", response_model=SeriesOut, responses=HISTORY_ERRORS)
async def shipment_sensors(
    shipment_id: str,
    api: StateDep,
    principal: PrincipalDep,
    field: Annotated[
        list[str] | None, Query(description=f"Any of {', '.join(SENSOR_FIELDS)}")
    ] = None,
    start: Start = None,
    stop: Stop = None,
    resolution: Resolution = "1h",
    aggregate: Annotated[Aggregate, Query()] = "mean",
) -> SeriesOut:
    """Sensor values from InfluxDB per window; the condition band comes along for charts."""
    view = _visible(api, principal, shipment_id)
    fields = tuple(dict.fromkeys(field or ("temperature_c", "humidity_pct")))
    unknown = [f for f in fields if f not in SENSOR_FIELDS]
    if unknown:
        raise HTTPException(422, f"unknown field(s) {unknown}; known: {list(SENSOR_FIELDS)}")
    return await _series(api, view, fields, start, stop, resolution, aggregate)
