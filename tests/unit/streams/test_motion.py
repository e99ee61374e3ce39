"""Timing a crossing the receiver did not see, from the vibration the tracker felt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from streams.core import apply_in_place
from streams.motion import MOTION_G, Motion, feed, left_at, reached_at, restart
from tests.unit.streams.test_core import SHANGHAI, booked, reading
from tests.unit.streams.test_core import T0 as VOYAGE_T0
from tradelane.contracts import Milestone, MilestoneReached

T0 = datetime(2026, 3, 1, tzinfo=UTC)
PORT = (31.14, 121.81)
REST, MOVING, JOLT = 0.04, 0.5, 2.8


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def stretch(gs: list[float | None]) -> Motion:
    """A fix at the port at minute 0, then one fix-less reading every 15 minutes."""
    m = Motion()
    restart(m, at(0), PORT, REST)
    for i, g in enumerate(gs, start=1):
        feed(m, at(15 * i), g, None)
    return m


def test_an_air_departure_is_when_the_aircraft_started_shaking_not_the_next_fix() -> None:
    m = stretch([REST, JOLT, REST, REST, MOVING, MOVING, MOVING])  # the jolt is the loading
    assert left_at(m, True, at(13 * 60)) == at(75)


def test_a_lone_jolt_is_handling_and_a_fix_without_movement_keeps_its_time() -> None:
    assert left_at(stretch([REST, JOLT, REST]), True, at(60)) == at(60)
    assert left_at(stretch([]), True, at(15)) == at(15)
    # seen all the way (no blind readings), or last seen elsewhere: since the movement began
    assert left_at(stretch([REST, MOVING, MOVING]), False, at(60)) == at(30)


def test_a_tracker_without_vibration_readings_is_timed_by_its_fix() -> None:
    assert left_at(stretch([REST, None, MOVING, MOVING]), True, at(90)) == at(90)
    assert reached_at(stretch([MOVING, None, REST]), at(60), None) == at(60)


def test_an_arrival_is_where_the_last_run_at_rest_began_a_jolt_inside_it_included() -> None:
    m = stretch([MOVING, MOVING, 0.08, MOVING, MOVING, REST, JOLT, REST, REST])
    assert reached_at(m, at(150), None) == at(90)
    assert reached_at(m, at(150), at(120)) == at(120)  # never before the departure it follows


@given(st.lists(st.one_of(st.none(), st.floats(0, 20)), max_size=60), st.integers(0, 10))
def test_estimates_stay_between_the_last_fix_and_the_fix_that_proves_the_crossing(
    gs: list[float | None], extra: int
) -> None:
    m = stretch(gs)
    now = at(15 * (len(gs) + 1) + extra)
    assert at(0) <= left_at(m, True, now) <= now
    assert at(0) <= reached_at(m, now, None) <= now


@given(st.integers(0, 30), st.integers(2, 30), st.floats(0, MOTION_G), st.floats(0.12, 5))
def test_rest_then_steady_motion_departs_at_the_first_moving_reading(
    rest: int, move: int, low: float, high: float
) -> None:
    m = stretch([low] * rest + [high] * move)
    assert left_at(m, True, at(15 * (rest + move + 1))) == at(15 * (rest + 1))


def test_the_core_times_a_blind_departure_by_motion() -> None:
    state = booked()
    items = [reading(0, 0, SHANGHAI, shock_g=REST)]
    items += [reading(i, 15 * i, None, shock_g=REST) for i in range(1, 4)]
    items += [reading(i, 15 * i, None, shock_g=MOVING) for i in range(4, 40)]
    items.append(reading(40, 600, (30.0, 124.5), shock_g=MOVING))
    events = [e.data for item in items for e in apply_in_place(state, item)]
    departed = [e for e in events if isinstance(e, MilestoneReached)]
    assert [(d.milestone, d.at) for d in departed] == [
        (Milestone.DEPARTED_ORIGIN, VOYAGE_T0 + timedelta(minutes=60))
    ]


def test_a_departure_seen_by_every_fix_is_when_the_movement_began_a_stop_included() -> None:
    m = Motion()
    for i, g in enumerate([REST, REST, MOVING, MOVING, REST, MOVING, MOVING]):
        feed(m, at(15 * i), g, PORT)
        restart(m, at(15 * i), PORT, g)
    assert left_at(m, True, at(90)) == at(30)  # one reading at rest (a red light) kept it
    for i, g in enumerate([REST, REST, MOVING, MOVING], start=7):
        feed(m, at(15 * i), g, PORT)
        restart(m, at(15 * i), PORT, g)
    assert left_at(m, True, at(150)) == at(135)  # two at rest: a stop, then a new movement
