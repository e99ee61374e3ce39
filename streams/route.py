"""A booking's planned route as geometry: the places it stops at, the corridor polyline, and
how far there is still to go from a position. Pure functions of the booking."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from tradelane.contracts import Place, ShipmentBooking, TransportMode
from tradelane.geo import LatLon, distance_km, polyline_distance_km, segment_distance_km


@dataclass(frozen=True, slots=True)
class Route:
    places: tuple[Place, ...]
    """Origin, every intermediate stop, destination: legs[0].origin then each leg's end."""
    legs_points: tuple[tuple[LatLon, ...], ...]
    """Per leg: origin, waypoints, destination."""
    modes: tuple[TransportMode, ...]
    _corridor: dict[tuple[LatLon, tuple[int, ...] | None], tuple[float, int]] = field(
        default_factory=dict, compare=False, repr=False
    )
    """The last position's corridor distance: the rules ask for it twice per reading."""

    @property
    def points(self) -> list[LatLon]:
        out: list[LatLon] = []
        for leg in self.legs_points:
            out.extend(leg if not out else leg[1:])
        return out

    def corridor_km(self, p: LatLon, among: tuple[int, ...] | None = None) -> tuple[float, int]:
        """Distance to the planned route and the index of the nearest leg (of ``among`` only,
        when given: the legs the goods can be on)."""
        known = self._corridor.get((p, among))
        if known is not None:
            return known
        best, best_leg = float("inf"), 0
        for i, leg in enumerate(self.legs_points):
            if among is not None and i not in among:
                continue
            d = polyline_distance_km(p, list(leg))
            if d < best:
                best, best_leg = d, i
        if len(self._corridor) >= 4:
            self._corridor.clear()
        self._corridor[(p, among)] = (best, best_leg)
        return best, best_leg

    def leg_km(self, leg: int) -> float:
        """The planned length of ``leg`` along its waypoints."""
        return sum(distance_km(a, b) for a, b in itertools.pairwise(self.legs_points[leg]))

    def remaining_in_leg_km(self, p: LatLon, leg: int) -> float:
        """Distance still to travel on ``leg``: to the end of the nearest segment, then along."""
        pts = self.legs_points[leg]
        if len(pts) == 1:
            return distance_km(p, pts[0])
        segs = list(itertools.pairwise(pts))
        nearest = min(range(len(segs)), key=lambda i: segment_distance_km(p, *segs[i]))
        rest = sum(distance_km(a, b) for a, b in segs[nearest + 1 :])
        return distance_km(p, segs[nearest][1]) + rest


_ROUTES: dict[int, tuple[ShipmentBooking, Route]] = {}
_ROUTES_KEPT = 100_000


def route_of(booking: ShipmentBooking) -> Route:
    """The booking's route, built once per booking object (a worker holds each shipment's
    booking for as long as it holds the shipment, and asks for its route on every reading)."""
    cached = _ROUTES.get(id(booking))
    if cached is not None and cached[0] is booking:
        return cached[1]
    if len(_ROUTES) >= _ROUTES_KEPT:
        _ROUTES.clear()
    route = _build_route(booking)
    _ROUTES[id(booking)] = (booking, route)
    return route


def _build_route(booking: ShipmentBooking) -> Route:
    places = [booking.legs[0].origin, *(leg.destination for leg in booking.legs)]
    legs_points = tuple(
        (
            (leg.origin.lat, leg.origin.lon),
            *leg.waypoints,
            (leg.destination.lat, leg.destination.lon),
        )
        for leg in booking.legs
    )
    return Route(tuple(places), legs_points, tuple(leg.mode for leg in booking.legs))
