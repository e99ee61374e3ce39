"""The stream processor's pure core: ``apply(state, input) -> (state, events)``.

Inputs are a shipment's booking (from the registry) and its trackers' readings; outputs are
shipment events (:mod:`tradelane.contracts.events`) in CloudEvents envelopes with ids derived
from their cause. No clock, no I/O, no randomness: time comes from readings.

Ordering: each device's readings are applied in the order of its sequence numbers, whatever
order they arrive in. A reading that arrives ahead of a gap is held until the gap fills, or
until the device has reported ``reorder_lateness_minutes`` of event time past its last applied
reading (then the gap is given up). In-order input is applied at once, so ordering costs no
latency until a device actually reorders; a device first heard at a sequence number above 0
waits the lateness once, for readings it may have sent before. Within that lateness, the final
state and the events do not depend on arrival order. Across the trackers of one shipment,
readings interleave as they arrive: one older than the newest applied ("late", e.g. a backlog
flushed after another tracker moved event time on) still counts for de-duplication, sensor
alarms and evidence, but never moves the shipment backwards (geofences, deviation, ETA) — see
docs/streams.md.

Redelivery: a reading seen before (same device and seq) changes nothing and re-emits the events
it caused the first time (same ids), so an event lost between a crash and the offset commit is
sent again, and consumers de-duplicate by id.
"""

from __future__ import annotations

import bisect
import math
from datetime import datetime, timedelta

from pydantic import BaseModel

from streams import motion, plausibility
from streams.route import Route, route_of
from streams.rules import DEFAULT_RULES, StreamRules
from streams.state import (
    RECENT_OUTPUTS,
    RECENT_SEQS,
    DeviceQuality,
    DeviceTrack,
    Excursion,
    ShipmentState,
)
from tradelane.contracts import (
    BatteryLow,
    BreachEnded,
    BreachKind,
    BreachProgress,
    BreachRule,
    BreachStarted,
    DataQualityChanged,
    DelayPredicted,
    DeviationEnded,
    DeviationStarted,
    DeviceState,
    EtaChanged,
    Evidence,
    IngestedReading,
    IngestedStatus,
    Milestone,
    MilestoneReached,
    Place,
    PlaceKind,
    QualityGrade,
    ReadingImplausible,
    ReadingRef,
    ShipmentBooking,
    ShipmentEvent,
    ShipmentStatus,
    ShockDetected,
    TamperDetected,
    TrackerReading,
    TrackerResumed,
    TrackerSilent,
    shipment_event_type,
)
from tradelane.contracts.events import SHIPMENT_EVENT_SOURCE
from tradelane.evidence import digest
from tradelane.geo import distance_km
from tradelane.ids import derive_id

Input = IngestedReading | ShipmentBooking | IngestedStatus
MKT_DH_OVER_R = 10_000.0  # ΔH/R in kelvin (83.144 kJ/mol / 8.3144 J/mol/K), USP <1079>


class _Emitter:
    """Collects a step's events, each with an id derived from its cause."""

    def __init__(self, shipment_id: str) -> None:
        self.shipment_id = shipment_id
        self.events: list[ShipmentEvent] = []

    def emit(self, data: BaseModel, at: datetime, *cause: str | int) -> None:
        kind = str(getattr(data, "kind"))  # noqa: B009 - every event model has a kind literal
        self.events.append(
            ShipmentEvent(
                id=derive_id(kind, self.shipment_id, *cause),
                source=SHIPMENT_EVENT_SOURCE,
                type=shipment_event_type(kind),
                subject=self.shipment_id,
                time=at,
                data=data,
            )
        )


def new_state(shipment_id: str) -> ShipmentState:
    return ShipmentState(shipment_id=shipment_id)


def apply(
    state: ShipmentState, item: Input, rules: StreamRules = DEFAULT_RULES
) -> tuple[ShipmentState, list[ShipmentEvent]]:
    """Pure form: returns a new state (the given one is left untouched) and the events."""
    fresh = state.model_copy(deep=True)
    return fresh, step(fresh, item, rules)


def step(
    state: ShipmentState, item: Input, rules: StreamRules = DEFAULT_RULES
) -> list[ShipmentEvent]:
    """In-place form for the worker, which loads a fresh state from its table each time."""
    out = _Emitter(state.shipment_id)
    if isinstance(item, ShipmentBooking):
        _on_booking(state, item, out)
        return out.events
    if isinstance(item, IngestedStatus):
        key = f"status:{item.status.device_id}:{item.received_at.isoformat()}"
        if key in state.recent_outputs:
            return [ShipmentEvent.model_validate_json(e) for e in state.recent_outputs[key]]
        _on_status(state, item, out)
        _remember_outputs(state, key, out.events)
        return out.events
    reading = item.reading
    key = f"{reading.device_id}:{reading.seq}"
    track = state.devices.setdefault(reading.device_id, DeviceTrack())
    if reading.seq in track.recent_seqs or any(h.seq == reading.seq for h in track.held):
        state.duplicates += 1
        return [ShipmentEvent.model_validate_json(e) for e in state.recent_outputs.get(key, [])]
    _remember(track, reading.seq)
    # the latest reading's lead, not the largest ever: one reading from a clock that was
    # briefly ahead must not mark the tracker poor for the rest of the voyage
    track.quality.clock_ahead_s = max(0, int((reading.ts - item.received_at).total_seconds()))
    stored = _from_store(track, item, rules)
    if state.booking is not None:
        for ready in _in_sequence(track, reading, rules):
            _on_reading(state, track, ready, out, rules, stored or ready is not reading)
    _remember_outputs(state, key, out.events)
    return out.events


