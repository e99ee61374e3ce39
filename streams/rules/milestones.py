"""Milestones: departures and arrivals proved by geofences (timed by what the tracker felt
while it was blind, :mod:`streams.motion`), the hand-over at the destination, customs
clearance from the registry, and delivery once both are done."""

from __future__ import annotations

from datetime import datetime, timedelta

from streams import motion
from streams.route import Route, route_of
from streams.rules.condition import close_cumulative
from streams.rules.context import StepContext
from streams.rules.evidence import evidence
from streams.state import DeviceTrack, ShipmentState
from tradelane.contracts import (
    Evidence,
    Milestone,
    MilestoneReached,
    Place,
    PlaceKind,
    QualityGrade,
    ShipmentStatus,
    TrackerReading,
)
from tradelane.geo import distance_km


def customs(ctx: StepContext) -> None:
    """Customs clearance, from the registry, once the shipment's event time has reached it.
    The registry is read ahead of a backlog of readings: applied on arrival, a clearance
    overtook the departure it followed, and the departure tranche was priced as goods in a
    warehouse (80 %) instead of in transit (60 %). While no tracker is left to report (all
    retired or silent), nothing will move event time on, so it applies at once."""
    state = ctx.state
    assert state.booking is not None
    cleared = state.booking.customs_cleared_at
    if cleared is None or Milestone.CUSTOMS_CLEARED in state.milestones:
        return
    reporting = any(not t.retired and not t.silent for t in state.devices.values())
    if reporting and (state.last_ts is None or state.last_ts < cleared):
        return
    state.milestones[Milestone.CUSTOMS_CLEARED] = cleared
    if state.status is not ShipmentStatus.DELIVERED:
        state.status = ShipmentStatus.CUSTOMS_CLEARED
    milestone(ctx, Milestone.CUSTOMS_CLEARED, cleared, None, None)
    _maybe_delivered(ctx)


def milestone(
    ctx: StepContext,
    reached: Milestone,
    at: datetime,
    place: int | None,
    dwell_s: int | None,
    proof: Evidence | None = None,
) -> None:
    """Emit ``reached`` at route place ``place``, in spec or not. ``proof``: the reading that
    crossed the geofence, so a delay trigger's data-quality gate can see what proved the
    arrival (absent for customs, which comes from the registry)."""
    state = ctx.state
    assert state.booking is not None
    route_places = [state.booking.legs[0].origin, *(leg.destination for leg in state.booking.legs)]
    locode = route_places[place].locode if place is not None else None
    ctx.emit(
        MilestoneReached(
            milestone=reached,
            at=at,
            place=locode,
            leg_index=None if place is None else max(0, place - 1),
            status=state.status,
            dwell_s=dwell_s,
            in_spec=_in_spec(state),
            evidence=proof,
        ),
        at,
        reached.value,
        -1 if place is None else place,
    )


def _in_spec(state: ShipmentState) -> bool:
    """No breach under way, and every tracker closed, reporting and trusted."""
    return (
        not any(e.started for e in state.consecutive.values())
        and not any(e.started for e in state.cumulative.values())
        and not any(
            t.tamper_open or t.silent or t.quality.grade is QualityGrade.POOR
            for t in state.devices.values()
        )
    )


def geofences(
    ctx: StepContext,
    route: Route,
    p: tuple[float, float],
    r: TrackerReading,
    seen: motion.Motion,
) -> None:
    """Departures and arrivals proved by the fix ``p`` of ``r``, timed by what the tracker
    felt since its previous fix (:mod:`streams.motion`) when it was blind in between."""
    state = ctx.state
    # A fix inside a place counts as arriving there only when the goods are slow enough to be
    # stopping: a truck passing a warehouse at 45 km/h on its way elsewhere has not arrived.
    settled = r.gps is None or r.gps.speed_kmh <= ctx.rules.arrival_speed_kmh
    left: datetime | None = None
    if state.at_place is not None:
        if _still_there(ctx, route, p, settled):
            return
        left = _leave(ctx, route, r, seen)
    for index, place in enumerate(route.places):
        if distance_km(p, (place.lat, place.lon)) > place.radius_km:
            continue
        if index == 0 and state.departed_origin_at is None:
            state.at_place, state.arrived_at = 0, r.ts
            return
        if index in state.entered or index == 0 or not settled:
            continue
        _enter(ctx, route, index, r, motion.reached_at(seen, r.ts, left), left)
        return
    if state.departed_origin_at is None and state.at_place is None:
        _departed_origin(ctx, r.ts, evidence([r]))  # first seen already away


def _still_there(ctx: StepContext, route: Route, p: tuple[float, float], settled: bool) -> bool:
    """Whether the fix ``p`` keeps the goods at their current place. Leaving needs 1.5 x its
    radius, unless the fix is already inside a next place of the route (a port's distribution
    centre, inside the port's hysteresis ring: leaving needs no detour). When the fix lies
    inside both, the tighter geofence says where it is: a factory inside its export port's
    geofence is still being loaded while its fixes stay at the factory, and a warehouse
    inside its import port's is reached when they are there."""
    state = ctx.state
    assert state.at_place is not None
    place = route.places[state.at_place]
    away = distance_km(p, (place.lat, place.lon))
    inside = away <= place.radius_km
    onward = settled and any(
        j > state.at_place
        and j not in state.entered
        and distance_km(p, (nxt.lat, nxt.lon)) <= nxt.radius_km
        and (not inside or nxt.radius_km < place.radius_km)
        for j, nxt in enumerate(route.places)
    )
    return away <= place.radius_km * ctx.rules.geofence_exit_factor and not onward


