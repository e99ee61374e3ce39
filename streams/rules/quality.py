"""The gate before the rules (plausibility) and each tracker's data-quality grade.

Poor: a clock ahead of real time, or a temperature that disagrees with another tracker of the
shipment; degraded: a GNSS fix in too few of its recent readings. Engines look at the grade
before they trust a trigger built on a tracker's readings.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from streams import plausibility
from streams.rules.context import StepContext
from streams.rules.evidence import evidence
from streams.state import DeviceQuality, DeviceTrack, ShipmentState
from tradelane.contracts import (
    DataQualityChanged,
    QualityGrade,
    ReadingImplausible,
    TrackerReading,
)

QUALITY_WINDOW = 20
AGREEMENT_WINDOW = timedelta(minutes=30)


def plausible_part(ctx: StepContext, track: DeviceTrack, r: TrackerReading) -> TrackerReading:
    """The gate before the rules: report what no tracker could produce, and pass on only the
    rest of the reading (see :mod:`streams.plausibility`)."""
    last_fix = plausibility.Fix(*track.last_fix) if track.last_fix else None
    verdict = plausibility.assess(r, last_fix, track.last_temperature, speed_limit_kmh(ctx.state))
    fix = plausibility.fix_of(r)
    if verdict.position_ok and fix is not None and (last_fix is None or r.ts >= last_fix.ts):
        track.last_fix = (fix.ts, fix.lat, fix.lon)
    newer = track.last_temperature is None or r.ts >= track.last_temperature[0]
    if verdict.temperature_ok and r.temperature_c is not None and newer:
        track.last_temperature = (r.ts, r.temperature_c)
    if verdict.plausible:
        return r
    ctx.emit(
        ReadingImplausible(
            device_id=r.device_id,
            seq=r.seq,
            at=r.ts,
            reasons=[reason[:120] for reason in verdict.reasons[:4]],
            evidence=evidence([r]),
        ),
        r.ts,
        r.device_id,
        f"implausible:{r.seq}",
    )
    return plausibility.usable(r, verdict)


def speed_limit_kmh(state: ShipmentState) -> float:
    """How fast the shipment may go between two fixes: the fastest mode of the leg it is on
    (the one after the last place it left), of the leg before it and of every leg after it.
    The leg before: a tracker's backlog, or a tracker another one has overtaken, may still
    report from it. Every leg after: a tracker without a fix through a port or an airport next
    reports from a later leg (a truck's last fix before the airport, the next one aloft)."""
    assert state.booking is not None
    since = max(max(state.departed, default=0) - 1, 0)
    return plausibility.speed_limit_kmh(leg.mode for leg in state.booking.legs[since:])


def quality(ctx: StepContext, track: DeviceTrack, r: TrackerReading) -> None:
    """Update the tracker's data-quality view with ``r`` (in its sequence order) and emit
    ``data_quality_changed`` when its grade moves. Poor: a clock ahead of real time, or a
    temperature that disagrees with another tracker of the shipment; degraded: GNSS fix in
    fewer than half of its last 20 readings (a container below deck, or a failing antenna)."""
    rules, q = ctx.rules, track.quality
    q.recent_fix.append(r.gps is not None and r.gps.fix.value != "none")
    del q.recent_fix[:-QUALITY_WINDOW]
    if track.last_ts is not None and r.ts > track.last_ts:
        q.max_gap_s = max(q.max_gap_s, int((r.ts - track.last_ts).total_seconds()))
    if r.light_lux is not None and r.light_lux > rules.light_tamper_lux:
        q.lit_at = r.ts if q.lit_at is None else max(q.lit_at, r.ts)
    if r.temperature_c is not None:
        _agreement(ctx.state, q, r, r.temperature_c)
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
    ctx.emit(
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


def _agreement(state: ShipmentState, q: DeviceQuality, r: TrackerReading, temp: float) -> None:
    """Record ``r``'s temperature and the largest gap to another tracker's within half an
    hour, on both sides, unless either tracker's doors were open then."""
    q.last_temp = (r.ts, temp)
    for device_id, other in state.devices.items():
        theirs = other.quality.last_temp
        if device_id == r.device_id or theirs is None:
            continue
        if _airing(q, r.ts) or _airing(other.quality, theirs[0]):
            continue
        if abs(theirs[0] - r.ts) <= AGREEMENT_WINDOW:
            gap = round(abs(theirs[1] - temp), 2)
            for side in (q, other.quality):
                side.disagreement_c = max(side.disagreement_c or 0.0, gap)


def _airing(q: DeviceQuality, ts: datetime) -> bool:
    """Whether the doors were open round ``ts`` for this tracker (light within half an hour):
    outside air mixes in unevenly, so two trackers of one container honestly disagree then."""
    return q.lit_at is not None and abs(ts - q.lit_at) <= AGREEMENT_WINDOW
