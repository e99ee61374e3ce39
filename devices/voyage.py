"""Routes and voyage timelines: where a shipment is at any simulated instant.

A shipment's route is a chain of hops (road to the port, sea legs through the lane graph with an
optional transshipment, road to the warehouse; or the same shape by air). :func:`build_voyage`
turns the hops into two timelines from one random stream:

* the *plan* (nominal speeds and dwell times), which becomes the booking's legs, and
* the *actual* track (speeds of this voyage, dwell times with their variance, incident delays
  and detours), which the trackers report.

The difference between the two is what the stream processors detect as delays and deviations.
:class:`Track` answers "where, how fast, heading where, doing what" for any time, by bisecting
precomputed segments; positions between waypoints lie on great circles (:mod:`tradelane.geo`).
Everything here is pure: times are POSIX seconds, randomness comes from the caller's
``random.Random``.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple

from devices.places import AIRPORTS, PLACES, SEAPORTS, gateway
from devices.sealanes import NODES, edge_is_coastal, node_pos, sea_path
from tradelane.contracts import PlaceKind, TransportMode
from tradelane.geo import KNOT_KMH, GreatCircle, LatLon, bearing_deg, destination, distance_km

HOUR = 3600.0
DAY = 24 * HOUR

SEA_KNOTS_PLANNED = 18.0
SEA_KNOTS_RANGE = (15.0, 22.0)
ROAD_KMH_PLANNED = 55.0
ROAD_KMH_RANGE = (45.0, 70.0)
AIR_KMH_PLANNED = 830.0
AIR_KMH_RANGE = (780.0, 880.0)
MAX_ROAD_KM = 250.0
"""Facilities further than this from a seaport do not ship by sea (their road leg would be a
separate inland haul this simulator does not model)."""
MAX_AIR_ROAD_KM = 120.0
YARD_H = 1.0
"""Hours a truck waits in a facility's yard (sky in view) before it is let in."""


class Context(StrEnum):
    """What a tracker is doing: decides GPS fix odds, coverage and sensor behaviour."""

    FACILITY = "facility"
    PORT = "port"
    AIRPORT = "airport"
    STOP = "stop"
    YARD = "yard"
    """The first hour at a facility: the truck waits at the dock under open sky."""
    ROAD = "road"
    SEA = "sea"
    AIR = "air"


MOVING = frozenset({Context.ROAD, Context.SEA, Context.AIR})
_MODE_CONTEXT = {
    TransportMode.ROAD: Context.ROAD,
    TransportMode.SEA: Context.SEA,
    TransportMode.AIR: Context.AIR,
    TransportMode.RAIL: Context.ROAD,
}