def _in_sequence(track: DeviceTrack, r: TrackerReading, rules: StreamRules) -> list[TrackerReading]:
    """The readings of one device that can be applied now, in sequence order: ``r`` if it is
    the one expected (or too late to wait for), then whatever it un-blocks; readings ahead of a
    gap wait in ``track.held`` until the gap fills or the lateness gives it up."""
    ready: list[TrackerReading] = []
    if r.seq == (0 if track.next_seq is None else track.next_seq):
        ready.append(r)
        track.next_seq = r.seq + 1
    elif track.next_seq is not None and r.seq < track.next_seq:
        ready.append(r)  # its gap was given up (or the device restarted its sequence)
    else:
        track.held.append(r)
        track.held.sort(key=lambda h: h.seq)
    newest = max([r.ts, *(h.ts for h in track.held)])
    lateness = timedelta(minutes=rules.reorder_lateness_minutes)
    while track.held:
        while track.held and track.held[0].seq == track.next_seq:
            head = track.held.pop(0)
            ready.append(head)
            track.next_seq = head.seq + 1
        if not track.held:
            break
        # a device first heard mid-sequence may have sent earlier readings: wait for them too
        seen = [t for t in (track.last_ts, *(x.ts for x in ready)) if t is not None]
        applied = max(seen, default=track.held[0].ts)
        if newest - applied <= lateness and len(track.held) <= rules.reorder_max_held:
            break
        track.next_seq = track.held[0].seq  # give the gap up
    return ready


def _from_store(track: DeviceTrack, item: IngestedReading, rules: StreamRules) -> bool:
    """Whether ``item`` judges no sibling silent: it came from the tracker's store (received
    long after it was taken: a coverage gap), or the tracker flushed its store less than
    ``flush_grace_s`` ago (receive time). Trackers of one container leave a gap together, and
    the one that flushes first must not call its sibling silent while the sibling's own flush
    is a few minutes behind."""
    received = item.received_at
    if received - item.reading.ts > timedelta(seconds=rules.stored_after_s):
        if track.flushed_at is None or received > track.flushed_at:
            track.flushed_at = received
        return True
    return track.flushed_at is not None and received - track.flushed_at < timedelta(
        seconds=rules.flush_grace_s
    )


def _remember_outputs(state: ShipmentState, key: str, events: list[ShipmentEvent]) -> None:
    if not events:
        return  # a redelivered reading that caused nothing re-emits nothing either
    state.recent_outputs[key] = [e.model_dump_json() for e in events]
    while len(state.recent_outputs) > RECENT_OUTPUTS:
        del state.recent_outputs[next(iter(state.recent_outputs))]


def _on_status(state: ShipmentState, item: IngestedStatus, out: _Emitter) -> None:
    """A device's status, placed in event time (the bridge's receive time never reaches a
    rule: it is processing time, and a backlog would move every facility clock to it).

    - ``online`` may announce the device's reporting interval: silence is judged against it.
    - ``offline`` with the device's own time, at or after its last reading, is a planned
      retirement (a clean goodbye): not a silence, and the tracker is not judged silent until
      it reports again.
    - ``offline`` without a time of its own (or an older one: a will set when it connected) is
      the broker's last will: the connection was lost, so the tracker is silent from its last
      reading on. A tracker never heard from has nothing to place in event time."""
    status = item.status
    track = state.devices.setdefault(status.device_id, DeviceTrack())
    if status.reporting_interval_s is not None:
        track.announced_interval_s = status.reporting_interval_s
        track.interval_s = status.reporting_interval_s
    if status.state is not DeviceState.OFFLINE:
        track.retired = False
        return
    if status.ts is not None and (track.last_ts is None or status.ts >= track.last_ts):
        track.retired = True
        if state.booking is not None:
            _customs(state, out)  # the last tracker gone: a clearance no longer waits
        return
    since = track.last_ts
    if track.silent or track.retired or since is None:
        return
    track.silent, track.silent_since = True, since
    _flush_tamper(track, out)
    out.emit(
        TrackerSilent(device_id=status.device_id, last_seen=since, at=since, judged_by="last_will"),
        since,
        status.device_id,
        f"will:{since.isoformat()}",
    )
    if state.booking is not None:
        _customs(state, out)


def _remember(track: DeviceTrack, seq: int) -> None:
    """Keep the device's highest ``RECENT_SEQS`` sequence numbers, sorted, so what is
    remembered does not depend on the order readings arrived in."""
    bisect.insort(track.recent_seqs, seq)
    if len(track.recent_seqs) > RECENT_SEQS:
        del track.recent_seqs[0]


# --- bookings -----------------------------------------------------------------------------------


def _on_booking(state: ShipmentState, booking: ShipmentBooking, out: _Emitter) -> None:
    state.booking = booking
    _customs(state, out)


def _customs(state: ShipmentState, out: _Emitter) -> None:
    """Customs clearance, from the registry, once the shipment's event time has reached it.
    The registry is read ahead of a backlog of readings: applied on arrival, a clearance
    overtook the departure it followed, and the departure tranche was priced as goods in a
    warehouse (80 %) instead of in transit (60 %). While no tracker is left to report (all
    retired or silent), nothing will move event time on, so it applies at once."""
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
    _milestone(state, out, Milestone.CUSTOMS_CLEARED, cleared, None, None)
    _maybe_delivered(state, out)


# --- readings -----------------------------------------------------------------------------------


