"""Route deviation: the goods off the corridor round the legs they can be on, for longer than
``deviation_minutes``, and back on it."""

from __future__ import annotations

from datetime import timedelta

from streams.route import Route
from streams.rules.context import StepContext
from streams.rules.evidence import evidence
from streams.state import ShipmentState
from tradelane.contracts import DeviationEnded, DeviationStarted, TrackerReading


def active_legs(state: ShipmentState, route: Route) -> tuple[int, ...]:
    """The legs the goods can be on: the one after the last place they left, and the next (a
    stop passed without a fix inside it). Measured against the whole route, a theft stop
    39 km off its road leg lay 11 km from the sea leg, inside the sea's 150 km corridor."""
    last = len(route.legs_points) - 1
    current = min(max(state.departed, default=0), last)
    return (current, min(current + 1, last))


def deviation(ctx: StepContext, route: Route, p: tuple[float, float], r: TrackerReading) -> None:
    """Open an episode at the first fix ``p`` off the corridor, report it once it has lasted
    ``deviation_minutes``, and end it (reported if it was) at the first fix back on it."""
    state, rules, ts = ctx.state, ctx.rules, r.ts
    distance, leg = route.corridor_km(p, active_legs(state, route))
    # The corridor is the mode's width, but never wider than a share of the leg: 40 km is
    # sane slack round a 600 km truck run, not round a 15 km drive from port to warehouse.
    limit = min(
        rules.deviation_km[route.modes[leg]],
        max(rules.deviation_min_km, rules.deviation_leg_share * route.leg_km(leg)),
    )
    if distance > limit:
        if state.deviation_since is None:
            state.deviation_since, state.deviation_max_km = ts, distance
        state.deviation_max_km = max(state.deviation_max_km, distance)
        if len(state.deviation_readings) < rules.evidence_max_readings:
            state.deviation_readings.append(r)
        if not state.deviation_open and ts - state.deviation_since >= timedelta(
            minutes=rules.deviation_minutes
        ):
            state.deviation_open = True
            ctx.emit(
                DeviationStarted(
                    at=ts,
                    distance_km=distance,
                    limit_km=limit,
                    evidence=evidence(state.deviation_readings),
                ),
                ts,
                state.deviation_since.isoformat(),
            )
        return
    if state.deviation_open and state.deviation_since is not None:
        ctx.emit(
            DeviationEnded(
                started_at=state.deviation_since,
                ended_at=ts,
                max_distance_km=state.deviation_max_km,
                evidence=evidence(state.deviation_readings),
            ),
            ts,
            state.deviation_since.isoformat(),
        )
    state.deviation_since, state.deviation_open, state.deviation_max_km = None, False, 0.0
    state.deviation_readings = []
