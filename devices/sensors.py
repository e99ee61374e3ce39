"""Sensor models: temperature, humidity, shock, light, battery and GPS, as pure functions.

Each model is a small physical story, simple enough to reason about in a test:

* Temperature relaxes exponentially towards a target (the reefer setpoint, or ambient air when
  the cargo rides dry or the reefer unit has failed), with the thermal inertia of an insulated
  box; door openings pull it towards outside air; the unit's compressor cycling and sensor
  noise ride on top.
* Ambient air is a function of latitude, season and local solar time.
* Shock is the peak since the last report: road vibration, swell, and handling events (crane
  lifts, forklifts, drops) at ports and warehouses.
* Light is dark inside a closed container and daylight or warehouse lighting when the doors
  are open.
* GPS loses its fix indoors and under deck, and scatters with HDOP.

Values are clamped to physical bounds that lie inside the contract's ranges, which the property
tests check for arbitrary inputs. Randomness only comes from the ``random.Random`` passed in.
"""

from __future__ import annotations

import math
import random

from devices.voyage import Context
from tradelane.contracts import FixQuality
from tradelane.geo import LatLon, offset_m

TEMP_BOUNDS_C = (-40.0, 60.0)
HUMIDITY_BOUNDS = (0.0, 100.0)
SHOCK_BOUNDS_G = (0.0, 200.0)
LIGHT_BOUNDS_LUX = (0.0, 120_000.0)
_YEAR_S = 365.2425 * 86400.0
_DAY_S = 86400.0


def clamp(value: float, bounds: tuple[float, float]) -> float:
    lo, hi = bounds
    return lo if value < lo else (hi if value > hi else value)


def ambient_c(pos: LatLon, t: float) -> float:
    """Outside air temperature (°C): warm tropics, seasonal swing growing with latitude,
    a diurnal cycle peaking mid-afternoon local solar time."""
    lat, lon = pos
    base = 28.0 - 0.42 * abs(lat)
    day_of_year = (t % _YEAR_S) / _YEAR_S  # 0 = 1 January (close enough for a climate)
    # Northern summer peaks mid-July, southern mid-January.
    phase = day_of_year - (0.54 if lat >= 0 else 0.04)
    seasonal = (min(abs(lat), 60.0) / 60.0) * 13.0 * math.cos(2 * math.pi * phase)
    solar_hour = ((t % _DAY_S) / 3600.0 + lon / 15.0) % 24.0
    diurnal = 4.0 * math.sin(2 * math.pi * (solar_hour - 9.0) / 24.0)
    return base + seasonal + diurnal


def ambient_rh(pos: LatLon, context: Context) -> float:
    """Outside relative humidity (%): humid at sea and in the tropics, drier inland."""
    tropical = max(0.0, 1.0 - abs(pos[0]) / 35.0)
    if context is Context.SEA:
        return 78.0 + 8.0 * tropical
    return 55.0 + 20.0 * tropical


def relax(value: float, target: float, dt_s: float, tau_s: float) -> float:
    """First-order approach of ``value`` towards ``target`` over ``dt_s`` (time constant tau)."""
    if dt_s <= 0:
        return value
    return target + (value - target) * math.exp(-dt_s / tau_s)


def cargo_target_c(
    setpoint: float | None, reefer_ok: bool, outside_c: float, context: Context
) -> tuple[float, float]:
    """(target temperature, time constant in seconds) for the air around the cargo."""
    if setpoint is not None and reefer_ok:
        return setpoint, 1800.0
    if context is Context.FACILITY:
        return 18.0 + 0.15 * (outside_c - 18.0), 4 * 3600.0
    if context is Context.AIR:
        return 15.0, 2 * 3600.0
    if setpoint is not None:  # failed reefer: an insulated box warming slowly
        return outside_c, 8 * 3600.0
    return outside_c, 3 * 3600.0


def door_exchange(value: float, outside: float, open_s: float) -> float:
    """Mix towards outside air while the doors were open for ``open_s`` seconds."""
    if open_s <= 0:
        return value
    return value + (outside - value) * (1.0 - math.exp(-open_s / 1200.0))


def reported_temperature(
    cargo_c: float, t: float, reefer_running: bool, rng: random.Random
) -> float:
    cycling = 0.4 * math.sin(2 * math.pi * t / 1800.0) if reefer_running else 0.0
    return round(clamp(cargo_c + cycling + rng.gauss(0.0, 0.15), TEMP_BOUNDS_C), 2)