class Path:
    """A polyline of great-circle arcs with cumulative distances, for fast interpolation."""

    __slots__ = ("arcs", "coastal", "cum_km", "length_km", "points")

    def __init__(self, points: tuple[LatLon, ...], coastal: tuple[bool, ...] | None = None) -> None:
        if len(points) < 2:
            raise ValueError("a path needs at least two points")
        self.points = points
        self.arcs = tuple(GreatCircle(a, b) for a, b in itertools.pairwise(points))
        self.coastal = coastal if coastal is not None else (True,) * len(self.arcs)
        cum = [0.0]
        for arc in self.arcs:
            cum.append(cum[-1] + arc.length_km)
        self.cum_km = cum
        self.length_km = cum[-1]

    def at_km(self, km: float) -> tuple[LatLon, float]:
        """Position and heading ``km`` along the path (clamped to its ends)."""
        arcs = self.arcs
        if km <= 0.0:
            arc = arcs[0]
            return arc.a, bearing_deg(arc.a, arc.b)
        if km >= self.length_km:
            arc = arcs[-1]
            return arc.b, bearing_deg(arc.a, arc.b)
        i = bisect.bisect_right(self.cum_km, km) - 1
        i = min(max(i, 0), len(arcs) - 1)
        arc = arcs[i]
        f = (km - self.cum_km[i]) / arc.length_km if arc.length_km > 0 else 1.0
        pos = arc.at(f)
        target = arc.b
        heading = bearing_deg(pos, target) if pos != target else bearing_deg(arc.a, arc.b)
        return pos, heading


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of the actual timeline: dwelling at one position, or moving along a path."""

    start: float
    end: float
    context: Context
    pos: LatLon | None = None
    path: Path | None = None
    place: str | None = None
    hop: int = -1

    @property
    def speed_kmh(self) -> float:
        if self.path is None or self.end <= self.start:
            return 0.0
        return self.path.length_km / ((self.end - self.start) / HOUR)


class TrackPoint(NamedTuple):
    """Where a shipment is at one instant (a tuple: built for every reading)."""

    pos: LatLon
    speed_kmh: float
    heading_deg: float
    context: Context
    place: str | None
    hop: int


class Track:
    """The actual timeline of one shipment; :meth:`at` is on the hot path."""

    __slots__ = ("_starts", "segments")

    def __init__(self, segments: list[Segment]) -> None:
        if not segments:
            raise ValueError("empty track")
        self.segments = segments
        self._starts = [s.start for s in segments]

    @property
    def start(self) -> float:
        return self.segments[0].start

    @property
    def end(self) -> float:
        return self.segments[-1].end

    def segment_at(self, t: float) -> Segment:
        i = bisect.bisect_right(self._starts, t) - 1
        return self.segments[max(0, i)]

    def at(self, t: float) -> TrackPoint:
        seg = self.segment_at(t)
        if seg.path is None:
            assert seg.pos is not None
            return TrackPoint(seg.pos, 0.0, 0.0, seg.context, seg.place, seg.hop)
        span = seg.end - seg.start
        f = (t - seg.start) / span if span > 0 else 1.0
        f = 0.0 if f < 0.0 else (1.0 if f > 1.0 else f)
        pos, heading = seg.path.at_km(f * seg.path.length_km)
        speed = seg.speed_kmh if 0.0 < f < 1.0 else 0.0
        return TrackPoint(pos, speed, heading, seg.context, None, seg.hop)


@dataclass(frozen=True, slots=True)
class Hop:
    """One planned movement between two places of the table."""

    mode: TransportMode
    origin: str
    destination: str
    points: tuple[LatLon, ...]
    coastal: tuple[bool, ...]
    waypoints: tuple[LatLon, ...] = ()

    @property
    def length_km(self) -> float:
        return sum(distance_km(a, b) for a, b in zip(self.points, self.points[1:], strict=False))


def road_hop(origin: str, dest: str) -> Hop:
    pts = (PLACES[origin].pos, PLACES[dest].pos)
    return Hop(TransportMode.ROAD, origin, dest, pts, (True,))


def air_hop(origin: str, dest: str) -> Hop:
    pts = (PLACES[origin].pos, PLACES[dest].pos)
    return Hop(TransportMode.AIR, origin, dest, pts, (False,))


@lru_cache(maxsize=4096)
def sea_hop(origin: str, dest: str, avoid: frozenset[str] = frozenset()) -> Hop:
    names, points = sea_path(origin, dest, avoid)
    coastal = [True]  # berth -> first approach node
    coastal += [edge_is_coastal(a, b) for a, b in itertools.pairwise(names)]
    coastal.append(True)  # last approach node -> berth
    waypoints = tuple(node_pos(n) for n in names)
    return Hop(TransportMode.SEA, origin, dest, points, tuple(coastal), waypoints)


def sea_eligible(facility: str) -> bool:
    port = gateway(facility, PlaceKind.SEAPORT)
    return distance_km(PLACES[facility].pos, PLACES[port].pos) <= MAX_ROAD_KM


def air_eligible(facility: str) -> bool:
    airport = gateway(facility, PlaceKind.AIRPORT)
    return distance_km(PLACES[facility].pos, PLACES[airport].pos) <= MAX_AIR_ROAD_KM


def hub_candidates(
    mode: TransportMode,
    origin: str,
    dest: str,
    avoid: frozenset[str] = frozenset(),
    max_detour: float = 0.08,
) -> list[str]:
    """Hubs a transshipment could happen at: those that lengthen the trip by < ``max_detour``."""
    pool = SEAPORTS if mode is TransportMode.SEA else AIRPORTS
    hubs = [k for k in pool if PLACES[k].hub and k not in (origin, dest)]
    direct = _hop_length(mode, origin, dest, avoid)
    out = []
    for hub in hubs:
        via = _hop_length(mode, origin, hub, avoid) + _hop_length(mode, hub, dest, avoid)
        if via <= direct * (1.0 + max_detour):
            out.append(hub)
    return out


@lru_cache(maxsize=16384)
def _hop_length(mode: TransportMode, a: str, b: str, avoid: frozenset[str]) -> float:
    if mode is TransportMode.SEA:
        return sea_hop(a, b, avoid).length_km
    return distance_km(PLACES[a].pos, PLACES[b].pos)


def plan_hops(
    mode: TransportMode,
    origin_facility: str,
    dest_facility: str,
    hub: str | None = None,
    avoid: frozenset[str] = frozenset(),
) -> list[Hop]:
    """Facility → port/airport → [hub →] port/airport → facility."""
    kind = PlaceKind.SEAPORT if mode is TransportMode.SEA else PlaceKind.AIRPORT
    a, b = gateway(origin_facility, kind), gateway(dest_facility, kind)
    if a == b:
        raise ValueError(f"{origin_facility} and {dest_facility} share gateway {a}")
    main = sea_hop if mode is TransportMode.SEA else air_hop
    hops = [road_hop(origin_facility, a)]
    if mode is TransportMode.SEA:
        hops += [sea_hop(a, hub, avoid), sea_hop(hub, b, avoid)] if hub else [sea_hop(a, b, avoid)]
    else:
        hops += [main(a, hub), main(hub, b)] if hub else [main(a, b)]
    hops.append(road_hop(b, dest_facility))
    return hops


# --- Timeline -------------------------------------------------------------------------------


class StopRole(StrEnum):
    ORIGIN = "origin"
    EXPORT = "export"
    TRANSSHIPMENT = "transshipment"
    IMPORT = "import"
    DESTINATION = "destination"
    UNPLANNED = "unplanned_stop"


@dataclass(frozen=True, slots=True)
class StopVisit:
    """A stay at a place (or, for an unplanned stop, a position) on the actual timeline."""

    role: StopRole
    place: str | None
    pos: LatLon
    arrive: float
    depart: float
    planned_arrive: float | None
    planned_depart: float | None


@dataclass(frozen=True, slots=True)
class HandlingEvent:
    """A moment the container is lifted, dropped or forklifted: a shock at every tracker."""

    t: float
    kind: str
    place: str | None
    g_min: float
    g_max: float


@dataclass(frozen=True, slots=True)
class DoorOpening:
    """The container doors are open during [start, end]: light, air exchange, maybe tamper."""

    start: float
    end: float
    place: str | None
    authorised: bool


@dataclass(frozen=True, slots=True)
class PlannedLeg:
    mode: TransportMode
    origin: str
    destination: str
    departure: float
    arrival: float
    waypoints: tuple[LatLon, ...]


@dataclass(frozen=True, slots=True)
class Detour:
    """A deviation on one road hop: leave the corridor, stop somewhere unsafe, then go on."""

    hop: int
    point: LatLon
    leave_fraction: float
    stop_hours: float


@dataclass(frozen=True, slots=True)
class Tweaks:
    """Incident changes to the actual timeline (the plan stays as booked)."""

    extra_dwell_h: dict[int, float] = field(default_factory=dict)
    """Stop index (0 = origin) -> extra hours there (port congestion)."""
    detour: Detour | None = None
    rough_stops: frozenset[int] = frozenset()
    """Stop indices whose handling is rough (shocks of 8-30 g instead of 1-3.5 g)."""


@dataclass(frozen=True, slots=True)
class Voyage:
    """Plan and actual timeline of one shipment."""

    hops: tuple[Hop, ...]
    legs: tuple[PlannedLeg, ...]
    track: Track
    stops: tuple[StopVisit, ...]
    handling: tuple[HandlingEvent, ...]
    doors: tuple[DoorOpening, ...]
    gaps: tuple[tuple[float, float], ...]
    """Intervals without mobile coverage (mid-ocean, in flight), sorted."""
    customs_cleared_at: float
    delivered_at: float

    def sea_window(self) -> tuple[float, float] | None:
        """First departure on and last arrival from a sea hop (for reefer failures)."""
        seas = [s for s in self.track.segments if s.context is Context.SEA]
        return (seas[0].start, seas[-1].end) if seas else None


_PLANNED_DWELL_H = {
    (StopRole.ORIGIN, TransportMode.SEA): 2.0,
    (StopRole.ORIGIN, TransportMode.AIR): 2.0,
    (StopRole.EXPORT, TransportMode.SEA): 48.0,
    (StopRole.EXPORT, TransportMode.AIR): 8.0,
    (StopRole.TRANSSHIPMENT, TransportMode.SEA): 48.0,
    (StopRole.TRANSSHIPMENT, TransportMode.AIR): 6.0,
    (StopRole.IMPORT, TransportMode.SEA): 60.0,
    (StopRole.IMPORT, TransportMode.AIR): 10.0,
}


def _speed(mode: TransportMode, rng: random.Random | None) -> float:
    if mode is TransportMode.SEA:
        knots = rng.uniform(*SEA_KNOTS_RANGE) if rng else SEA_KNOTS_PLANNED
        return knots * KNOT_KMH
    if mode is TransportMode.AIR:
        return rng.uniform(*AIR_KMH_RANGE) if rng else AIR_KMH_PLANNED
    return rng.uniform(*ROAD_KMH_RANGE) if rng else ROAD_KMH_PLANNED


def _roles(n_hops: int) -> list[StopRole]:
    inner = [StopRole.TRANSSHIPMENT] * (n_hops - 3)
    return [StopRole.ORIGIN, StopRole.EXPORT, *inner, StopRole.IMPORT, StopRole.DESTINATION]


def _context_of(place: str) -> Context:
    kind = PLACES[place].kind
    if kind is PlaceKind.SEAPORT:
        return Context.PORT
    if kind is PlaceKind.AIRPORT:
        return Context.AIRPORT
    return Context.FACILITY


@dataclass(slots=True)
class _Timeline:
    """The actual timeline as :func:`build_voyage` walks the hops. Segments and stops are
    appended in time order; handling and doors are sorted once at the end."""

    customs_cleared: float
    delivered: float
    segments: list[Segment] = field(default_factory=list)
    stops: list[StopVisit] = field(default_factory=list)
    handling: list[HandlingEvent] = field(default_factory=list)
    doors: list[DoorOpening] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Call:
    """One call at a place after a hop: what the steps of :func:`_call_at` share."""

    role: StopRole
    place: str
    arrive: float
    dwell_h: float
    planned: tuple[float, float]
    last: bool
    """The destination of the last hop (no cargo moves there, only the delivery)."""
    rough: bool


def build_voyage(
    hops: list[Hop],
    departure: float,
    rng: random.Random,
    tweaks: Tweaks | None = None,
    coverage_km: float = 60.0,
) -> Voyage:
    """Plan and actual timeline for ``hops``, leaving the origin facility at ``departure``.

    The origin stop is the loading before ``departure``; the destination stop lasts until the
    tracker is removed, 12 hours after delivery. Draws from ``rng`` in a fixed order (loading,
    then per hop: travel, dwell, handling, customs, delivery), so the same seed gives the same
    voyage.
    """
    tweaks = tweaks or Tweaks()
    air = any(h.mode is TransportMode.AIR for h in hops)
    mode = TransportMode.AIR if air else TransportMode.SEA
    roles = _roles(len(hops))
    places = [hops[0].origin] + [h.destination for h in hops]
    legs, planned_stops = _plan(hops, departure, roles, mode)
    tl = _Timeline(customs_cleared=departure, delivered=departure)
    _load_at_origin(tl, places[0], departure, planned_stops[0], rng)
    t = departure
    for i, hop in enumerate(hops):
        detour = tweaks.detour if tweaks.detour and tweaks.detour.hop == i else None
        arrive = _travel(tl, hop, i, t, detour, rng)
        k = i + 1
        last = k == len(hops)
        if last:
            dwell_h = 12.0
        else:
            planned = _PLANNED_DWELL_H[(roles[k], mode)]
            dwell_h = planned * rng.uniform(0.6, 1.4) + tweaks.extra_dwell_h.get(k, 0.0)
        rough = k in tweaks.rough_stops
        t = _call_at(
            tl, _Call(roles[k], places[k], arrive, dwell_h, planned_stops[k], last, rough), rng
        )
    tl.handling.sort(key=lambda e: e.t)
    tl.doors.sort(key=lambda d: d.start)
    return Voyage(
        hops=tuple(hops),
        legs=tuple(legs),
        track=Track(tl.segments),
        stops=tuple(tl.stops),
        handling=tuple(tl.handling),
        doors=tuple(tl.doors),
        gaps=tuple(coverage_gaps(tl.segments, coverage_km)),
        customs_cleared_at=tl.customs_cleared,
        delivered_at=tl.delivered,
    )


def _plan(
    hops: list[Hop], departure: float, roles: list[StopRole], mode: TransportMode
) -> tuple[list[PlannedLeg], list[tuple[float, float]]]:
    """The booked plan: legs at nominal speeds and the (arrive, depart) of every stop, with
    nominal dwells (no randomness: the plan is what the booking promised)."""
    legs: list[PlannedLeg] = []
    planned_stops: list[tuple[float, float]] = []
    t = departure - _PLANNED_DWELL_H[(StopRole.ORIGIN, mode)] * HOUR
    planned_stops.append((t, departure))
    t = departure
    for i, hop in enumerate(hops):
        arrive = t + hop.length_km / _speed(hop.mode, None) * HOUR
        legs.append(PlannedLeg(hop.mode, hop.origin, hop.destination, t, arrive, hop.waypoints))
        if i + 1 < len(hops):
            depart = arrive + _PLANNED_DWELL_H[(roles[i + 1], mode)] * HOUR
        else:
            depart = arrive + 12 * HOUR
        planned_stops.append((arrive, depart))
        t = depart
    return legs, planned_stops


def _load_at_origin(
    tl: _Timeline,
    origin: str,
    departure: float,
    planned: tuple[float, float],
    rng: random.Random,
) -> None:
    """Loading at the origin facility, ending at ``departure``: doors open, one forklift."""
    load_h = rng.uniform(1.5, 3.0)
    t0 = departure - load_h * HOUR
    pos = PLACES[origin].pos
    tl.stops.append(StopVisit(StopRole.ORIGIN, origin, pos, t0, departure, *planned))
    tl.segments.append(Segment(t0, departure, Context.FACILITY, pos, place=origin))
    tl.doors.append(DoorOpening(t0 + 0.1 * HOUR, t0 + 0.8 * load_h * HOUR, origin, True))
    tl.handling.append(HandlingEvent(t0 + 0.5 * load_h * HOUR, "forklift", origin, 0.5, 2.0))


def _travel(
    tl: _Timeline, hop: Hop, i: int, t: float, detour: Detour | None, rng: random.Random
) -> float:
    """Hop ``i`` leaving at ``t`` at this voyage's speed; returns the arrival time. A detour
    leaves the corridor, stops somewhere unplanned (a break-in), then heads for the hop's end."""
    speed = _speed(hop.mode, rng)
    ctx = _MODE_CONTEXT[hop.mode]
    if detour is None:
        path = _cached_path(hop.points, hop.coastal)
        arrive = t + path.length_km / speed * HOUR
        tl.segments.append(Segment(t, arrive, ctx, path=path, hop=i))
        return arrive
    leave = Path(hop.points).at_km(detour.leave_fraction * hop.length_km)[0]
    out = Path((hop.points[0], leave, detour.point))
    back = Path((detour.point, hop.points[-1]))
    t_stop = t + out.length_km / speed * HOUR
    t_go = t_stop + detour.stop_hours * HOUR
    arrive = t_go + back.length_km / speed * HOUR
    tl.segments.append(Segment(t, t_stop, ctx, path=out, hop=i))
    tl.segments.append(Segment(t_stop, t_go, Context.STOP, detour.point, hop=i))
    tl.segments.append(Segment(t_go, arrive, ctx, path=back, hop=i))
    tl.stops.append(StopVisit(StopRole.UNPLANNED, None, detour.point, t_stop, t_go, None, None))
    open_at = t_stop + rng.uniform(0.3, 0.6) * detour.stop_hours * HOUR
    tl.doors.append(DoorOpening(open_at, open_at + rng.uniform(0.3, 1.0) * HOUR, None, False))
    tl.handling.append(HandlingEvent(open_at, "break-in", None, 2.0, 6.0))
    return arrive


