"""Is a reading physically possible? The gate before any reading may move money.

A tracker's fix or sensor value that no container could produce (a jump from Shanghai to
Rotterdam in a minute, 500 g of shock, a reefer warming by 40 °C in a minute) is a glitch or a
forgery. Such a reading is kept (on ``tracker.readings``, in InfluxDB) and reported with its
reasons (``reading_implausible``), but the rules do not use what is implausible about it: no
geofence, deviation or ETA from an impossible fix, no shock or breach from an impossible value.

Pure functions of (what the tracker last plausibly reported, the reading).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from tradelane.contracts import TrackerReading, TransportMode
from tradelane.geo import distance_km

SPEED_LIMIT_KMH: dict[TransportMode, float] = {
    TransportMode.ROAD: 200.0,
    TransportMode.RAIL: 400.0,
    TransportMode.SEA: 100.0,
    TransportMode.AIR: 1400.0,
}
"""The fastest a consignment can go by each mode, with a margin; a fix that needs more is a
glitch or a forgery. The speed is a straight line between two fixes, never more than the
distance travelled, so these bound the true speed from above.

- road: trucks are governed to 90-130 km/h; 200 leaves room for a van on an empty autobahn;
- rail: freight trains run at 100-160 km/h, parcel trains on high-speed lines up to 350;
- sea: container ships cruise at 15-25 knots, the fastest cargo ferries at 40 (74 km/h); 100
  km/h is 54 knots;
- air: freighters cruise at 850-930 km/h through the air, and a jet stream adds up to 300 km/h
  over the ground (the fastest subsonic ground speeds recorded are near 1,300 km/h).
"""
DEFAULT_SPEED_LIMIT_KMH = 1400.0
"""When the mode is not known (no booking, a mode without a limit): the fastest of them."""
FIX_NOISE_KM = 2.0
"""Two good fixes a few seconds apart may still differ by this much."""
MAX_SHOCK_G = 200.0
"""The range of a tracker's accelerometer: beyond it a value is a glitch, not a drop."""
TEMPERATURE_RANGE_C = (-90.0, 90.0)
MAX_TEMPERATURE_RATE_C_PER_MIN = 10.0
"""Container air cannot warm or cool faster than this (a door open in the desert included)."""


@dataclass(frozen=True, slots=True)
class Fix:
    ts: datetime
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Verdict:
    position_ok: bool
    shock_ok: bool
    temperature_ok: bool
    reasons: tuple[str, ...]

    @property
    def plausible(self) -> bool:
        return self.position_ok and self.shock_ok and self.temperature_ok


def speed_limit_kmh(modes: Iterable[TransportMode]) -> float:
    """The limit for a consignment that may be travelling by any of ``modes`` between two
    fixes: the fastest of them (the default when none is given)."""
    return max(
        (SPEED_LIMIT_KMH.get(m, DEFAULT_SPEED_LIMIT_KMH) for m in modes),
        default=DEFAULT_SPEED_LIMIT_KMH,
    )


def fix_of(r: TrackerReading) -> Fix | None:
    if r.gps is None or r.gps.fix.value == "none":
        return None
    return Fix(r.ts, r.gps.lat, r.gps.lon)


def implied_speed_kmh(previous: Fix, current: Fix) -> float | None:
    """Speed needed between two fixes (None when they are too close to judge)."""
    km = distance_km((previous.lat, previous.lon), (current.lat, current.lon))
    if km <= FIX_NOISE_KM:
        return None
    hours = abs((current.ts - previous.ts).total_seconds()) / 3600
    return float("inf") if hours == 0 else km / hours


def assess(
    r: TrackerReading,
    last_fix: Fix | None,
    last_temperature: tuple[datetime, float] | None,
    speed_limit_kmh: float,
) -> Verdict:
    """What of ``r`` is physically possible, given the tracker's last plausible fix and
    temperature (in either time direction: a late reading is judged against them too)."""
    reasons: list[str] = []
    position_ok = True
    fix = fix_of(r)
    if fix is not None and last_fix is not None:
        speed = implied_speed_kmh(last_fix, fix)
        if speed is not None and speed > speed_limit_kmh:
            position_ok = False
            shown = "an instant" if speed == float("inf") else f"{speed:,.0f} km/h"
            reasons.append(f"position implies {shown} (limit {speed_limit_kmh:,.0f} km/h)")
    shock_ok = r.shock_g is None or 0 <= r.shock_g <= MAX_SHOCK_G
    if not shock_ok:
        reasons.append(f"shock {r.shock_g} g beyond the sensor's {MAX_SHOCK_G:.0f} g")
    temperature_ok = True
    if r.temperature_c is not None:
        low, high = TEMPERATURE_RANGE_C
        if not low <= r.temperature_c <= high:
            temperature_ok = False
            reasons.append(f"temperature {r.temperature_c} C outside {low:.0f}..{high:.0f} C")
        elif last_temperature is not None:
            minutes = abs((r.ts - last_temperature[0]).total_seconds()) / 60
            change = abs(r.temperature_c - last_temperature[1])
            if change > MAX_TEMPERATURE_RATE_C_PER_MIN * max(minutes, 1.0):
                temperature_ok = False
                reasons.append(f"temperature moved {change:.1f} C in {minutes:.1f} min")
    return Verdict(position_ok, shock_ok, temperature_ok, tuple(reasons))


def usable(r: TrackerReading, verdict: Verdict) -> TrackerReading:
    """``r`` as the rules may use it: without what is implausible about it."""
    if verdict.plausible:
        return r
    update: dict[str, object] = {}
    if not verdict.position_ok:
        update["gps"] = None
    if not verdict.shock_ok:
        update["shock_g"] = None
    if not verdict.temperature_ok:
        update["temperature_c"] = None
    return r.model_copy(update=update)
