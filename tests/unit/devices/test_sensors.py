"""Sensor models stay within physical bounds (and so within the contract) for any input."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices import sensors
from devices.voyage import Context

lat = st.floats(min_value=-90, max_value=90, allow_nan=False)
lon = st.floats(min_value=-180, max_value=180, allow_nan=False)
when = st.floats(min_value=1.6e9, max_value=2.2e9, allow_nan=False)
context = st.sampled_from(list(Context))
seed = st.integers(min_value=0, max_value=2**32)
temp = st.floats(min_value=-200, max_value=200, allow_nan=False)


@given(lat, lon, when)
def test_ambient_temperature_is_earthly(la: float, lo: float, t: float) -> None:
    assert -40.0 <= sensors.ambient_c((la, lo), t) <= 50.0


def test_ambient_is_warmer_in_the_tropics_and_in_summer() -> None:
    july = 1.7837e9  # 2026-07-11
    january = 1.7683e9  # 2026-01-14
    assert sensors.ambient_c((5.0, 0.0), january) > sensors.ambient_c((55.0, 0.0), january)
    assert sensors.ambient_c((50.0, 0.0), july) > sensors.ambient_c((50.0, 0.0), january)
    assert sensors.ambient_c((-35.0, 0.0), january) > sensors.ambient_c((-35.0, 0.0), july)


@given(temp, temp, st.floats(min_value=0, max_value=1e7), st.floats(min_value=1, max_value=1e6))
def test_relaxation_moves_towards_the_target_without_overshoot(
    value: float, target: float, dt: float, tau: float
) -> None:
    new = sensors.relax(value, target, dt, tau)
    assert min(value, target) - 1e-9 <= new <= max(value, target) + 1e-9
    assert abs(new - target) <= abs(value - target) + 1e-9


@given(temp, when, st.booleans(), seed)
def test_reported_temperature_within_bounds(cargo: float, t: float, running: bool, s: int) -> None:
    value = sensors.reported_temperature(cargo, t, running, random.Random(s))
    assert sensors.TEMP_BOUNDS_C[0] <= value <= sensors.TEMP_BOUNDS_C[1]


@given(st.floats(min_value=-1000, max_value=1000, allow_nan=False), seed)
def test_reported_humidity_within_bounds(rh: float, s: int) -> None:
    assert 0.0 <= sensors.reported_humidity(rh, random.Random(s)) <= 100.0


@given(context, seed)
def test_shock_within_bounds(ctx: Context, s: int) -> None:
    rng = random.Random(s)
    g = sensors.reported_shock(
        max(sensors.background_shock_g(ctx, rng), sensors.handling_shock_g(8.0, 30.0, rng))
    )
    assert 0.0 <= g <= sensors.SHOCK_BOUNDS_G[1]
    assert sensors.reported_shock(1e9) == sensors.SHOCK_BOUNDS_G[1]


@given(lat, lon, when, st.booleans(), seed)
def test_light_through_open_doors_is_bounded_and_never_dark(
    la: float, lo: float, t: float, indoors: bool, s: int
) -> None:
    lux = sensors.door_light_lux((la, lo), t, indoors, random.Random(s))
    assert 100.0 <= lux <= sensors.LIGHT_BOUNDS_LUX[1]
    assert 0.0 <= sensors.daylight_lux((la, lo), t) <= 100_000.0


@given(st.floats(min_value=0, max_value=100), st.floats(min_value=0, max_value=200))
def test_battery_never_goes_negative_nor_up(battery: float, drain: float) -> None:
    after = sensors.battery_after(battery, drain)
    assert 0.0 <= after <= battery


@given(lat, lon, context, seed)
def test_gps_fix_is_plausible(la: float, lo: float, ctx: Context, s: int) -> None:
    rng = random.Random(s)
    sats, hdop, _fix = sensors.gps_quality(ctx, rng)
    assert 5 <= sats <= 14
    assert 0.6 <= hdop <= 20.0
    p = sensors.gps_noise((la, lo), hdop, rng)
    assert -90 <= p[0] <= 90
    assert -180 <= p[1] <= 180
    assert 0.0 <= sensors.gps_speed(rng.uniform(0, 1000), rng) <= 1200.0
    assert 0.0 <= sensors.gps_heading(rng.uniform(0, 360), True, rng) < 360.0


def test_no_fix_in_flight_and_rarely_on_the_road() -> None:
    rng = random.Random(1)
    assert all(sensors.gps_fix_lost(Context.AIR, False, rng) for _ in range(100))
    lost = sum(sensors.gps_fix_lost(Context.ROAD, False, rng) for _ in range(2000))
    assert lost < 150
    below = sum(sensors.gps_fix_lost(Context.SEA, True, rng) for _ in range(1000))
    assert below > 800


@pytest.mark.parametrize(
    ("setpoint", "ok", "ctx", "expected"),
    [
        (5.0, True, Context.SEA, 5.0),
        (-20.0, True, Context.ROAD, -20.0),
        (5.0, False, Context.SEA, 30.0),  # failed reefer: towards ambient
        (None, True, Context.SEA, 30.0),  # dry container
    ],
)
def test_cargo_target(setpoint: float | None, ok: bool, ctx: Context, expected: float) -> None:
    target, tau = sensors.cargo_target_c(setpoint, ok, 30.0, ctx)
    assert target == expected
    assert tau > 0