def _on_reading(
    state: ShipmentState,
    track: DeviceTrack,
    r: TrackerReading,
    out: _Emitter,
    rules: StreamRules,
    stored: bool = False,
) -> None:
    assert state.booking is not None
    r = _plausible_part(state, track, r, out)
    _quality(state, track, r, out, rules)
    late = state.last_ts is not None and r.ts < state.last_ts
    if late:
        state.late_readings += 1
    _device_health(state, track, r, out, rules, late or stored)
    fix = (r.gps.lat, r.gps.lon) if r.gps is not None and r.gps.fix.value != "none" else None
    motion.feed(track.motion, r.ts, r.shock_g, fix)
    if r.temperature_c is not None:
        state.mkt_sum += math.exp(-MKT_DH_OVER_R / (r.temperature_c + 273.15))
        state.mkt_n += 1
    if not late:
        state.last_ts = r.ts
        _customs(state, out)
        route = route_of(state.booking)
        if r.gps is not None and fix is not None:
            state.position = fix
            state.speed_kmh = (
                r.gps.speed_kmh
                if state.speed_kmh is None
                else (0.7 * state.speed_kmh + 0.3 * r.gps.speed_kmh)
            )
            _geofences(state, route, fix, r, out, rules, track.motion)
            _deviation(state, route, fix, r, out, rules)
            _eta(state, route, fix, r, out, rules)
    if fix is not None and (track.motion.fix_at is None or r.ts >= track.motion.fix_at):
        motion.restart(track.motion, r.ts, fix, r.shock_g)
    _alarms(state, track, r, out, rules, late)  # after the geofences: tamper depends on where
    _unloading(state, track, r, out, rules)
    _conditions(state, r, out, rules)


def _plausible_part(
    state: ShipmentState, track: DeviceTrack, r: TrackerReading, out: _Emitter
) -> TrackerReading:
    """The gate before the rules: report what no tracker could produce, and pass on only the
    rest of the reading (see :mod:`streams.plausibility`)."""
    last_fix = plausibility.Fix(*track.last_fix) if track.last_fix else None
    verdict = plausibility.assess(r, last_fix, track.last_temperature, _speed_limit_kmh(state))
    fix = plausibility.fix_of(r)
    if verdict.position_ok and fix is not None and (last_fix is None or r.ts >= last_fix.ts):
        track.last_fix = (fix.ts, fix.lat, fix.lon)
    newer = track.last_temperature is None or r.ts >= track.last_temperature[0]
    if verdict.temperature_ok and r.temperature_c is not None and newer:
        track.last_temperature = (r.ts, r.temperature_c)
    if verdict.plausible:
        return r
    out.emit(
        ReadingImplausible(
            device_id=r.device_id,
            seq=r.seq,
            at=r.ts,
            reasons=[reason[:120] for reason in verdict.reasons[:4]],
            evidence=_evidence([r]),
        ),
        r.ts,
        r.device_id,
        f"implausible:{r.seq}",
    )
    return plausibility.usable(r, verdict)


def _speed_limit_kmh(state: ShipmentState) -> float:
    """How fast the shipment may go between two fixes: the fastest mode of the leg it is on
    (the one after the last place it left), of the leg before it and of every leg after it.
    The leg before: a tracker's backlog, or a tracker another one has overtaken, may still
    report from it. Every leg after: a tracker without a fix through a port or an airport next
    reports from a later leg (a truck's last fix before the airport, the next one aloft)."""
    assert state.booking is not None
    since = max(max(state.departed, default=0) - 1, 0)
    return plausibility.speed_limit_kmh(leg.mode for leg in state.booking.legs[since:])


QUALITY_WINDOW = 20
AGREEMENT_WINDOW = timedelta(minutes=30)


def _quality(
    state: ShipmentState, track: DeviceTrack, r: TrackerReading, out: _Emitter, rules: StreamRules
) -> None:
    """Update the tracker's data-quality view with ``r`` (in its sequence order) and emit
    ``data_quality_changed`` when its grade moves. Poor: a clock ahead of real time, or a
    temperature that disagrees with another tracker of the shipment; degraded: GNSS fix in
    fewer than half of its last 20 readings (a container below deck, or a failing antenna)."""
    q = track.quality
    q.recent_fix.append(r.gps is not None and r.gps.fix.value != "none")
    del q.recent_fix[:-QUALITY_WINDOW]
    if track.last_ts is not None and r.ts > track.last_ts:
        q.max_gap_s = max(q.max_gap_s, int((r.ts - track.last_ts).total_seconds()))
    if r.light_lux is not None and r.light_lux > rules.light_tamper_lux:
        q.lit_at = r.ts if q.lit_at is None else max(q.lit_at, r.ts)
    if r.temperature_c is not None:
        q.last_temp = (r.ts, r.temperature_c)
        for device_id, other in state.devices.items():
            theirs = other.quality.last_temp
            if device_id == r.device_id or theirs is None:
                continue
            if _airing(q, r.ts) or _airing(other.quality, theirs[0]):
                continue
            if abs(theirs[0] - r.ts) <= AGREEMENT_WINDOW:
                gap = round(abs(theirs[1] - r.temperature_c), 2)
                for side in (q, other.quality):
                    side.disagreement_c = max(side.disagreement_c or 0.0, gap)
    reasons = []
    fix_ratio = sum(q.recent_fix) / len(q.recent_fix)
    if q.clock_ahead_s > rules.quality_max_clock_ahead_s:
        reasons.append(f"clock ahead by {q.clock_ahead_s} s")
    if (q.disagreement_c or 0.0) > rules.quality_max_disagreement_c:
        reasons.append(f"temperature disagrees with another tracker by {q.disagreement_c} C")
    grade = QualityGrade.POOR if reasons else QualityGrade.GOOD
    # Hysteresis: degraded below half, good again only from 70 %, so a tracker hovering round
    # the line in a port does not flap.
    floor = rules.quality_fix_ratio if q.grade is QualityGrade.GOOD else rules.quality_fix_recover
    if len(q.recent_fix) >= QUALITY_WINDOW and fix_ratio < floor:
        reasons.append(f"GNSS fix in {fix_ratio:.0%} of the last {QUALITY_WINDOW} readings")
        grade = QualityGrade.POOR if grade is QualityGrade.POOR else QualityGrade.DEGRADED
    if grade is q.grade:
        return
    previous, q.grade = q.grade, grade
    out.emit(
        DataQualityChanged(
            device_id=r.device_id,
            at=r.ts,
            grade=grade,
            previous=previous,
            reasons=reasons,
            fix_ratio=round(fix_ratio, 3),
            clock_ahead_s=q.clock_ahead_s,
            disagreement_c=q.disagreement_c,
        ),
        r.ts,
        r.device_id,
        r.seq,
    )