def _call_at(tl: _Timeline, call: _Call, rng: random.Random) -> float:
    """The stay at ``call.place`` after a hop; returns the departure time."""
    depart = call.arrive + call.dwell_h * HOUR
    pos = PLACES[call.place].pos
    tl.stops.append(StopVisit(call.role, call.place, pos, call.arrive, depart, *call.planned))
    _stay_segments(tl, call.place, call.arrive, depart)
    if not call.last:
        _cargo_moves(tl, call, depart, rng)
    if call.role is StopRole.IMPORT:
        _clear_customs(tl, call, rng)
    if call.role is StopRole.DESTINATION:
        _deliver(tl, call, rng)
    return depart


def _stay_segments(tl: _Timeline, place: str, arrive: float, depart: float) -> None:
    """The timeline at a place: a facility's yard first, then inside."""
    ctx = _context_of(place)
    pos = PLACES[place].pos
    arrive_inside = arrive
    if ctx is Context.FACILITY:
        # Trucks wait in the yard before they are let in to unload: the tracker still sees
        # the sky there, so the arrival has a fix even though the warehouse hides it after.
        arrive_inside = min(depart, arrive + YARD_H * HOUR)
        tl.segments.append(Segment(arrive, arrive_inside, Context.YARD, pos, place=place))
    tl.segments.append(Segment(arrive_inside, depart, ctx, pos, place=place, hop=-1))


