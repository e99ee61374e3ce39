"""The plausibility gate: a reading no tracker could produce moves no milestone or alarm."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from streams import plausibility
from streams.plausibility import (
    DEFAULT_SPEED_LIMIT_KMH,
    MAX_SHOCK_G,
    Fix,
    assess,
    implied_speed_kmh,
)
from streams.plausibility import DEFAULT_SPEED_LIMIT_KMH as MAX_SPEED_KMH
from tests.unit.streams.test_core import ROTTERDAM, SHANGHAI, T0, booked, kinds, reading, run
from tradelane.contracts import MilestoneReached, ReadingImplausible, TransportMode
from tradelane.geo import distance_km

AT_SEA = (30.9, 121.9)


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


MODES = st.sampled_from(list(plausibility.SPEED_LIMIT_KMH))


@given(
    mode=MODES,
    share=st.floats(min_value=0.0, max_value=1.0),
    minutes=st.floats(min_value=1, max_value=60 * 12),
    bearing=st.floats(min_value=-1.0, max_value=1.0),
)
def test_a_track_within_its_modes_limit_is_never_flagged(
    mode: TransportMode, share: float, minutes: float, bearing: float
) -> None:
    """Any move at most as fast as the mode allows passes, whatever its direction."""
    limit = plausibility.SPEED_LIMIT_KMH[mode]
    km = limit * share * minutes / 60 * 0.999  # a hair under: floating point
    dlat, dlon = km * bearing, km * (1 - abs(bearing))  # a diagonal no longer than km
    start = Fix(T0, 10.0, 20.0)
    lat, lon = 10.0 + dlat / 111.2 / 2, 20.0 + dlon / 111.2 / 2
    r = reading(1, minutes, (lat, lon)).reading
    assert distance_km((10.0, 20.0), (lat, lon)) <= km
    assert assess(r, start, None, plausibility.speed_limit_kmh([mode])).position_ok


@given(
    modes=st.lists(MODES, max_size=4),
    km=st.floats(min_value=3_000, max_value=15_000),
    seconds=st.floats(min_value=-3600, max_value=3600),
)
def test_a_teleport_is_flagged_whatever_the_timestamps(
    modes: list[TransportMode], km: float, seconds: float
) -> None:
    """Thousands of km within an hour, forwards or backwards in time: no mode does that."""
    start = Fix(T0 + timedelta(hours=2), 0.0, 0.0)
    end = (min(km / 111.2, 89.0), 0.0)
    r = reading(1, 120 + seconds / 60, end).reading
    assert not assess(r, start, None, plausibility.speed_limit_kmh(modes)).position_ok


def test_the_limit_is_the_fastest_mode_and_the_default_when_none_is_known() -> None:
    assert plausibility.speed_limit_kmh([TransportMode.SEA]) == 100.0
    assert plausibility.speed_limit_kmh([TransportMode.ROAD, TransportMode.SEA]) == 200.0
    assert plausibility.speed_limit_kmh([]) == plausibility.DEFAULT_SPEED_LIMIT_KMH
    assert plausibility.speed_limit_kmh([TransportMode.AIR]) <= DEFAULT_SPEED_LIMIT_KMH


def test_a_ship_at_300_kmh_is_flagged_on_a_sea_leg() -> None:
    """The sample booking is one sea leg: 300 km in an hour is no ship's."""
    state = booked()
    run(state, [reading(0, 0, SHANGHAI)])
    events = run(state, [reading(1, 60, (28.7, 121.8))])  # ~285 km south
    assert "reading_implausible" in kinds(events)
    assert "milestone_reached" not in kinds(events)
