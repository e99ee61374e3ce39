"""When did the goods really leave or reach a place the receiver could not see?

A geofence crossing is proved by a fix, but a container loaded below deck or onto an aircraft
loses the sky at the quay and sees it again at the next port, hours or days later; a truck
arriving at a port may sit under a crane for hours before the next fix. Timing such a
departure or arrival by the fix that proves it would report an air departure 13 hours late.

What the tracker did measure in between is its vibration: every reading carries the peak
acceleration of its interval (``shock_g``). A container at rest reads almost nothing; a truck,
a vessel's engines or an aircraft shake it. So for each tracker this module follows the
readings since its last fix and keeps two instants:

- ``moving_from``: the first of the first two consecutive moving readings since that fix (a
  lone jolt, a forklift or a crane, is handling, not a departure);
- ``still_from``: the first reading of the current run at rest (one jolt inside the run is
  handling and does not end it; two consecutive moving readings do).

When a fix then proves a departure from the place of the last fix, the goods left at
``moving_from``; when it proves an arrival, they arrived at ``still_from``. A departure the
fixes followed all the way (a truck leaving a port whose geofence is 15 km wide is proved only
by its first fix beyond) is timed by ``run_from``, where the current movement began, fixes or
not. From a tracker that reports no vibration, the fix's own time stands.

Pure state and functions; the state lives in each tracker's :class:`~streams.state.DeviceTrack`.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

MOTION_G = 0.11
"""Peak acceleration above which an interval counts as moving. A container at rest in a
warehouse or a stack reads under 0.1 g; road transport 0.3-1.2 g, an aircraft 0.2-0.8 g and a
vessel's engines about 0.15 g (one reading in five at sea falls below this, which is why two
consecutive readings decide)."""


class Motion(BaseModel):
    """A tracker's readings since its last fix, reduced to what timing a crossing needs."""

    fix_at: datetime | None = None
    fix_pos: tuple[float, float] | None = None
    unseen: int = 0
    """Readings without a fix since ``fix_at``."""
    blind: bool = False
    """A reading since the fix carried no vibration: the instants below cannot be trusted."""
    moving_from: datetime | None = None
    high_at: datetime | None = None
    """A moving reading whose successor has not yet said whether it began a movement."""
    still_from: datetime | None = None
    high_before: bool = False
    """The previous reading was moving (a second one in a row ends a run at rest)."""
    run_from: datetime | None = None
    """Where the current movement began, fixes or not: the first of two consecutive moving
    readings, kept through one reading at rest (a red light, a lock) and forgotten after two."""
    run_high_at: datetime | None = None
    rests: int = 0


def moving(g: float) -> bool:
    return g > MOTION_G


def feed(m: Motion, ts: datetime, g: float | None, fix: tuple[float, float] | None) -> None:
    """Account for one reading of the tracker, in its own order. A reading with a fix is fed
    before the crossing it proves is timed, and :func:`restart` is called after."""
    if fix is None:
        m.unseen += 1
    if g is None:
        m.blind = True
        return
    _run(m, ts, g)
    if moving(g):
        if m.moving_from is None:
            if m.high_at is not None:
                m.moving_from = m.high_at
            else:
                m.high_at = ts
        if m.high_before:
            m.still_from = None
        m.high_before = True
        return
    m.high_at = None if m.moving_from is None else m.high_at
    m.high_before = False
    if m.still_from is None:
        m.still_from = ts


def _run(m: Motion, ts: datetime, g: float) -> None:
    if moving(g):
        m.rests = 0
        if m.run_from is None:
            if m.run_high_at is not None:
                m.run_from = m.run_high_at
            else:
                m.run_high_at = ts
        return
    m.rests += 1
    m.run_high_at = None
    if m.rests >= 2:
        m.run_from = None


def restart(m: Motion, ts: datetime, pos: tuple[float, float], g: float | None) -> None:
    """A fix at ``pos``: the readings before it no longer matter; this one starts anew."""
    m.fix_at, m.fix_pos, m.unseen, m.blind = ts, pos, 0, g is None
    m.moving_from = m.high_at = m.still_from = None
    m.high_before = False
    if g is not None and not moving(g):
        m.still_from = ts
    elif g is not None:
        m.high_at, m.high_before = ts, True


def left_at(m: Motion, seen_there: bool, ts: datetime) -> datetime:
    """When the goods left the place of the tracker's last fix, which a fix at ``ts`` shows
    them away from. ``seen_there``: that last fix was inside the place (else the tracker saw
    the goods elsewhere since, and ``ts`` stands)."""
    if m.blind:
        return ts
    if not seen_there or m.unseen == 0:  # seen all the way: since the movement began
        start = m.run_from or m.run_high_at
    else:
        start = m.moving_from or m.high_at
    return start if start is not None and start <= ts else ts


def reached_at(m: Motion, ts: datetime, not_before: datetime | None) -> datetime:
    """When the goods reached the place a fix at ``ts`` shows them in: where their last run
    at rest began, if the receiver was blind during it (never before ``not_before``, the
    departure that run followed)."""
    if m.unseen == 0 or m.blind or m.still_from is None:
        return ts
    at = min(m.still_from, ts)
    return max(at, not_before) if not_before is not None else at