def _cargo_moves(tl: _Timeline, call: _Call, depart: float, rng: random.Random) -> None:
    """Discharge and load at a port or airport (rough crews knock the box more often)."""
    g = (8.0, 30.0) if call.rough else (1.0, 3.5)
    discharge = call.arrive + rng.uniform(0.05, 0.3) * call.dwell_h * HOUR
    load = depart - rng.uniform(0.05, 0.3) * call.dwell_h * HOUR
    tl.handling.append(HandlingEvent(discharge, "discharge", call.place, *g))
    tl.handling.append(HandlingEvent(load, "load", call.place, *g))
    if call.rough:
        # A rough crew knocks the box at every set-down of the move, not once: on the
        # terminal tractor, then in the stack (or the hold), 15-30 min apart.
        for t_move, kind in ((discharge, "stack"), (load, "stow")):
            at = t_move + rng.uniform(15.0, 30.0) * 60.0
            tl.handling.append(HandlingEvent(at, kind, call.place, *g))


def _clear_customs(tl: _Timeline, call: _Call, rng: random.Random) -> None:
    """Customs clearance at the import stop; one in five inspections opens the doors."""
    tl.customs_cleared = call.arrive + rng.uniform(0.5, 0.8) * call.dwell_h * HOUR
    if rng.random() < 0.2:  # customs inspection opens the doors (authorised)
        open_at = call.arrive + rng.uniform(0.35, 0.45) * call.dwell_h * HOUR
        tl.doors.append(
            DoorOpening(open_at, open_at + rng.uniform(0.3, 1.0) * HOUR, call.place, True)
        )