def humidity_target(
    setpoint: float | None, reefer_ok: bool, outside_rh: float, context: Context
) -> float:
    if setpoint is not None and reefer_ok:
        return 90.0 if setpoint > 0 else 72.0
    if context is Context.FACILITY:
        return 50.0
    return outside_rh


def reported_humidity(rh: float, rng: random.Random) -> float:
    return round(clamp(rh + rng.gauss(0.0, 1.5), HUMIDITY_BOUNDS), 1)


def background_shock_g(context: Context, rng: random.Random) -> float:
    """Peak vibration over a reporting interval without handling."""
    if context is Context.ROAD:
        g = rng.uniform(0.3, 1.2)
        if rng.random() < 0.1:  # potholes, kerbs
            g = max(g, rng.uniform(1.5, 3.5))
        return g
    if context is Context.SEA:
        g = abs(rng.gauss(0.15, 0.05))
        if rng.random() < 0.03:  # slamming in a swell
            g = max(g, rng.uniform(1.0, 2.5))
        return g
    if context is Context.AIR:
        return rng.uniform(0.2, 0.8)
    return rng.uniform(0.0, 0.1)


def handling_shock_g(g_min: float, g_max: float, rng: random.Random) -> float:
    return rng.uniform(g_min, g_max)


def reported_shock(g: float) -> float:
    return round(clamp(g, SHOCK_BOUNDS_G), 2)


def daylight_lux(pos: LatLon, t: float) -> float:
    """Outdoor illuminance: zero at night, up to ~100 klux at solar noon."""
    solar_hour = ((t % _DAY_S) / 3600.0 + pos[1] / 15.0) % 24.0
    elevation = math.sin(math.pi * (solar_hour - 6.0) / 12.0)
    return 0.0 if elevation <= 0 else 100_000.0 * elevation**1.5


def door_light_lux(pos: LatLon, t: float, indoors: bool, rng: random.Random) -> float:
    """What the light sensor sees through open doors: daylight outdoors, else lamps."""
    lux = daylight_lux(pos, t) * rng.uniform(0.05, 0.4)
    if indoors or lux < 200.0:
        lux = max(lux, rng.uniform(150.0, 600.0))
    return round(clamp(lux, LIGHT_BOUNDS_LUX), 1)


def battery_after(battery: float, drain: float) -> float:
    return max(0.0, battery - drain)


# --- GPS ---------------------------------------------------------------------------------------

_NO_FIX_ODDS = {
    Context.FACILITY: 0.85,
    Context.PORT: 0.25,
    Context.AIRPORT: 0.6,
    Context.STOP: 0.05,
    Context.YARD: 0.05,
    Context.ROAD: 0.03,
    Context.AIR: 1.0,
}


def gps_fix_lost(context: Context, below_deck: bool, rng: random.Random) -> bool:
    """Indoors, in the hold or deep in a stack the receiver sees no sky."""
    if context is Context.SEA:
        return rng.random() < (0.9 if below_deck else 0.05)
    return rng.random() < _NO_FIX_ODDS[context]


def gps_quality(context: Context, rng: random.Random) -> tuple[int, float, FixQuality]:
    """(satellites, hdop, fix quality) for a fix; container stacks degrade geometry."""
    sats = 5 + int(rng.random() * 10)  # 5..14 (randint is several times slower)
    hdop = max(0.6, 0.5 + 6.0 / sats + rng.gauss(0.0, 0.15))
    if context is Context.PORT:
        hdop *= 1.6
    hdop = round(min(hdop, 20.0), 1)
    if sats < 6:
        fix = FixQuality.FIX_2D
    elif context is Context.ROAD and sats >= 10 and rng.random() < 0.1:
        fix = FixQuality.DGPS
    else:
        fix = FixQuality.FIX_3D
    return sats, hdop, fix


def gps_noise(pos: LatLon, hdop: float, rng: random.Random) -> LatLon:
    """Scatter a true position by a horizontal error of ~3.5 m per unit of HDOP."""
    sigma = 3.5 * hdop
    lat, lon = offset_m(pos, rng.gauss(0.0, sigma), rng.gauss(0.0, sigma))
    return (round(lat, 6), round(lon, 6))


def gps_speed(speed_kmh: float, rng: random.Random) -> float:
    if speed_kmh <= 0:
        return round(abs(rng.gauss(0.0, 0.3)), 1)
    return round(clamp(speed_kmh * rng.uniform(0.95, 1.05), (0.0, 1200.0)), 1)


def gps_heading(heading: float, moving: bool, rng: random.Random) -> float:
    if not moving:
        return 0.0
    h = round((heading + rng.gauss(0.0, 2.0)) % 360.0, 1)
    return 0.0 if h >= 360.0 else h