def _airing(q: DeviceQuality, ts: datetime) -> bool:
    """Whether the doors were open round ``ts`` for this tracker (light within half an hour):
    outside air mixes in unevenly, so two trackers of one container honestly disagree then."""
    return q.lit_at is not None and abs(ts - q.lit_at) <= AGREEMENT_WINDOW


def _device_health(
    state: ShipmentState,
    track: DeviceTrack,
    r: TrackerReading,
    out: _Emitter,
    rules: StreamRules,
    quiet: bool,
) -> None:
    """``quiet``: the reading is late or was held or stored, so it judges no sibling silent."""
    if track.last_ts is not None and r.ts > track.last_ts:
        _learn_interval(track, int((r.ts - track.last_ts).total_seconds()))
    track.retired = False  # reporting again
    if track.last_ts is None or r.ts > track.last_ts:
        track.last_ts = r.ts
    if track.silent:
        # Resumed once this tracker has caught up with the shipment's event time: flushing a
        # backlog of old readings is not yet being back.
        now = max(state.last_ts or r.ts, r.ts)
        allowed = timedelta(
            seconds=rules.silence_intervals * (track.interval_s or rules.default_interval_s)
        )
        if now - track.last_ts <= allowed:
            since = track.silent_since or track.last_ts
            track.silent = False
            out.emit(
                TrackerResumed(
                    device_id=r.device_id,
                    at=r.ts,
                    silent_s=max(0, int((r.ts - since).total_seconds())),
                ),
                r.ts,
                r.device_id,
                r.seq,
            )
    if quiet:
        return
    # Event-time silence: this reading moves event time on; any other tracker of the shipment
    # that has not reported for k of its intervals is silent.
    for device_id, other in state.devices.items():
        if device_id == r.device_id or other.silent or other.retired or other.last_ts is None:
            continue
        interval = other.interval_s or rules.default_interval_s
        limit = rules.silence_intervals * interval + rules.silence_lateness_s
        if r.ts - other.last_ts > timedelta(seconds=limit):
            other.silent, other.silent_since = True, other.last_ts
            _flush_tamper(other, out)
            out.emit(
                TrackerSilent(
                    device_id=device_id, last_seen=other.last_ts, at=r.ts, judged_by="event_time"
                ),
                r.ts,
                device_id,
                other.last_ts.isoformat(),
            )


GAP_WINDOW = 64
"""How many recent gaps the learned interval remembers."""
MAX_LEARNED_INTERVAL_S = 3600
"""A learned interval is capped: the gap a real outage leaves must not make every later
silence take hours to notice."""


def _learn_interval(track: DeviceTrack, gap: int) -> None:
    """Learn the interval from the gaps between readings: the longest of the recent ones
    (capped), unless the device announced one. The longest, because a device reports faster
    while an alarm lasts and slower again after it: the first normal gap after a long alarm
    burst may still be judged a silence, which the next reading resumes."""
    if gap <= 0:
        return
    track.recent_gaps.append(min(gap, MAX_LEARNED_INTERVAL_S))
    del track.recent_gaps[:-GAP_WINDOW]
    track.interval_s = track.announced_interval_s or max(track.recent_gaps)


def _ref(r: TrackerReading) -> ReadingRef:
    return ReadingRef(
        device_id=r.device_id,
        seq=r.seq,
        ts=r.ts,
        fix=r.gps.fix if r.gps else None,
        hdop=r.gps.hdop if r.gps else None,
    )


def _evidence(readings: list[TrackerReading], value: str | None = None) -> Evidence:
    values = [getattr(r, value) for r in readings if value and getattr(r, value) is not None]
    ordered = sorted(readings, key=lambda x: (x.ts, x.device_id, x.seq))
    return Evidence(
        readings=[_ref(x) for x in ordered],
        digest=digest(ordered),
        count=len(ordered),
        first_ts=ordered[0].ts if ordered else None,
        last_ts=ordered[-1].ts if ordered else None,
        minimum=min(values) if values else None,
        maximum=max(values) if values else None,
        mean=sum(values) / len(values) if values else None,
    )


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


def _alarms(
    state: ShipmentState,
    track: DeviceTrack,
    r: TrackerReading,
    out: _Emitter,
    rules: StreamRules,
    late: bool = False,
) -> None:
    assert state.booking is not None
    limit = state.booking.condition.shock_max_g or rules.default_shock_limit_g
    if r.shock_g is not None and r.shock_g > limit:
        out.emit(
            ShockDetected(
                device_id=r.device_id,
                at=r.ts,
                g=r.shock_g,
                limit_g=limit,
                evidence=_evidence([r], "shock_g"),
            ),
            r.ts,
            r.device_id,
            r.seq,
        )
    # Light before departure or inside a planned stop's geofence is a door opened for loading,
    # handling or inspection; light anywhere else, or the tracker's own tamper flag, is tampering.
    # Each reading is judged where and when it was taken, not by the shipment's state when it
    # arrived: a loading-dock reading flushed after another tracker saw the departure was still
    # taken at the dock.
    lit = r.light_lux is not None and r.light_lux > rules.light_tamper_lux
    departed = state.departed_origin_at
    loading = departed is None or r.ts < departed  # still at the origin, being packed
    opened = r.tamper or (lit and not loading and not _at_a_stop(state, r, late))
    pending = track.tamper_pending
    if pending is not None:  # the reading after an opening says whether it was one
        _tamper(out, pending, [pending, r] if opened else [pending])
        track.tamper_pending = None
    elif opened and not track.tamper_open:
        track.tamper_pending = r
    track.tamper_open = opened
    if r.battery_pct is not None:
        if r.battery_pct < rules.battery_low_pct and not track.battery_low:
            track.battery_low = True
            out.emit(
                BatteryLow(device_id=r.device_id, at=r.ts, battery_pct=r.battery_pct),
                r.ts,
                r.device_id,
                r.seq,
            )
        elif r.battery_pct >= rules.battery_ok_pct:
            track.battery_low = False