def _deliver(tl: _Timeline, call: _Call, rng: random.Random) -> None:
    """Delivery at the destination: doors open until it is done, one forklift."""
    tl.delivered = call.arrive + rng.uniform(1.0, 2.0) * HOUR
    tl.doors.append(DoorOpening(call.arrive + 0.3 * HOUR, tl.delivered, call.place, True))
    tl.handling.append(HandlingEvent(call.arrive + 0.5 * HOUR, "forklift", call.place, 0.5, 2.0))


@lru_cache(maxsize=65536)
def _cached_path(points: tuple[LatLon, ...], coastal: tuple[bool, ...]) -> Path:
    """Paths are immutable; shipments on the same lane share one."""
    return Path(points, coastal)


def planned_span(hops: list[Hop]) -> float:
    """Planned seconds from leaving the origin facility to arriving at the destination."""
    mode = (
        TransportMode.AIR if any(h.mode is TransportMode.AIR for h in hops) else (TransportMode.SEA)
    )
    roles = _roles(len(hops))
    total = sum(h.length_km / _speed(h.mode, None) * HOUR for h in hops)
    total += sum(_PLANNED_DWELL_H[(roles[k], mode)] * HOUR for k in range(1, len(hops)))
    return total


# --- Coverage --------------------------------------------------------------------------------


