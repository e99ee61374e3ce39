"""What a link holder sees of a shipment: a pure projection of the API's read model.

:func:`shared_view` copies named, non-financial facts only (see
:class:`~api.shares.models.SharedShipment`). The booking is not passed on (it holds the
cargo's value and the parties), nor the raw events, nor anything about facilities, policies or
claims, which the read model keeps elsewhere and this module never touches.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from api.projection import ShipmentView
from api.shares.models import (
    ConditionSummary,
    LatestReading,
    SharedPlace,
    SharedPosition,
    SharedShipment,
    TrackPoint,
)
from tradelane.contracts import Place
from tradelane.contracts.shares import ShipmentShare

CONDITION_ALERTS = ("breach_started", "shock_detected", "tamper_detected")
"""Alert kinds a holder is told the count of: the goods' condition, not money or devices."""
SHARED_FLAGS = frozenset(
    {"condition_breached", "shocked", "tampered", "delayed", "deviated", "tracker_silent"}
)
TRACK_RESOLUTION = timedelta(hours=1)


def voyage(view: ShipmentView) -> tuple[datetime, datetime] | None:
    """The track's window: a day before booking or departure to two weeks after the planned
    arrival, stretched to the last reading; ``None`` before the booking is known."""
    b = view.booking
    if b is None:
        return None
    first = min(b.booked_at, b.legs[0].planned_departure) - timedelta(days=1)
    last = b.legs[-1].planned_arrival + timedelta(days=14)
    if view.last_reading_at is not None:
        last = max(last, view.last_reading_at + timedelta(hours=1))
    return first, last


def track_points(points: list[dict[str, Any]]) -> list[TrackPoint]:
    """History windows (``time``, ``lat``, ``lon``) as track points; windows without a
    position are skipped."""
    return [
        TrackPoint(time=p["time"], lat=p["lat"], lon=p["lon"])
        for p in points
        if p.get("lat") is not None and p.get("lon") is not None
    ]


def _place(place: Place | None) -> SharedPlace | None:
    if place is None:
        return None
    return SharedPlace(locode=place.locode, name=place.name, lat=place.lat, lon=place.lon)


def _number(reading: dict[str, Any], name: str) -> float | None:
    value = reading.get(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _latest(view: ShipmentView) -> LatestReading | None:
    r, at = view.last_reading, view.last_reading_at
    if r is None or at is None:
        return None
    return LatestReading(
        at=at,
        temperature_c=_number(r, "temperature_c"),
        humidity_pct=_number(r, "humidity_pct"),
        shock_g=_number(r, "shock_g"),
        light_lux=_number(r, "light_lux"),
        tamper=r.get("tamper") is True,
    )


def condition(view: ShipmentView) -> ConditionSummary:
    """The booked band, the latest reading against it, and the condition alerts so far."""
    band = view.booking.condition if view.booking else None
    low = band.temp_min_c if band else None
    high = band.temp_max_c if band else None
    latest = _latest(view)
    temp = latest.temperature_c if latest else None
    in_band = None
    if temp is not None and (low is not None or high is not None):
        in_band = (low is None or temp >= low) and (high is None or temp <= high)
    return ConditionSummary(
        temp_min_c=low,
        temp_max_c=high,
        latest=latest,
        latest_in_band=in_band,
        breached="condition_breached" in view.flags,
        excursions={k: view.alerts[k] for k in CONDITION_ALERTS if view.alerts.get(k)},
    )


def shared_view(
    view: ShipmentView,
    share: ShipmentShare,
    track: list[TrackPoint] | None,
    track_resolution_s: int | None,
) -> SharedShipment:
    """The holder's view of ``view`` through ``share``; ``track`` as read from history."""
    b, p = view.booking, view.position
    return SharedShipment(
        shipment_id=view.shipment_id,
        status=view.status,
        origin=_place(b.origin if b else None),
        destination=_place(b.destination if b else None),
        planned_arrival=b.legs[-1].planned_arrival if b else None,
        eta=view.eta,
        milestones=dict(view.milestones),
        flags=sorted(view.flags & SHARED_FLAGS),
        position=None
        if p is None
        else SharedPosition(
            lat=p.lat, lon=p.lon, at=p.at, speed_kmh=p.speed_kmh, heading_deg=p.heading_deg
        ),
        track=track,
        track_resolution_s=track_resolution_s,
        condition=condition(view),
        link_expires_at=share.expires_at,
    )