def _tamper(out: _Emitter, opening: TrackerReading, readings: list[TrackerReading]) -> None:
    """Report an opening once the tracker's next reading has said whether it lasted: still
    open (or the tamper switch still set), the report cites both readings, and no single
    reading (a glint of light, a glitch) becomes a confirmed tamper alone; closed again, it
    cites the opening only, and the claim it may raise waits for review. The report keeps
    the opening's time and id."""
    out.emit(
        TamperDetected(
            device_id=opening.device_id,
            at=opening.ts,
            light_lux=opening.light_lux,
            evidence=_evidence(readings, "light_lux"),
        ),
        opening.ts,
        opening.device_id,
        opening.seq,
    )


def _flush_tamper(track: DeviceTrack, out: _Emitter) -> None:
    """A tracker that goes silent right after an opening (destroyed, or its battery gone)
    never confirms it: report the opening as it stands."""
    if track.tamper_pending is not None:
        _tamper(out, track.tamper_pending, [track.tamper_pending])
        track.tamper_pending = None


# --- milestones ---------------------------------------------------------------------------------


def _milestone(
    state: ShipmentState,
    out: _Emitter,
    milestone: Milestone,
    at: datetime,
    place: int | None,
    dwell_s: int | None,
    evidence: Evidence | None = None,
) -> None:
    """``evidence``: the reading that crossed the geofence, so a delay trigger's data-quality
    gate can see what proved the arrival (absent for customs, which comes from the registry)."""
    assert state.booking is not None
    route_places = [state.booking.legs[0].origin, *(leg.destination for leg in state.booking.legs)]
    locode = route_places[place].locode if place is not None else None
    in_spec = (
        not any(e.started for e in state.consecutive.values())
        and not any(e.started for e in state.cumulative.values())
        and not any(
            t.tamper_open or t.silent or t.quality.grade is QualityGrade.POOR
            for t in state.devices.values()
        )
    )
    out.emit(
        MilestoneReached(
            milestone=milestone,
            at=at,
            place=locode,
            leg_index=None if place is None else max(0, place - 1),
            status=state.status,
            dwell_s=dwell_s,
            in_spec=in_spec,
            evidence=evidence,
        ),
        at,
        milestone.value,
        -1 if place is None else place,
    )


def _geofences(
    state: ShipmentState,
    route: Route,
    p: tuple[float, float],
    r: TrackerReading,
    out: _Emitter,
    rules: StreamRules,
    seen: motion.Motion,
) -> None:
    """Departures and arrivals proved by the fix ``p`` of ``r``, timed by what the tracker
    felt since its previous fix (:mod:`streams.motion`) when it was blind in between."""
    # A fix inside a place counts as arriving there only when the goods are slow enough to be
    # stopping: a truck passing a warehouse at 45 km/h on its way elsewhere has not arrived.
    settled = r.gps is None or r.gps.speed_kmh <= rules.arrival_speed_kmh
    left: datetime | None = None
    if state.at_place is not None:
        if _still_there(state, route, p, rules, settled):
            return
        left = _leave(state, route, r, out, rules, seen)
    for index, place in enumerate(route.places):
        if distance_km(p, (place.lat, place.lon)) > place.radius_km:
            continue
        if index == 0 and state.departed_origin_at is None:
            state.at_place, state.arrived_at = 0, r.ts
            return
        if index in state.entered or index == 0 or not settled:
            continue
        _enter(state, route, index, r, out, motion.reached_at(seen, r.ts, left), left)
        return
    if state.departed_origin_at is None and state.at_place is None:
        _departed_origin(state, r.ts, out, _evidence([r]))  # first seen already away


def _still_there(
    state: ShipmentState, route: Route, p: tuple[float, float], rules: StreamRules, settled: bool
) -> bool:
    """Whether the fix ``p`` keeps the goods at their current place. Leaving needs 1.5 x its
    radius, unless the fix is already inside a next place of the route (a port's distribution
    centre, inside the port's hysteresis ring: leaving needs no detour). When the fix lies
    inside both, the tighter geofence says where it is: a factory inside its export port's
    geofence is still being loaded while its fixes stay at the factory, and a warehouse
    inside its import port's is reached when they are there."""
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
    return away <= place.radius_km * rules.geofence_exit_factor and not onward


def _leave(
    state: ShipmentState,
    route: Route,
    r: TrackerReading,
    out: _Emitter,
    rules: StreamRules,
    seen: motion.Motion,
) -> datetime:
    """The goods left their current place: the departure milestone (once per place), timed
    when they started moving (:func:`_left`). Returns that time."""
    assert state.at_place is not None
    index, arrived = state.at_place, state.arrived_at
    state.at_place, state.arrived_at = None, None
    left = _left(seen, route.places[index], rules, r.ts, arrived)
    if index in state.departed:
        return left
    state.departed.append(index)
    if index == 0:
        _departed_origin(state, left, out, _evidence([r]))
    elif index < len(route.places) - 1:
        state.status = ShipmentStatus.IN_TRANSIT
        dwell = int((left - arrived).total_seconds()) if arrived else None
        _milestone(state, out, Milestone.DEPARTED_TRANSSHIPMENT, left, index, dwell, _evidence([r]))
    return left


