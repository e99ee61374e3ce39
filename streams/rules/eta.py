"""The estimated arrival from the planned legs and where the goods are, and the delay it
predicts (in steps of ``delay_hours``, never taken back)."""

from __future__ import annotations

from datetime import datetime, timedelta

from streams.route import Route
from streams.rules.context import StepContext
from streams.state import ShipmentState
from tradelane.contracts import (
    DelayPredicted,
    EtaChanged,
    ShipmentStatus,
    TrackerReading,
    TransportMode,
)

_DONE = (ShipmentStatus.ARRIVED, ShipmentStatus.IN_BONDED_WAREHOUSE, ShipmentStatus.DELIVERED)


def eta(ctx: StepContext, route: Route, p: tuple[float, float], r: TrackerReading) -> None:
    """Emit ``eta_changed`` when the estimate moves by more than ``eta_change_hours``, and
    ``delay_predicted`` each time the predicted delay crosses another ``delay_hours``."""
    state, rules = ctx.state, ctx.rules
    assert state.booking is not None
    if state.status in _DONE or state.departed_origin_at is None:
        return
    estimate = _estimate(state, route, p, r.ts, rules.default_speed_kmh)
    planned = state.booking.legs[-1].planned_arrival
    previous = state.eta
    if previous is None or abs(estimate - previous) > timedelta(hours=rules.eta_change_hours):
        state.eta = estimate
        ctx.emit(
            EtaChanged(at=r.ts, eta=estimate, previous_eta=previous, planned_arrival=planned),
            r.ts,
            r.device_id,
            r.seq,
        )
    delay_h = (estimate - planned).total_seconds() / 3600
    steps = int(delay_h // rules.delay_hours) if delay_h > 0 else 0
    if steps > state.delay_steps:
        state.delay_steps = steps
        ctx.emit(
            DelayPredicted(
                at=r.ts, eta=estimate, planned_arrival=planned, delay_h=round(delay_h, 2)
            ),
            r.ts,
            steps,
        )


def _estimate(
    state: ShipmentState,
    route: Route,
    p: tuple[float, float],
    ts: datetime,
    default_speed_kmh: dict[TransportMode, float],
) -> datetime:
    """Waiting at a place between two legs: the next leg leaves as planned (or now, if late)
    and takes its planned time. Under way: the rest of the leg at the leg's planned speed,
    never a leg already left behind — at a port the nearest leg flips with GPS noise between
    the one that ended and the one to come, and each flip moved the estimate by the planned
    wait. Then every later leg as planned, with the planned waits between legs. The planned
    speed, not the GPS speed: a ship crawling out of port at 6 knots predicted weeks of
    delay, and a delay, once predicted, is not taken back. Lateness shows anyway, as time
    spent waiting or moving beyond the plan."""
    assert state.booking is not None
    legs = state.booking.legs
    if state.at_place is not None and 0 < state.at_place < len(legs):
        leg = state.at_place
        estimate = max(ts, legs[leg].planned_departure) + (
            legs[leg].planned_arrival - legs[leg].planned_departure
        )
    else:
        _, leg = route.corridor_km(p)
        leg = max([leg, *state.departed])
        planned_h = (legs[leg].planned_arrival - legs[leg].planned_departure).total_seconds() / 3600
        leg_km = route.leg_km(leg)
        speed = leg_km / planned_h if planned_h > 0 and leg_km > 0 else 0.0
        speed = speed or default_speed_kmh[route.modes[leg]]
        estimate = ts + timedelta(hours=route.remaining_in_leg_km(p, leg) / speed)
    for previous_leg, next_leg in zip(legs[leg:], legs[leg + 1 :], strict=False):
        estimate += next_leg.planned_departure - previous_leg.planned_arrival
        estimate += next_leg.planned_arrival - next_leg.planned_departure
    return estimate
