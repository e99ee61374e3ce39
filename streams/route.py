"""A booking's planned route as geometry: the places it stops at, the corridor polyline, and
how far there is still to go from a position. Pure functions of the booking."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from tradelane.contracts import Place, ShipmentBooking, TransportMode
from tradelane.geo import LatLon, Polyline, distance_km


@dataclass(frozen=True, slots=True)
class Route:
    places: tuple[Place, ...]
    """Origin, every intermediate stop, destination: legs[0].origin then each leg's end."""
    legs_points: tuple[tuple[LatLon, ...], ...]
    """Per leg: origin, waypoints, destination."""
    modes: tuple[TransportMode, ...]
    _lines: tuple[Polyline, ...] = field(init=False, compare=False, repr=False)
    """Per leg, its polyline (what the segments' own terms are, computed once)."""
    _lengths: tuple[tuple[float, ...], ...] = field(init=False, compare=False, repr=False)
    """Per leg, the length of each of its segments."""
    _near: dict[LatLon, dict[int, tuple[float, int]]] = field(
        default_factory=dict, compare=False, repr=False
    )
    """The last few positions' distances to the legs asked about and their nearest segments:
    the rules measure every reading against the active legs, the whole route and its nearest
    leg."""

    def __post_init__(self) -> None:
        lines = tuple(Polyline(leg) for leg in self.legs_points)
        lengths = tuple(
            tuple(distance_km(a, b) for a, b in itertools.pairwise(leg)) for leg in self.legs_points
        )
        object.__setattr__(self, "_lines", lines)
        object.__setattr__(self, "_lengths", lengths)

    @property
    def points(self) -> list[LatLon]:
        out: list[LatLon] = []
        for leg in self.legs_points:
            out.extend(leg if not out else leg[1:])
        return out

    def _nearest_km(self, p: LatLon, leg: int) -> tuple[float, int]:
        """Distance from ``p`` to ``leg`` (of two points or more) and its nearest segment, kept
        for the next question."""
        near = self._near.get(p)
        if near is None:
            if len(self._near) >= 4:
                self._near.clear()
            near = self._near[p] = {}
        if leg not in near:
            near[leg] = self._lines[leg].nearest_km(p)
        return near[leg]

    def _leg_distance_km(self, p: LatLon, leg: int) -> float:
        pts = self.legs_points[leg]
        if len(pts) == 1:
            return distance_km(p, pts[0])
        return self._nearest_km(p, leg)[0]

    def corridor_km(self, p: LatLon, among: tuple[int, ...] | None = None) -> tuple[float, int]:
        """Distance to the planned route and the index of the nearest leg (of ``among`` only,
        when given: the legs the goods can be on)."""
        best, best_leg = float("inf"), 0
        for i in range(len(self.legs_points)):
            if among is not None and i not in among:
                continue
            d = self._leg_distance_km(p, i)
            if d < best:
                best, best_leg = d, i
        return best, best_leg

    def leg_km(self, leg: int) -> float:
        """The planned length of ``leg`` along its waypoints."""
        return sum(self._lengths[leg])

    def remaining_in_leg_km(self, p: LatLon, leg: int) -> float:
        """Distance still to travel on ``leg``: to the end of the nearest segment, then along."""
        pts = self.legs_points[leg]
        if len(pts) == 1:
            return distance_km(p, pts[0])
        nearest = self._nearest_km(p, leg)[1]
        rest = sum(self._lengths[leg][nearest + 1 :])
        return distance_km(p, pts[nearest + 1]) + rest


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