def _enter(
    state: ShipmentState,
    route: Route,
    index: int,
    r: TrackerReading,
    out: _Emitter,
    reached: datetime,
    left: datetime | None,
) -> None:
    """The goods reached place ``index`` (not the origin) at ``reached``."""
    place = route.places[index]
    state.entered.append(index)
    state.at_place, state.arrived_at = index, reached
    if state.departed_origin_at is None:
        _departed_origin(state, left or reached, out, _evidence([r]))
    if index == len(route.places) - 1:
        _arrived_destination(state, out, place, index, reached, _evidence([r]))
        return
    bonded = place.kind in (PlaceKind.BONDED_ZONE, PlaceKind.WAREHOUSE)
    state.status = ShipmentStatus.IN_BONDED_WAREHOUSE if bonded else ShipmentStatus.AT_TRANSSHIPMENT
    milestone = Milestone.ENTERED_BONDED_WAREHOUSE if bonded else Milestone.ARRIVED_TRANSSHIPMENT
    _milestone(state, out, milestone, reached, index, None, _evidence([r]))


def _left(
    seen: motion.Motion,
    place: Place,
    rules: StreamRules,
    ts: datetime,
    arrived: datetime | None,
) -> datetime:
    """When the goods left ``place``, which the fix at ``ts`` shows them away from: when they
    started moving after the tracker's last fix there, if it was blind since."""
    there = seen.fix_pos is not None and (
        distance_km(seen.fix_pos, (place.lat, place.lon))
        <= place.radius_km * rules.geofence_exit_factor
    )
    left = motion.left_at(seen, there, ts)
    return max(left, arrived) if arrived is not None else left


def _arrived_destination(
    state: ShipmentState,
    out: _Emitter,
    place: Place,
    index: int,
    at: datetime,
    evidence: Evidence,
) -> None:
    """Arrival is not delivery: the goods are handed over once unloaded (:func:`_unloading`)."""
    state.status = ShipmentStatus.ARRIVED
    state.milestones[Milestone.ARRIVED_DESTINATION] = at
    _milestone(state, out, Milestone.ARRIVED_DESTINATION, at, index, None, evidence)
    if place.kind is PlaceKind.BONDED_ZONE:
        state.status = ShipmentStatus.IN_BONDED_WAREHOUSE
        _milestone(state, out, Milestone.ENTERED_BONDED_WAREHOUSE, at, index, None, evidence)


def _unloading(
    state: ShipmentState, track: DeviceTrack, r: TrackerReading, out: _Emitter, rules: StreamRules
) -> None:
    """The hand-over at the destination: its doors open to unload (light) and close again
    behind the goods. A tracker's light is the peak of its interval, so the doors closed by
    its last lit reading, which the next dark one confirms. A tracker that sees no light there
    for ``unloading_timeout_minutes`` counts the goods delivered when that time is up."""
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
        _maybe_delivered(state, out)


def _departed_origin(
    state: ShipmentState, ts: datetime, out: _Emitter, evidence: Evidence | None = None
) -> None:
    state.departed_origin_at = ts
    state.milestones[Milestone.DEPARTED_ORIGIN] = ts
    state.status = ShipmentStatus.IN_TRANSIT
    if 0 not in state.departed:
        state.departed.append(0)
    _milestone(state, out, Milestone.DEPARTED_ORIGIN, ts, 0, None, evidence)


def _maybe_delivered(state: ShipmentState, out: _Emitter) -> None:
    """Delivered once the goods are unloaded at their destination and cleared customs (either
    order)."""
    unloaded = state.unloaded_at
    cleared = state.milestones.get(Milestone.CUSTOMS_CLEARED)
    if unloaded is None or cleared is None or Milestone.DELIVERED in state.milestones:
        return
    at = max(unloaded, cleared)
    state.milestones[Milestone.DELIVERED] = at
    state.status = ShipmentStatus.DELIVERED
    _close_cumulative(state, out, at)
    _milestone(
        state,
        out,
        Milestone.DELIVERED,
        at,
        len(route_of(state.booking).places) - 1 if state.booking else None,
        None,
    )


# --- route deviation and ETA --------------------------------------------------------------------


def _active_legs(state: ShipmentState, route: Route) -> tuple[int, ...]:
    """The legs the goods can be on: the one after the last place they left, and the next (a
    stop passed without a fix inside it). Measured against the whole route, a theft stop
    39 km off its road leg lay 11 km from the sea leg, inside the sea's 150 km corridor."""
    last = len(route.legs_points) - 1
    current = min(max(state.departed, default=0), last)
    return (current, min(current + 1, last))


def _deviation(
    state: ShipmentState,
    route: Route,
    p: tuple[float, float],
    r: TrackerReading,
    out: _Emitter,
    rules: StreamRules,
) -> None:
    ts = r.ts
    distance, leg = route.corridor_km(p, _active_legs(state, route))
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
            out.emit(
                DeviationStarted(
                    at=ts,
                    distance_km=distance,
                    limit_km=limit,
                    evidence=_evidence(state.deviation_readings),
                ),
                ts,
                state.deviation_since.isoformat(),
            )
        return
    if state.deviation_open and state.deviation_since is not None:
        out.emit(
            DeviationEnded(
                started_at=state.deviation_since,
                ended_at=ts,
                max_distance_km=state.deviation_max_km,
                evidence=_evidence(state.deviation_readings),
            ),
            ts,
            state.deviation_since.isoformat(),
        )
    state.deviation_since, state.deviation_open, state.deviation_max_km = None, False, 0.0
    state.deviation_readings = []


