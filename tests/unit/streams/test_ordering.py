"""Arrival order does not matter within the lateness: a device's readings are applied in its
sequence order, a gap is waited for, and a duplicate never produces a second event."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core import apply_in_place
from streams.rules import DEFAULT_RULES, StreamRules
from streams.state import ShipmentState
from tests.unit.streams.test_core import ROTTERDAM, SHANGHAI, booked, reading
from tradelane.contracts import IngestedReading, ShipmentEvent

INTERVAL_MIN = 15
AT_SEA = (31.1, 121.55)


def run(
    state: ShipmentState, items: list[IngestedReading], rules: StreamRules = DEFAULT_RULES
) -> list[ShipmentEvent]:
    events: list[ShipmentEvent] = []
    for item in items:
        events += apply_in_place(state, item, rules)
    return events


def comparable(state: ShipmentState) -> dict[str, object]:
    """The state minus arrival bookkeeping: how many duplicates came, and which arriving reading
    happened to un-block the events it keeps for redelivery."""
    return state.model_dump(mode="json", exclude={"duplicates", "recent_outputs"})


def test_in_order_readings_are_applied_at_once() -> None:
    state = booked()
    events = run(state, [reading(0, 0, SHANGHAI), reading(1, 60, AT_SEA)])
    assert "milestone_reached" in [e.data.kind for e in events]
    assert state.devices["trk-a"].held == []
    assert state.devices["trk-a"].next_seq == 2


def test_a_reading_ahead_of_a_gap_waits_and_the_gap_filler_releases_both() -> None:
    state = booked()
    assert run(state, [reading(0, 0, SHANGHAI)]) == []
    assert run(state, [reading(2, 30, AT_SEA)]) == []  # seq 1 missing: held
    assert [h.seq for h in state.devices["trk-a"].held] == [2]
    events = run(state, [reading(1, 15, AT_SEA)])
    assert "milestone_reached" in [e.data.kind for e in events]
    assert state.devices["trk-a"].held == []
    assert state.last_ts == reading(2, 30, AT_SEA).reading.ts


def test_a_gap_is_given_up_once_the_device_reports_past_the_lateness() -> None:
    state = booked()
    run(state, [reading(0, 0, SHANGHAI)])
    lateness = DEFAULT_RULES.reorder_lateness_minutes
    assert run(state, [reading(2, lateness, AT_SEA)]) == []  # exactly the lateness: waits
    events = run(state, [reading(3, lateness + 1, AT_SEA)])  # past it: seq 1 given up
    assert "milestone_reached" in [e.data.kind for e in events]
    assert state.devices["trk-a"].held == []
    assert state.devices["trk-a"].next_seq == 4
    # the given-up reading still comes: de-duplicated, counted, but it moves nothing back
    assert run(state, [reading(1, 15, SHANGHAI)]) == []
    assert state.late_readings == 1
    assert run(state, [reading(1, 15, SHANGHAI)]) == []
    assert state.duplicates == 1


def test_too_many_held_readings_give_the_gap_up() -> None:
    rules = dataclasses.replace(DEFAULT_RULES, reorder_max_held=3, reorder_lateness_minutes=10**6)
    state = booked()
    run(state, [reading(0, 0, SHANGHAI)], rules)
    assert run(state, [reading(s, s, SHANGHAI) for s in (2, 3, 4)], rules) == []
    run(state, [reading(5, 5, SHANGHAI)], rules)
    assert state.devices["trk-a"].held == []
    assert state.devices["trk-a"].next_seq == 6


def test_a_duplicate_of_a_held_reading_is_a_duplicate() -> None:
    state = booked()
    run(state, [reading(0, 0, SHANGHAI), reading(2, 30, AT_SEA), reading(2, 30, AT_SEA)])
    assert [h.seq for h in state.devices["trk-a"].held] == [2]
    assert state.duplicates == 1


@st.composite
def voyages(draw: st.DrawFn) -> list[IngestedReading]:
    """One tracker, a reading every 15 min: loading in Shanghai, days at sea with temperature
    excursions, shocks and a door opening, then the arrival in Rotterdam."""
    n = draw(st.integers(8, 40))
    temps = draw(
        st.lists(st.sampled_from([4.0, 5.0, 9.5, 11.0, 13.0, 1.0]), min_size=n, max_size=n)
    )
    shocks = draw(st.lists(st.sampled_from([0.5, 0.5, 0.5, 14.0]), min_size=n, max_size=n))
    items = [reading(0, 0, SHANGHAI), reading(1, INTERVAL_MIN, AT_SEA)]
    for i in range(n):
        seq = 2 + i
        items.append(
            reading(
                seq,
                (seq + 4) * INTERVAL_MIN,
                AT_SEA,
                temp=temps[i],
                shock_g=shocks[i],
                light_lux=900.0 if i == n // 2 else 0.0,
            )
        )
    last = len(items)
    items.append(reading(last, 60 * 24 * 30, ROTTERDAM))
    return items


@settings(max_examples=120, deadline=None)
@given(voyages(), st.data())
def test_any_arrival_order_within_the_lateness_and_any_duplication_gives_the_same_result(
    items: list[IngestedReading], data: st.DataObject
) -> None:
    """Chop the stream into blocks, shuffle each block, send blocks in order, and duplicate
    readings at random: with the lateness at least the longest block's event-time span, the
    final state and every event (id and content) equal one clean in-order pass; a redelivered
    reading re-emits its events with the same ids and content, never new ones."""
    sizes = data.draw(st.lists(st.integers(1, 6), min_size=len(items), max_size=len(items)))
    arrival: list[IngestedReading] = []
    span = timedelta(0)
    i = 0
    for size in sizes:
        if i >= len(items):
            break
        block = items[i : i + size]
        before = items[i - 1].reading.ts if i else block[0].reading.ts
        span = max(span, block[-1].reading.ts - before)
        arrival += data.draw(st.permutations(block))
        i += size
    for _ in range(data.draw(st.integers(0, 6))):
        at = data.draw(st.integers(1, len(arrival)))
        arrival.insert(at, data.draw(st.sampled_from(arrival[:at])))
    rules = dataclasses.replace(
        DEFAULT_RULES, reorder_lateness_minutes=int(span.total_seconds() // 60) + 1
    )

    clean_state = booked()
    clean = run(clean_state, items, rules)
    noisy_state = booked()
    noisy = run(noisy_state, arrival, rules)

    assert {e.id: e.model_dump_json() for e in noisy} == {e.id: e.model_dump_json() for e in clean}
    assert len({(e.id, e.model_dump_json()) for e in noisy}) == len({e.id for e in noisy})
    assert len(clean) == len({e.id for e in clean})
    assert comparable(noisy_state) == comparable(clean_state)
    assert noisy_state.devices["trk-a"].held == []
