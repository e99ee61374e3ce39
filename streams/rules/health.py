"""A tracker's health: silence (judged in event time, or by the broker's last will),
resumption, its reporting interval, and its battery."""

from __future__ import annotations

from datetime import timedelta

from streams.rules.alarms import flush_opening
from streams.rules.context import StepContext
from streams.state import DeviceTrack
from tradelane.contracts import (
    BatteryLow,
    DeviceState,
    DeviceStatus,
    TrackerReading,
    TrackerResumed,
    TrackerSilent,
)

GAP_WINDOW = 64
"""How many recent gaps the learned interval remembers."""
MAX_LEARNED_INTERVAL_S = 3600
"""A learned interval is capped: the gap a real outage leaves must not make every later
silence take hours to notice."""


def on_status(ctx: StepContext, status: DeviceStatus) -> bool:
    """A device's status, placed in event time (the bridge's receive time never reaches a
    rule: it is processing time, and a backlog would move every facility clock to it).
    Returns whether the tracker stopped reporting (a customs clearance may no longer wait).

    - ``online`` may announce the device's reporting interval: silence is judged against it.
    - ``offline`` with the device's own time, at or after its last reading, is a planned
      retirement (a clean goodbye): not a silence, and the tracker is not judged silent until
      it reports again.
    - ``offline`` without a time of its own (or an older one: a will set when it connected) is
      the broker's last will: the connection was lost, so the tracker is silent from its last
      reading on. A tracker never heard from has nothing to place in event time."""
    track = ctx.state.devices.setdefault(status.device_id, DeviceTrack())
    if status.reporting_interval_s is not None:
        track.announced_interval_s = status.reporting_interval_s
        track.interval_s = status.reporting_interval_s
    if status.state is not DeviceState.OFFLINE:
        track.retired = False
        return False
    if status.ts is not None and (track.last_ts is None or status.ts >= track.last_ts):
        track.retired = True
        return True
    since = track.last_ts
    if track.silent or track.retired or since is None:
        return False
    track.silent, track.silent_since = True, since
    flush_opening(ctx, track)
    ctx.emit(
        TrackerSilent(device_id=status.device_id, last_seen=since, at=since, judged_by="last_will"),
        since,
        status.device_id,
        f"will:{since.isoformat()}",
    )
    return True


def device_health(ctx: StepContext, track: DeviceTrack, r: TrackerReading, quiet: bool) -> None:
    """``r`` from ``track``: its interval, its resumption if it was silent, and (unless
    ``quiet``: the reading is late or was held or stored) the silence of its siblings."""
    if track.last_ts is not None and r.ts > track.last_ts:
        _learn_interval(track, int((r.ts - track.last_ts).total_seconds()))
    track.retired = False  # reporting again
    if track.last_ts is None or r.ts > track.last_ts:
        track.last_ts = r.ts
    if track.silent:
        _resumed(ctx, track, r)
    if not quiet:
        _silences(ctx, r)


def _resumed(ctx: StepContext, track: DeviceTrack, r: TrackerReading) -> None:
    """Resumed once this tracker has caught up with the shipment's event time: flushing a
    backlog of old readings is not yet being back."""
    assert track.last_ts is not None
    rules = ctx.rules
    now = max(ctx.state.last_ts or r.ts, r.ts)
    allowed = timedelta(
        seconds=rules.silence_intervals * (track.interval_s or rules.default_interval_s)
    )
    if now - track.last_ts <= allowed:
        since = track.silent_since or track.last_ts
        track.silent = False
        ctx.emit(
            TrackerResumed(
                device_id=r.device_id,
                at=r.ts,
                silent_s=max(0, int((r.ts - since).total_seconds())),
            ),
            r.ts,
            r.device_id,
            r.seq,
        )


def _silences(ctx: StepContext, r: TrackerReading) -> None:
    """Event-time silence: ``r`` moves event time on; any other tracker of the shipment that
    has not reported for k of its intervals is silent."""
    rules = ctx.rules
    for device_id, other in ctx.state.devices.items():
        if device_id == r.device_id or other.silent or other.retired or other.last_ts is None:
            continue
        interval = other.interval_s or rules.default_interval_s
        limit = rules.silence_intervals * interval + rules.silence_lateness_s
        if r.ts - other.last_ts > timedelta(seconds=limit):
            other.silent, other.silent_since = True, other.last_ts
            flush_opening(ctx, other)
            ctx.emit(
                TrackerSilent(
                    device_id=device_id, last_seen=other.last_ts, at=r.ts, judged_by="event_time"
                ),
                r.ts,
                device_id,
                other.last_ts.isoformat(),
            )


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


def battery(ctx: StepContext, track: DeviceTrack, r: TrackerReading) -> None:
    """Battery low once below ``battery_low_pct``, reported once until it is back at
    ``battery_ok_pct`` (hysteresis: a battery hovering at the line does not flap)."""
    if r.battery_pct is None:
        return
    if r.battery_pct < ctx.rules.battery_low_pct and not track.battery_low:
        track.battery_low = True
        ctx.emit(
            BatteryLow(device_id=r.device_id, at=r.ts, battery_pct=r.battery_pct),
            r.ts,
            r.device_id,
            r.seq,
        )
    elif r.battery_pct >= ctx.rules.battery_ok_pct:
        track.battery_low = False
