"""A tracker's alarms: shocks beyond the cargo's limit, and openings (light, or the tamper
switch) away from the origin and the route's planned stops.

An opening is reported once the tracker's next reading has said whether it lasted
(:func:`report_opening`); one that goes silent first has it reported as it stands
(:func:`flush_opening`).
"""

from __future__ import annotations

from streams.route import route_of
from streams.rules.context import StepContext
from streams.rules.evidence import evidence
from streams.state import DeviceTrack, ShipmentState
from tradelane.contracts import ShockDetected, TamperDetected, TrackerReading
from tradelane.geo import distance_km


def shock(ctx: StepContext, r: TrackerReading) -> None:
    """A shock above the cargo's limit (or the default one)."""
    assert ctx.state.booking is not None
    limit = ctx.state.booking.condition.shock_max_g or ctx.rules.default_shock_limit_g
    if r.shock_g is not None and r.shock_g > limit:
        ctx.emit(
            ShockDetected(
                device_id=r.device_id,
                at=r.ts,
                g=r.shock_g,
                limit_g=limit,
                evidence=evidence([r], "shock_g"),
            ),
            r.ts,
            r.device_id,
            r.seq,
        )


def openings(ctx: StepContext, track: DeviceTrack, r: TrackerReading, late: bool) -> None:
    """Light before departure or inside a planned stop's geofence is a door opened for
    loading, handling or inspection; light anywhere else, or the tracker's own tamper flag, is
    tampering. Each reading is judged where and when it was taken, not by the shipment's state
    when it arrived: a loading-dock reading flushed after another tracker saw the departure
    was still taken at the dock. Runs after the geofences: where the goods are matters."""
    state = ctx.state
    lit = r.light_lux is not None and r.light_lux > ctx.rules.light_tamper_lux
    departed = state.departed_origin_at
    loading = departed is None or r.ts < departed  # still at the origin, being packed
    opened = r.tamper or (lit and not loading and not _at_a_stop(state, r, late))
    pending = track.tamper_pending
    if pending is not None:  # the reading after an opening says whether it was one
        report_opening(ctx, pending, [pending, r] if opened else [pending])
        track.tamper_pending = None
    elif opened and not track.tamper_open:
        track.tamper_pending = r
    track.tamper_open = opened


def _at_a_stop(state: ShipmentState, r: TrackerReading, late: bool) -> bool:
    """Whether ``r`` was taken at a planned stop: by its own fix when it has one (a late reading
    cannot use the shipment's current place); an in-order reading without a fix is where the
    shipment is; a late one without a fix cannot be placed, so its light proves nothing."""
    assert state.booking is not None
    if r.gps is not None and r.gps.fix.value != "none":
        p = (r.gps.lat, r.gps.lon)
        return any(
            distance_km(p, (place.lat, place.lon)) <= place.radius_km
            for place in route_of(state.booking).places
        )
    return late or state.at_place is not None


def report_opening(
    ctx: StepContext, opening: TrackerReading, readings: list[TrackerReading]
) -> None:
    """Report an opening once the tracker's next reading has said whether it lasted: still
    open (or the tamper switch still set), the report cites both readings, and no single
    reading (a glint of light, a glitch) becomes a confirmed tamper alone; closed again, it
    cites the opening only, and the claim it may raise waits for review. The report keeps
    the opening's time and id."""
    ctx.emit(
        TamperDetected(
            device_id=opening.device_id,
            at=opening.ts,
            light_lux=opening.light_lux,
            evidence=evidence(readings, "light_lux"),
        ),
        opening.ts,
        opening.device_id,
        opening.seq,
    )


def flush_opening(ctx: StepContext, track: DeviceTrack) -> None:
    """A tracker that goes silent right after an opening (destroyed, or its battery gone)
    never confirms it: report the opening as it stands."""
    if track.tamper_pending is not None:
        report_opening(ctx, track.tamper_pending, [track.tamper_pending])
        track.tamper_pending = None