def coverage_gaps(segments: list[Segment], coverage_km: float) -> list[tuple[float, float]]:
    """Time intervals without mobile coverage: in flight, and at sea away from coasts."""
    gaps: list[tuple[float, float]] = []
    for seg in segments:
        if seg.path is None or seg.end <= seg.start:
            continue
        if seg.context is Context.AIR:
            gaps.append((seg.start, seg.end))
            continue
        if seg.context is not Context.SEA:
            continue
        rate = (seg.end - seg.start) / seg.path.length_km if seg.path.length_km else 0.0
        for i, arc in enumerate(seg.path.arcs):
            if seg.path.coastal[i]:
                continue
            for f0, f1 in _uncovered_fractions(arc.a, arc.b, coverage_km):
                km0 = seg.path.cum_km[i] + f0 * arc.length_km
                km1 = seg.path.cum_km[i] + f1 * arc.length_km
                gaps.append((seg.start + km0 * rate, seg.start + km1 * rate))
    gaps.sort()
    merged: list[tuple[float, float]] = []
    for g in gaps:
        if merged and g[0] <= merged[-1][1] + 1.0:
            merged[-1] = (merged[-1][0], max(merged[-1][1], g[1]))
        else:
            merged.append(g)
    return merged


def _anchors() -> list[LatLon]:
    out = [sp.pos for sp in PLACES.values()]
    out += [(lat, lon) for lat, lon, coastal in NODES.values() if coastal]
    return out