def _leave(ctx: StepContext, route: Route, r: TrackerReading, seen: motion.Motion) -> datetime:
    """The goods left their current place: the departure milestone (once per place), timed
    when they started moving (:func:`_left`). Returns that time."""
    state = ctx.state
    assert state.at_place is not None
    index, arrived = state.at_place, state.arrived_at
    state.at_place, state.arrived_at = None, None
    left = _left(seen, route.places[index], ctx.rules.geofence_exit_factor, r.ts, arrived)
    if index in state.departed:
        return left
    state.departed.append(index)
    if index == 0:
        _departed_origin(ctx, left, evidence([r]))
    elif index < len(route.places) - 1:
        state.status = ShipmentStatus.IN_TRANSIT
        dwell = int((left - arrived).total_seconds()) if arrived else None
        milestone(ctx, Milestone.DEPARTED_TRANSSHIPMENT, left, index, dwell, evidence([r]))
    return left


def _enter(
    ctx: StepContext,
    route: Route,
    index: int,
    r: TrackerReading,
    reached: datetime,
    left: datetime | None,
) -> None:
    """The goods reached place ``index`` (not the origin) at ``reached``."""
    state = ctx.state
    place = route.places[index]
    state.entered.append(index)
    state.at_place, state.arrived_at = index, reached
    if state.departed_origin_at is None:
        _departed_origin(ctx, left or reached, evidence([r]))
    if index == len(route.places) - 1:
        _arrived_destination(ctx, place, index, reached, evidence([r]))
        return
    bonded = place.kind in (PlaceKind.BONDED_ZONE, PlaceKind.WAREHOUSE)
    state.status = ShipmentStatus.IN_BONDED_WAREHOUSE if bonded else ShipmentStatus.AT_TRANSSHIPMENT
    reached_kind = Milestone.ENTERED_BONDED_WAREHOUSE if bonded else Milestone.ARRIVED_TRANSSHIPMENT
    milestone(ctx, reached_kind, reached, index, None, evidence([r]))


def _left(
    seen: motion.Motion,
    place: Place,
    exit_factor: float,
    ts: datetime,
    arrived: datetime | None,
) -> datetime:
    """When the goods left ``place``, which the fix at ``ts`` shows them away from: when they
    started moving after the tracker's last fix there, if it was blind since."""
    there = seen.fix_pos is not None and (
        distance_km(seen.fix_pos, (place.lat, place.lon)) <= place.radius_km * exit_factor
    )
    left = motion.left_at(seen, there, ts)
    return max(left, arrived) if arrived is not None else left


def _arrived_destination(
    ctx: StepContext, place: Place, index: int, at: datetime, proof: Evidence
) -> None:
    """Arrival is not delivery: the goods are handed over once unloaded (:func:`unloading`)."""
    state = ctx.state
    state.status = ShipmentStatus.ARRIVED
    state.milestones[Milestone.ARRIVED_DESTINATION] = at
    milestone(ctx, Milestone.ARRIVED_DESTINATION, at, index, None, proof)
    if place.kind is PlaceKind.BONDED_ZONE:
        state.status = ShipmentStatus.IN_BONDED_WAREHOUSE
        milestone(ctx, Milestone.ENTERED_BONDED_WAREHOUSE, at, index, None, proof)


def unloading(ctx: StepContext, track: DeviceTrack, r: TrackerReading) -> None:
    """The hand-over at the destination: its doors open to unload (light) and close again
    behind the goods. A tracker's light is the peak of its interval, so the doors closed by
    its last lit reading, which the next dark one confirms. A tracker that sees no light there
    for ``unloading_timeout_minutes`` counts the goods delivered when that time is up."""
    state, rules = ctx.state, ctx.rules
    arrived = state.milestones.get(Milestone.ARRIVED_DESTINATION)
    if arrived is None or state.unloaded_at is not None or r.ts < arrived:
        return
    lit = r.light_lux is not None and r.light_lux > rules.light_tamper_lux
    if lit:
        if track.lit_at_destination is None or r.ts > track.lit_at_destination:
            track.lit_at_destination = r.ts
        return
    if track.lit_at_destination is not None and r.ts > track.lit_at_destination:
        state.unloaded_at = track.lit_at_destination
    elif r.ts - arrived >= timedelta(minutes=rules.unloading_timeout_minutes):
        state.unloaded_at = r.ts
    if state.unloaded_at is not None:
        _maybe_delivered(ctx)


def _departed_origin(ctx: StepContext, ts: datetime, proof: Evidence | None = None) -> None:
    state = ctx.state
    state.departed_origin_at = ts
    state.milestones[Milestone.DEPARTED_ORIGIN] = ts
    state.status = ShipmentStatus.IN_TRANSIT
    if 0 not in state.departed:
        state.departed.append(0)
    milestone(ctx, Milestone.DEPARTED_ORIGIN, ts, 0, None, proof)


def _maybe_delivered(ctx: StepContext) -> None:
    """Delivered once the goods are unloaded at their destination and cleared customs (either
    order)."""
    state = ctx.state
    unloaded = state.unloaded_at
    cleared = state.milestones.get(Milestone.CUSTOMS_CLEARED)
    if unloaded is None or cleared is None or Milestone.DELIVERED in state.milestones:
        return
    at = max(unloaded, cleared)
    state.milestones[Milestone.DELIVERED] = at
    state.status = ShipmentStatus.DELIVERED
    close_cumulative(ctx, at)
    milestone(
        ctx,
        Milestone.DELIVERED,
        at,
        len(route_of(state.booking).places) - 1 if state.booking else None,
        None,
    )
