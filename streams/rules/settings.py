"""Thresholds of the stream rules, in one frozen place.

Defaults are what a cold-chain operator would start with; every worker in a group must run
with the same rules, or replays would differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tradelane.contracts import TransportMode
from tradelane.contracts.readings import CLOCK_TOLERANCE_S


@dataclass(frozen=True, slots=True)
class StreamRules:
    consecutive_minutes: int = 30
    """A temperature/humidity excursion becomes a breach after this long outside the band."""
    cumulative_minutes: int = 120
    """…or once the trip's total time outside the band exceeds this."""
    progress_step_minutes: int = 15
    """BreachProgress is emitted each time a breach's duration crosses a multiple of this…"""
    progress_fine_hours: int = 6
    """…up to this long, then on every whole hour up to a day…"""
    progress_coarse_hours: int = 6
    """…then every this many hours (see :func:`streams.rules.condition.progress_mark`)."""
    grace_after_departure_minutes: int = 30
    """Condition rules ignore the first minutes after departure (loading, door open)."""
    max_gap_minutes: int = 120
    """A gap between two readings counts towards a breach for at most this long."""
    default_shock_limit_g: float = 10.0
    light_tamper_lux: float = 50.0
    unloading_timeout_minutes: int = 240
    """At the destination, the doors opening and closing again is the hand-over; a tracker
    that has seen no light there after this long counts the goods delivered anyway (a tracker
    without a light sensor, or one buried in the load)."""
    battery_low_pct: float = 20.0
    battery_ok_pct: float = 30.0
    silence_intervals: int = 3
    """A tracker is silent once event time passes k × its reporting interval without it…"""
    silence_lateness_s: int = 3600
    """…plus this much when the event time is another tracker's: trackers of one shipment
    reach the worker with different delays (one behind a slow network, one flushing its store),
    and a tracker an hour behind its sibling is late, not silent. Its own last will needs no
    allowance."""
    default_interval_s: int = 900
    geofence_exit_factor: float = 1.5
    stored_after_s: int = 900
    """A reading the bridge received this long after it was taken came from the tracker's
    store (a coverage gap, a flush): it judges no sibling silent, since the sibling may be
    flushing its own store behind it."""
    flush_grace_s: int = 3600
    """For this long (receive time) after a tracker flushed its store, its readings judge no
    sibling silent either: the sibling left the same gap and may flush a little later."""
    arrival_speed_kmh: float = 15.0
    """A fix inside a place counts as an arrival only at or below this speed (stopping or
    manoeuvring in a yard, a berth or an apron), not a vehicle passing through."""
    """Hysteresis: leaving a place needs this × its radius, so GPS noise does not flap."""
    deviation_km: dict[TransportMode, float] = field(
        default_factory=lambda: {
            TransportMode.SEA: 150.0,
            TransportMode.AIR: 400.0,
            TransportMode.ROAD: 40.0,
            TransportMode.RAIL: 40.0,
        }
    )
    deviation_min_km: float = 10.0
    deviation_leg_share: float = 0.25
    """A leg's corridor is at most this share of its length (but at least deviation_min_km)
    wide, so short legs get a tight corridor."""
    deviation_minutes: int = 60
    eta_change_hours: float = 6.0
    delay_hours: float = 24.0
    default_speed_kmh: dict[TransportMode, float] = field(
        default_factory=lambda: {
            TransportMode.SEA: 33.0,
            TransportMode.AIR: 800.0,
            TransportMode.ROAD: 60.0,
            TransportMode.RAIL: 50.0,
        }
    )
    reorder_lateness_minutes: int = 60
    """A gap in a device's sequence is waited for until that device has reported this much
    event time past its last applied reading; then it is given up (the reading lost, or too
    late: still de-duplicated and counted, but it no longer moves the shipment)."""
    reorder_max_held: int = 64
    """…or until this many readings wait behind the gap (bounds the state)."""
    quality_fix_ratio: float = 0.5
    """A tracker with a GNSS fix in fewer of its last 20 readings than this is degraded…"""
    quality_fix_recover: float = 0.7
    """…and good again only from this share (hysteresis)…"""
    quality_max_clock_ahead_s: int = CLOCK_TOLERANCE_S
    """…one whose latest reading lies this far ahead of its arrival is poor (its clock is
    wrong; the bridge's tolerance, and it recovers once its readings are on time again)…"""
    quality_max_disagreement_c: float = 3.0
    """…and so is one whose temperature differs from another tracker's this much."""
    evidence_max_readings: int = 200
    """Readings kept as a breach's evidence (6 h at a 2-minute alarm interval is 180): enough to
    prove a breach, small enough that state and events stay far below Kafka's 1 MB."""


DEFAULT_RULES = StreamRules()