def _eta(
    state: ShipmentState,
    route: Route,
    p: tuple[float, float],
    r: TrackerReading,
    out: _Emitter,
    rules: StreamRules,
) -> None:
    assert state.booking is not None
    if (
        state.status
        in (ShipmentStatus.ARRIVED, ShipmentStatus.IN_BONDED_WAREHOUSE, ShipmentStatus.DELIVERED)
        or state.departed_origin_at is None
    ):
        return
    # Waiting at a place between two legs: the next leg leaves as planned (or now, if late)
    # and takes its planned time. Under way: the rest of the leg at the leg's planned speed,
    # never a leg already left behind — at a port the nearest leg flips with GPS noise between
    # the one that ended and the one to come, and each flip moved the estimate by the planned
    # wait. Then every later leg as planned, with the planned waits between legs. The planned
    # speed, not the GPS speed: a ship crawling out of port at 6 knots predicted weeks of
    # delay, and a delay, once predicted, is not taken back. Lateness shows anyway, as time
    # spent waiting or moving beyond the plan.
    legs = state.booking.legs
    if state.at_place is not None and 0 < state.at_place < len(legs):
        leg = state.at_place
        eta = max(r.ts, legs[leg].planned_departure) + (
            legs[leg].planned_arrival - legs[leg].planned_departure
        )
    else:
        _, leg = route.corridor_km(p)
        leg = max([leg, *state.departed])
        planned_h = (legs[leg].planned_arrival - legs[leg].planned_departure).total_seconds() / 3600
        leg_km = route.leg_km(leg)
        speed = leg_km / planned_h if planned_h > 0 and leg_km > 0 else 0.0
        speed = speed or rules.default_speed_kmh[route.modes[leg]]
        eta = r.ts + timedelta(hours=route.remaining_in_leg_km(p, leg) / speed)
    for previous_leg, next_leg in zip(legs[leg:], legs[leg + 1 :], strict=False):
        eta += next_leg.planned_departure - previous_leg.planned_arrival
        eta += next_leg.planned_arrival - next_leg.planned_departure
    planned = state.booking.legs[-1].planned_arrival
    previous = state.eta
    if previous is None or abs(eta - previous) > timedelta(hours=rules.eta_change_hours):
        state.eta = eta
        out.emit(
            EtaChanged(at=r.ts, eta=eta, previous_eta=previous, planned_arrival=planned),
            r.ts,
            r.device_id,
            r.seq,
        )
    delay_h = (eta - planned).total_seconds() / 3600
    steps = int(delay_h // rules.delay_hours) if delay_h > 0 else 0
    if steps > state.delay_steps:
        state.delay_steps = steps
        out.emit(
            DelayPredicted(at=r.ts, eta=eta, planned_arrival=planned, delay_h=round(delay_h, 2)),
            r.ts,
            steps,
        )


# --- condition breaches -------------------------------------------------------------------------


def _band(state: ShipmentState, r: TrackerReading) -> list[tuple[BreachKind, float, float]]:
    """(breach kind, value, limit) for every bound this reading can be checked against."""
    assert state.booking is not None
    c = state.booking.condition
    checks: list[tuple[BreachKind, float, float]] = []
    if r.temperature_c is not None:
        if c.temp_max_c is not None:
            checks.append((BreachKind.TEMPERATURE_HIGH, r.temperature_c, c.temp_max_c))
        if c.temp_min_c is not None:
            checks.append((BreachKind.TEMPERATURE_LOW, r.temperature_c, c.temp_min_c))
    if r.humidity_pct is not None and c.humidity_max_pct is not None:
        checks.append((BreachKind.HUMIDITY_HIGH, r.humidity_pct, c.humidity_max_pct))
    return checks


def _outside(kind: BreachKind, value: float, limit: float) -> bool:
    return value < limit if kind is BreachKind.TEMPERATURE_LOW else value > limit


def _field(kind: BreachKind) -> str:
    return "humidity_pct" if kind is BreachKind.HUMIDITY_HIGH else "temperature_c"


def _conditions(state: ShipmentState, r: TrackerReading, out: _Emitter, rules: StreamRules) -> None:
    departed = state.departed_origin_at
    if departed is None or r.ts < departed + timedelta(minutes=rules.grace_after_departure_minutes):
        return
    if Milestone.DELIVERED in state.milestones:
        return
    for kind, value, limit in _band(state, r):
        outside = _outside(kind, value, limit)
        key = f"{kind.value}/{r.device_id}"
        _consecutive(
            state.consecutive.setdefault(key, Excursion(breach=kind, device_id=r.device_id)),
            r,
            value,
            limit,
            outside,
            out,
            rules,
            state.mkt(),
        )
        _cumulative(
            state.cumulative.setdefault(key, Excursion(breach=kind, device_id=r.device_id)),
            r,
            value,
            limit,
            outside,
            out,
            rules,
        )


def _cause(ex: Excursion, rule: str, *rest: str) -> tuple[str, ...]:
    """An excursion event's cause: its breach kind, rule, tracker and the rule's own parts
    (the tracker is left out for a state kept before excursions were per tracker, so its
    events keep their ids)."""
    own = () if ex.device_id is None else (ex.device_id,)
    return (ex.breach.value, rule, *own, *rest)


def _keep(ex: Excursion, r: TrackerReading, rules: StreamRules) -> None:
    if len(ex.readings) < rules.evidence_max_readings:
        ex.readings.append(r)


def _consecutive(
    ex: Excursion,
    r: TrackerReading,
    value: float,
    limit: float,
    outside: bool,
    out: _Emitter,
    rules: StreamRules,
    mkt: float | None,
) -> None:
    pick = min if ex.breach is BreachKind.TEMPERATURE_LOW else max
    if outside:
        if not ex.out:
            ex.out, ex.since, ex.last_ts, ex.peak, ex.readings, ex.started, ex.steps = (
                True,
                r.ts,
                r.ts,
                value,
                [],
                False,
                0,
            )
        assert ex.since is not None
        ex.peak = pick(ex.peak if ex.peak is not None else value, value)
        ex.last_ts = max(ex.last_ts or r.ts, r.ts)
        _keep(ex, r, rules)
        duration = int((ex.last_ts - ex.since).total_seconds())
        ex.duration_s = duration
        since = ex.since.isoformat()
        if not ex.started and duration >= rules.consecutive_minutes * 60:
            ex.started = True
            out.emit(
                BreachStarted(
                    breach=ex.breach,
                    rule=BreachRule.CONSECUTIVE,
                    limit=limit,
                    minutes=rules.consecutive_minutes,
                    started_at=ex.since,
                    value=value,
                ),
                r.ts,
                *_cause(ex, "consecutive", since),
            )
        _progress(ex, BreachRule.CONSECUTIVE, r.ts, duration, out, rules, since)
        return
    if ex.out and ex.since is not None:
        if ex.started:
            duration = int((r.ts - ex.since).total_seconds())
            out.emit(
                BreachEnded(
                    breach=ex.breach,
                    rule=BreachRule.CONSECUTIVE,
                    started_at=ex.since,
                    ended_at=r.ts,
                    duration_s=max(0, duration),
                    peak=ex.peak if ex.peak is not None else value,
                    mean_kinetic_temperature_c=mkt,
                    evidence=_evidence(ex.readings, _field(ex.breach)),
                ),
                r.ts,
                *_cause(ex, "consecutive", ex.since.isoformat()),
            )
        ex.out, ex.since, ex.readings, ex.started, ex.steps, ex.peak = (
            False,
            None,
            [],
            False,
            0,
            None,
        )


def _cumulative(
    ex: Excursion,
    r: TrackerReading,
    value: float,
    limit: float,
    outside: bool,
    out: _Emitter,
    rules: StreamRules,
) -> None:
    pick = min if ex.breach is BreachKind.TEMPERATURE_LOW else max
    if ex.last_ts is not None and ex.out and r.ts > ex.last_ts:
        gap = min((r.ts - ex.last_ts).total_seconds(), rules.max_gap_minutes * 60)
        ex.duration_s += gap
    if ex.last_ts is None or r.ts > ex.last_ts:
        ex.last_ts = r.ts
    ex.out = outside
    if not outside:
        return
    if ex.since is None:
        ex.since = r.ts
    ex.peak = pick(ex.peak if ex.peak is not None else value, value)
    _keep(ex, r, rules)
    duration = int(ex.duration_s)
    if not ex.started and duration >= rules.cumulative_minutes * 60:
        ex.started = True
        out.emit(
            BreachStarted(
                breach=ex.breach,
                rule=BreachRule.CUMULATIVE,
                limit=limit,
                minutes=rules.cumulative_minutes,
                started_at=ex.since,
                value=value,
            ),
            r.ts,
            *_cause(ex, "cumulative"),
        )
    _progress(ex, BreachRule.CUMULATIVE, r.ts, duration, out, rules)


def _progress(
    ex: Excursion,
    rule: BreachRule,
    at: datetime,
    duration: int,
    out: _Emitter,
    rules: StreamRules,
    *cause: str,
) -> None:
    """BreachProgress each time a started breach's duration crosses another mark."""
    steps = progress_mark(duration, rules)
    if not ex.started or steps <= ex.steps or ex.since is None or ex.peak is None:
        return
    ex.steps = steps
    out.emit(
        BreachProgress(
            breach=ex.breach,
            rule=rule,
            started_at=ex.since,
            at=at,
            duration_s=duration,
            peak=ex.peak,
            evidence=_evidence(ex.readings, _field(ex.breach)),
        ),
        at,
        *_cause(ex, rule.value, *cause),
        steps,
    )


def progress_mark(duration_s: int, rules: StreamRules = DEFAULT_RULES) -> int:
    """How many progress marks a breach of ``duration_s`` has crossed. Marks come every
    ``progress_step_minutes`` (15) up to ``progress_fine_hours`` (6 h), hourly up to a day,
    then every ``progress_coarse_hours`` (6 h): tiered triggers see the first hours finely,
    and a reefer dead for weeks emits a few events a day, not one per quarter-hour (each
    carries its evidence, and thousands of them were what held a worker back)."""
    step = rules.progress_step_minutes * 60
    fine = rules.progress_fine_hours * 3600
    day = 24 * 3600
    if duration_s < fine:
        return duration_s // step
    fine_marks = fine // step
    if duration_s < day:
        return fine_marks + (duration_s - fine) // 3600
    hourly_marks = (day - fine) // 3600
    return fine_marks + hourly_marks + (duration_s - day) // (rules.progress_coarse_hours * 3600)


def _close_cumulative(state: ShipmentState, out: _Emitter, at: datetime) -> None:
    for ex in state.cumulative.values():
        if ex.started and ex.since is not None:
            out.emit(
                BreachEnded(
                    breach=ex.breach,
                    rule=BreachRule.CUMULATIVE,
                    started_at=ex.since,
                    ended_at=at,
                    duration_s=int(ex.duration_s),
                    peak=ex.peak if ex.peak is not None else 0.0,
                    mean_kinetic_temperature_c=state.mkt(),
                    evidence=_evidence(ex.readings, _field(ex.breach)),
                ),
                at,
                *_cause(ex, "cumulative", "end"),
            )