_ANCHORS = _anchors()


@lru_cache(maxsize=8192)
def _uncovered_fractions(
    a: LatLon, b: LatLon, coverage_km: float
) -> tuple[tuple[float, float], ...]:
    """Fractions of the arc a→b farther than ``coverage_km`` from every coverage anchor."""
    arc = GreatCircle(a, b)
    if coverage_km <= 0:
        return ((0.0, 1.0),)
    near = [
        p
        for p in _ANCHORS
        if min(distance_km(p, a), distance_km(p, b)) <= arc.length_km + coverage_km
    ]
    n = max(2, math.ceil(arc.length_km / 20.0))
    out: list[tuple[float, float]] = []
    start: float | None = None
    for i in range(n + 1):
        f = i / n
        p = arc.at(f)
        covered = any(distance_km(p, q) <= coverage_km for q in near)
        if not covered and start is None:
            start = f
        elif covered and start is not None:
            out.append((start, f))
            start = None
    if start is not None:
        out.append((start, 1.0))
    return tuple(out)


def detour_point(hop: Hop, rng: random.Random) -> LatLon:
    """Somewhere 25-45 km beyond the destination, away from the port: inland, off the corridor."""
    src, dst = hop.points[0], hop.points[-1]
    base = bearing_deg(src, dst)
    side = rng.choice((-1.0, 1.0))
    return destination(
        dst, (base + side * rng.uniform(20.0, 70.0)) % 360.0, rng.uniform(25.0, 45.0)
    )
