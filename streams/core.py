"""The stream processor's pure core: ``apply(state, input) -> (state, events)``.

Inputs are a shipment's booking (from the registry) and its trackers' readings; outputs are
shipment events (:mod:`tradelane.contracts.events`) in CloudEvents envelopes with ids derived
from their cause. No clock, no I/O, no randomness: time comes from readings.

This module is the orchestration only: de-duplication, per-device order
(:mod:`streams.rules.reorder`), then each rule family of :mod:`streams.rules` in a fixed order,
which is the order events are emitted in. Within the reorder lateness, the final state and the
events do not depend on arrival order. Across the trackers of one shipment, readings
interleave as they arrive: one older than the newest applied ("late", e.g. a backlog flushed
after another tracker moved event time on) still counts for de-duplication, sensor alarms and
evidence, but never moves the shipment backwards (geofences, deviation, ETA) — see
docs/streams.md.

Redelivery: a reading seen before (same device and seq) changes nothing and re-emits the events
it caused the first time (same ids), so an event lost between a crash and the offset commit is
sent again, and consumers de-duplicate by id.
"""

from __future__ import annotations

from functools import partial

from streams import motion
from streams.route import route_of
from streams.rules import DEFAULT_RULES, StreamRules
from streams.rules.alarms import openings, shock
from streams.rules.condition import conditions, kinetic_sample
from streams.rules.context import StepContext
from streams.rules.deviation import deviation
from streams.rules.eta import eta
from streams.rules.health import battery, device_health, on_status
from streams.rules.milestones import customs, geofences, unloading
from streams.rules.quality import plausible_part, quality
from streams.rules.reorder import (
    from_store,
    in_sequence,
    remember,
    remember_outputs,
    seen_before,
)
from streams.state import DeviceTrack, ShipmentState
from tradelane.contracts import (
    IngestedReading,
    IngestedStatus,
    ShipmentBooking,
    ShipmentEvent,
    TrackerReading,
)
from tradelane.discipline import on_a_copy

Input = IngestedReading | ShipmentBooking | IngestedStatus


def new_state(shipment_id: str) -> ShipmentState:
    return ShipmentState(shipment_id=shipment_id)


def apply(
    state: ShipmentState, item: Input, rules: StreamRules = DEFAULT_RULES
) -> tuple[ShipmentState, list[ShipmentEvent]]:
    """Pure form (:mod:`tradelane.discipline`): the next state of a copy and the events;
    ``state`` is left untouched."""
    return on_a_copy(partial(apply_in_place, rules=rules), _copy, state, item)


def _copy(state: ShipmentState) -> ShipmentState:
    return state.model_copy(deep=True)


def apply_in_place(
    state: ShipmentState, item: Input, rules: StreamRules = DEFAULT_RULES
) -> list[ShipmentEvent]:
    """The shipment rules' in-place step (:mod:`tradelane.discipline`): ``state`` becomes the
    next state; the worker owns one state per shipment and applies each input to it."""
    ctx = StepContext(state, rules)
    if isinstance(item, ShipmentBooking):
        state.booking = item
        customs(ctx)
        return ctx.events
    if isinstance(item, IngestedStatus):
        key = f"status:{item.status.device_id}:{item.received_at.isoformat()}"
        if key in state.recent_outputs:
            return [ShipmentEvent.model_validate_json(e) for e in state.recent_outputs[key]]
        if on_status(ctx, item.status) and state.booking is not None:
            customs(ctx)  # the tracker stopped reporting: a clearance may no longer wait
        remember_outputs(state, key, ctx.events)
        return ctx.events
    reading = item.reading
    key = f"{reading.device_id}:{reading.seq}"
    track = state.devices.setdefault(reading.device_id, DeviceTrack())
    if seen_before(track, reading.seq):
        state.duplicates += 1
        return [ShipmentEvent.model_validate_json(e) for e in state.recent_outputs.get(key, [])]
    remember(track, reading.seq)
    # the latest reading's lead, not the largest ever: one reading from a clock that was
    # briefly ahead must not mark the tracker poor for the rest of the voyage
    track.quality.clock_ahead_s = max(0, int((reading.ts - item.received_at).total_seconds()))
    stored = from_store(track, item, rules)
    if state.booking is not None:
        for ready in in_sequence(track, reading, rules):
            _on_reading(ctx, track, ready, stored or ready is not reading)
    remember_outputs(state, key, ctx.events)
    return ctx.events


def _on_reading(ctx: StepContext, track: DeviceTrack, r: TrackerReading, stored: bool) -> None:
    """One reading of ``track``, in its sequence order, through every rule family. The order
    is the contract: the plausibility gate first, geofences before tamper (an opening depends
    on where the goods are), conditions last."""
    state = ctx.state
    assert state.booking is not None
    r = plausible_part(ctx, track, r)
    quality(ctx, track, r)
    late = state.last_ts is not None and r.ts < state.last_ts
    if late:
        state.late_readings += 1
    device_health(ctx, track, r, late or stored)
    fix = (r.gps.lat, r.gps.lon) if r.gps is not None and r.gps.fix.value != "none" else None
    motion.feed(track.motion, r.ts, r.shock_g, fix)
    if r.temperature_c is not None:
        kinetic_sample(state, r.temperature_c)
    if not late:
        state.last_ts = r.ts
        customs(ctx)
        if r.gps is not None and fix is not None:
            _moved(ctx, track, r, fix)
    if fix is not None and (track.motion.fix_at is None or r.ts >= track.motion.fix_at):
        motion.restart(track.motion, r.ts, fix, r.shock_g)
    shock(ctx, r)
    openings(ctx, track, r, late)  # after the geofences: tamper depends on where
    battery(ctx, track, r)
    unloading(ctx, track, r)
    conditions(ctx, r)


def _moved(
    ctx: StepContext, track: DeviceTrack, r: TrackerReading, fix: tuple[float, float]
) -> None:
    """An in-order fix moves the shipment: position, smoothed speed, then the rules of where
    it is (geofences, corridor, ETA)."""
    state = ctx.state
    assert state.booking is not None
    assert r.gps is not None
    route = route_of(state.booking)
    state.position = fix
    state.speed_kmh = (
        r.gps.speed_kmh
        if state.speed_kmh is None
        else (0.7 * state.speed_kmh + 0.3 * r.gps.speed_kmh)
    )
    geofences(ctx, route, fix, r, track.motion)
    deviation(ctx, route, fix, r)
    eta(ctx, route, fix, r)
