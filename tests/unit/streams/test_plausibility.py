"""The plausibility gate: a reading no tracker could produce moves no milestone or alarm."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from streams import plausibility
from streams.plausibility import MAX_SHOCK_G, MAX_SPEED_KMH, Fix, assess, implied_speed_kmh
from tests.unit.streams.test_core import ROTTERDAM, SHANGHAI, T0, booked, kinds, reading, run
from tradelane.contracts import MilestoneReached, ReadingImplausible
from tradelane.geo import distance_km

AT_SEA = (30.0, 122.5)


@given(
    km=st.floats(min_value=5, max_value=15_000),
    minutes=st.floats(min_value=1, max_value=60 * 24 * 60),
)
def test_a_fix_is_implausible_exactly_when_it_needs_more_than_the_limit(
    km: float, minutes: float
) -> None:
    start = Fix(T0, 0.0, 0.0)
    # due north by ``km`` (a degree of latitude is 111.2 km), capped below the pole
    lat = min(km / 111.2, 89.0)
    end = Fix(T0 + timedelta(minutes=minutes), lat, 0.0)
    r = reading(1, minutes, (end.lat, end.lon)).reading
    verdict = assess(r, start, None, MAX_SPEED_KMH)
    needed = distance_km((0.0, 0.0), (lat, 0.0)) / (minutes / 60)
    assert verdict.position_ok == (needed <= MAX_SPEED_KMH)


@given(shock=st.floats(min_value=0, max_value=500))
def test_shock_beyond_the_sensor_range_is_implausible(shock: float) -> None:
    r = reading(1, 10, AT_SEA, shock_g=shock).reading
    assert assess(r, None, None, MAX_SPEED_KMH).shock_ok == (shock <= MAX_SHOCK_G)


@given(
    jump=st.floats(min_value=0, max_value=80),
    minutes=st.floats(min_value=0.5, max_value=120),
)
def test_temperature_faster_than_air_can_change_is_implausible(jump: float, minutes: float) -> None:
    r = reading(1, minutes, AT_SEA, temp=min(5.0 + jump, 90.0)).reading
    verdict = assess(r, None, (T0, 5.0), MAX_SPEED_KMH)
    allowed = plausibility.MAX_TEMPERATURE_RATE_C_PER_MIN * max(minutes, 1.0)
    assert verdict.temperature_ok == (abs(r.temperature_c - 5.0) <= allowed)  # type: ignore[operator]


def test_close_fixes_are_never_judged_on_speed() -> None:
    a, b = Fix(T0, 31.0, 121.0), Fix(T0, 31.001, 121.001)
    assert implied_speed_kmh(a, b) is None


def test_a_teleport_reaches_no_milestone() -> None:
    """One reading claims Rotterdam a minute after Shanghai: reported, and neither the
    departure nor the arrival is reached on it; the voyage's genuine readings still are."""
    state = booked()
    events = run(state, [reading(0, 0, SHANGHAI), reading(1, 1, ROTTERDAM)])
    assert [e.data.kind for e in events if isinstance(e.data, ReadingImplausible)] == [
        "reading_implausible"
    ]
    assert not [e for e in events if isinstance(e.data, MilestoneReached)]
    departed = run(state, [reading(2, 60, AT_SEA)])
    assert "milestone_reached" in kinds(departed)


def test_a_500_g_reading_raises_no_shock() -> None:
    state = booked()
    run(state, [reading(0, 0, SHANGHAI), reading(1, 60, AT_SEA)])
    events = run(state, [reading(2, 75, AT_SEA, shock_g=500.0)])
    assert "shock_detected" not in kinds(events)
    assert "reading_implausible" in kinds(events)
    real = run(state, [reading(3, 90, AT_SEA, shock_g=30.0)])
    assert "shock_detected" in kinds(real)
