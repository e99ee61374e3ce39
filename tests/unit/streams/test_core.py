"""The stream processor's pure core, fed synthetic voyages (Shanghai → Rotterdam by sea)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core import apply, apply_in_place, new_state
from streams.state import ShipmentState
from tests.samples import booking
from tradelane.contracts import (
    BreachEnded,
    BreachKind,
    BreachProgress,
    BreachStarted,
    DeviceState,
    DeviceStatus,
    Gps,
    IngestedReading,
    IngestedStatus,
    Milestone,
    MilestoneReached,
    ShipmentEvent,
    ShockDetected,
    TamperDetected,
    TrackerReading,
    TrackerSilent,
)
from tradelane.evidence import digest

T0 = datetime(2026, 11, 20, tzinfo=UTC)
SHANGHAI = (31.23, 121.47)
SINGAPORE_STRAIT = (1.26, 103.82)
ROTTERDAM = (51.95, 4.14)


def reading(
    seq: int,
    minutes: float,
    pos: tuple[float, float] | None,
    temp: float = 5.0,
    device: str = "trk-a",
    speed: float = 10.0,
    **extra: object,
) -> IngestedReading:
    r = TrackerReading(
        device_id=device,
        seq=seq,
        ts=T0 + timedelta(minutes=minutes),
        gps=None if pos is None else Gps(lat=pos[0], lon=pos[1], speed_kmh=speed),
        temperature_c=temp,
        battery_pct=90,
        **extra,  # type: ignore[arg-type]
    )
    return IngestedReading(reading=r, received_at=r.ts, mqtt_topic="t")


def booked() -> ShipmentState:
    state = new_state("shp-1")
    apply_in_place(state, booking("shp-1", ["trk-a", "trk-b"]))
    return state


def run(state: ShipmentState, items: list[IngestedReading]) -> list[ShipmentEvent]:
    events: list[ShipmentEvent] = []
    for item in items:
        events += apply_in_place(state, item)
    return events


def kinds(events: list[ShipmentEvent]) -> list[str]:
    return [e.data.kind for e in events]


def voyage() -> list[IngestedReading]:
    return [
        reading(0, 0, SHANGHAI),
        reading(1, 60, (30.9, 121.9)),  # left the port: departed origin
        reading(2, 60 * 24 * 10, SINGAPORE_STRAIT),
        reading(3, 60 * 24 * 30, ROTTERDAM),  # arrived at destination
    ]


def test_milestones_of_a_voyage() -> None:
    state = booked()
    events = run(state, voyage())
    milestones = [e.data for e in events if isinstance(e.data, MilestoneReached)]
    assert [m.milestone for m in milestones] == [
        Milestone.DEPARTED_ORIGIN,
        Milestone.ARRIVED_DESTINATION,
    ]
    assert milestones[0].place == "CNSHA"
    assert milestones[0].in_spec
    assert milestones[1].at == T0 + timedelta(days=30)
    assert all(e.subject == "shp-1" and e.type.startswith("tradelane.shipment.") for e in events)
    # Customs clearance arrives on the registry; arrival is not delivery: the goods are handed
    # over when the doors, opened to unload them, close again (the last lit reading).
    cleared = booking("shp-1", ["trk-a", "trk-b"]).model_copy(
        update={"customs_cleared_at": T0 + timedelta(days=30, minutes=-10)}
    )
    after = apply_in_place(state, cleared)
    assert [e.data.milestone for e in after if isinstance(e.data, MilestoneReached)] == [
        Milestone.CUSTOMS_CLEARED
    ]
    day30 = 60 * 24 * 30
    unloading = [
        reading(4, day30 + 20, None, light_lux=0.0),
        reading(5, day30 + 35, None, light_lux=900.0),
        reading(6, day30 + 50, None, light_lux=400.0),
        reading(7, day30 + 65, None, light_lux=0.0),
    ]
    handed = [e.data for e in run(state, unloading) if isinstance(e.data, MilestoneReached)]
    assert [(m.milestone, m.at) for m in handed] == [
        (Milestone.DELIVERED, T0 + timedelta(minutes=day30 + 50))
    ]
    assert state.status.value == "delivered"


def test_delivery_waits_for_customs_and_unloading_in_either_order() -> None:
    state = booked()
    day30 = 60 * 24 * 30
    run(state, [*voyage(), reading(4, day30 + 15, None, light_lux=800.0)])
    done = run(state, [reading(5, day30 + 30, None, light_lux=0.0)])
    assert not [e for e in done if isinstance(e.data, MilestoneReached)]  # not cleared yet
    cleared = booking("shp-1", ["trk-a", "trk-b"]).model_copy(
        update={"customs_cleared_at": T0 + timedelta(days=31)}
    )
    # read from the registry ahead of the readings of its time: it waits for event time
    assert not [e for e in apply_in_place(state, cleared) if isinstance(e.data, MilestoneReached)]
    later = run(state, [reading(6, 60 * 24 * 31 + 5, None)])
    after = [e.data for e in later if isinstance(e.data, MilestoneReached)]
    assert [(m.milestone, m.at) for m in after] == [
        (Milestone.CUSTOMS_CLEARED, T0 + timedelta(days=31)),
        (Milestone.DELIVERED, T0 + timedelta(days=31)),
    ]


def test_a_clearance_applies_at_once_when_no_tracker_is_left_to_report() -> None:
    state = booked()
    day30 = 60 * 24 * 30
    run(state, [*voyage(), reading(4, day30 + 15, None, light_lux=800.0)])
    run(state, [reading(5, day30 + 30, None, light_lux=0.0)])
    for device in ("trk-a", "trk-b"):
        status = DeviceStatus(
            device_id=device, state=DeviceState.OFFLINE, ts=T0 + timedelta(minutes=day30 + 40)
        )
        apply_in_place(state, IngestedStatus(status=status, received_at=status.ts, mqtt_topic="s"))
    cleared = booking("shp-1", ["trk-a", "trk-b"]).model_copy(
        update={"customs_cleared_at": T0 + timedelta(days=33)}
    )
    after = [e.data for e in apply_in_place(state, cleared) if isinstance(e.data, MilestoneReached)]
    assert [m.milestone for m in after] == [Milestone.CUSTOMS_CLEARED, Milestone.DELIVERED]


def test_a_tracker_that_sees_no_light_delivers_after_the_unloading_timeout() -> None:
    state = booked()
    apply_in_place(
        state,
        booking("shp-1", ["trk-a", "trk-b"]).model_copy(update={"customs_cleared_at": T0}),
    )
    day30 = 60 * 24 * 30
    run(state, voyage())
    early = run(state, [reading(4, day30 + 239, None)])
    assert not [e for e in early if isinstance(e.data, MilestoneReached)]
    late = [e.data for e in run(state, [reading(5, day30 + 240, None)])]
    assert [(m.milestone, m.at) for m in late if isinstance(m, MilestoneReached)] == [
        (Milestone.DELIVERED, T0 + timedelta(minutes=day30 + 240))
    ]


def test_temperature_breach_starts_progresses_and_ends_with_evidence() -> None:
    state = booked()
    run(state, voyage()[:2])
    hot = [reading(10 + i, 120 + 5 * i, (30.6, 122.3), temp=11.0 + (i % 3)) for i in range(13)]
    cool = reading(23, 120 + 5 * 13, (30.6, 122.3), temp=5.0)
    events = run(state, [*hot, cool])
    started = [e.data for e in events if isinstance(e.data, BreachStarted)]
    progress = [e.data for e in events if isinstance(e.data, BreachProgress)]
    ended = [e.data for e in events if isinstance(e.data, BreachEnded)]
    assert [(s.breach, s.rule.value) for s in started] == [
        (BreachKind.TEMPERATURE_HIGH, "consecutive")
    ]
    assert started[0].started_at == hot[0].reading.ts
    assert [p.duration_s for p in progress] == [1800, 2700, 3600]
    assert len(ended) == 1
    assert ended[0].duration_s == 65 * 60
    assert ended[0].peak == 13.0
    assert ended[0].evidence.digest == digest([h.reading for h in hot])
    assert ended[0].evidence.count == 13
    assert ended[0].mean_kinetic_temperature_c is not None


def test_short_excursions_and_the_departure_grace_do_not_breach() -> None:
    state = booked()
    run(state, voyage()[:2])
    blips = [
        reading(10, 61, (30.9, 122.0), temp=15.0),  # within the grace period
        reading(11, 120, (30.6, 122.3), temp=12.0),
        reading(12, 140, (30.6, 122.3), temp=5.0),
    ]  # 20 min outside: below 30
    assert "breach_started" not in kinds(run(state, blips))


def test_redelivered_readings_change_nothing_and_re_emit_the_same_events() -> None:
    state = booked()
    first = run(state, voyage())
    before = state.model_dump_json(exclude={"duplicates"})
    again = run(state, voyage())
    assert [e.id for e in again] == [e.id for e in first]
    assert state.model_dump_json(exclude={"duplicates"}) == before
    assert state.duplicates == 4


def test_shock_tamper_and_silence() -> None:
    state = booked()
    run(state, voyage()[:2])
    events = run(
        state,
        [
            reading(0, 100, (30.7, 122.2), device="trk-b"),
            reading(2, 120, (30.6, 122.3), shock_g=14.0),
            reading(3, 135, (30.6, 122.3), light_lux=400.0),
            reading(4, 150, (30.6, 122.3), light_lux=500.0),  # still open: no second event
            reading(5, 600, (28.0, 124.0)),  # trk-b silent for > 3 of its intervals
        ],
    )
    assert [type(e.data) for e in events if not isinstance(e.data, TrackerSilent)].count(
        ShockDetected
    ) == 1
    assert kinds(events).count("tamper_detected") == 1
    tamper = next(e.data for e in events if isinstance(e.data, TamperDetected))
    assert tamper.light_lux == 400.0
    silent = [e.data for e in events if isinstance(e.data, TrackerSilent)]
    assert [(s.device_id, s.judged_by) for s in silent] == [("trk-b", "event_time")]


def test_route_deviation() -> None:
    state = booked()
    run(state, voyage()[:2])
    day = 60 * 24  # minutes: a ship needs days to get 3,500 km off its lane and back
    off = [reading(10 + i, 5 * day + 30 * i, (10.0, 150.0)) for i in range(4)]  # Pacific
    back = reading(20, 10 * day, (30.5, 122.0))  # back near the planned lane
    events = run(state, [*off, back])
    assert kinds(events).count("deviation_started") == 1
    assert kinds(events).count("deviation_ended") == 1


def test_apply_leaves_the_given_state_untouched() -> None:
    state = booked()
    snapshot = state.model_dump_json()
    new, _events = apply(state, voyage()[0])
    assert state.model_dump_json() == snapshot
    assert new.model_dump_json() != snapshot


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_duplicates_and_redelivery_never_change_the_events(data: st.DataObject) -> None:
    """Any interleaving of redeliveries yields the same set of event ids as one clean pass."""
    base = [
        *voyage()[:2],
        *[reading(10 + i, 120 + 5 * i, (30.6, 122.3), temp=12.0) for i in range(10)],
        reading(30, 200, (30.6, 122.3), temp=5.0),
        voyage()[3],
    ]
    clean = {e.id for e in run(booked(), base)}
    noisy: list[IngestedReading] = []
    for item in base:
        noisy.append(item)
        noisy += [item] * data.draw(st.integers(0, 2))
        if noisy and data.draw(st.booleans()):
            noisy.append(data.draw(st.sampled_from(noisy)))
    assert {e.id for e in run(booked(), noisy)} == clean


def test_readings_before_the_booking_are_remembered_but_raise_nothing() -> None:
    state = new_state("shp-1")
    assert apply_in_place(state, voyage()[0]) == []
    assert state.devices["trk-a"].recent_seqs == [0]
    assert state.milestones == {}


def test_a_last_will_marks_the_tracker_silent_once_and_a_reading_resumes_it() -> None:
    from tradelane.contracts import DeviceState, DeviceStatus, IngestedStatus

    state = booked()
    run(state, voyage()[:2])
    will = IngestedStatus(
        status=DeviceStatus(device_id="trk-a", state=DeviceState.OFFLINE),
        received_at=T0 + timedelta(hours=3),
        mqtt_topic="tradelane/v1/trackers/trk-a/status",
    )
    first = apply_in_place(state, will)
    assert [(e.data.kind, getattr(e.data, "judged_by", None)) for e in first] == [
        ("tracker_silent", "last_will")
    ]
    assert apply_in_place(state, will) == first  # redelivered: the same event again, nothing new
    resumed = run(state, [reading(2, 240, (30.6, 122.3))])
    assert kinds(resumed).count("tracker_resumed") == 1


def test_a_backlog_flush_resumes_a_silent_tracker_only_once_caught_up() -> None:
    state = booked()
    run(state, voyage()[:2])
    run(state, [reading(0, 60, (30.9, 121.9), device="trk-b")])
    live = [reading(2 + i, 75 + 15 * i, (30.7, 122.2)) for i in range(8)]  # trk-a goes on
    events = run(state, live)
    assert kinds(events).count("tracker_silent") == 1  # trk-b, by event time
    backlog = [reading(1 + i, 75 + 15 * i, (30.7, 122.2), device="trk-b") for i in range(8)]
    flushed = run(state, backlog)
    assert kinds(flushed).count("tracker_resumed") == 1
    assert kinds(flushed).count("tracker_silent") == 0
    resumed = next(e for e in flushed if e.data.kind == "tracker_resumed")
    assert resumed.time >= live[-1].reading.ts - timedelta(minutes=45)


def test_a_voyage_behind_schedule_predicts_a_delay_once() -> None:
    from tradelane.contracts import DelayPredicted, EtaChanged

    state = booked()
    run(state, voyage()[:2])
    late = [
        reading(5, 60 * 24 * 30, SINGAPORE_STRAIT),
        reading(6, 60 * 24 * 30 + 60, SINGAPORE_STRAIT),
    ]
    events = run(state, late)
    delays = [e.data for e in events if isinstance(e.data, DelayPredicted)]
    etas = [e.data for e in events if isinstance(e.data, EtaChanged)]
    planned = booking("shp-1", ["trk-a"]).legs[-1].planned_arrival
    assert len(delays) == 1
    assert delays[0].eta > planned + timedelta(days=10)
    assert delays[0].delay_h == pytest.approx(
        (delays[0].eta - planned).total_seconds() / 3600, abs=0.01
    )
    assert len(etas) == 1  # the second reading moved the ETA by less than 6 h


def test_light_at_a_planned_stop_is_handling_not_tamper() -> None:
    state = booked()
    run(state, voyage()[:1])  # at the origin port
    events = run(state, [reading(1, 5, SHANGHAI, light_lux=800.0)])
    assert "tamper_detected" not in kinds(events)
    opened = run(state, [reading(2, 300, (30.6, 122.3), light_lux=800.0)])  # at sea
    assert "tamper_detected" not in kinds(opened)  # the next reading says whether it lasted
    events = run(state, [reading(3, 302, (30.6, 122.3), light_lux=600.0)])
    tampers = [e for e in events if isinstance(e.data, TamperDetected)]
    assert len(tampers) == 1
    assert tampers[0].data.at == T0 + timedelta(minutes=300)  # the opening's time
    evidence = tampers[0].data.evidence
    assert evidence is not None
    assert [r.seq for r in evidence.readings] == [2, 3]


def test_a_glint_of_light_is_reported_unconfirmed_and_a_silent_tracker_flushes_its_opening() -> (
    None
):
    state = booked()
    run(state, voyage()[:2])
    run(state, [reading(2, 300, (30.6, 122.3), light_lux=800.0)])
    closed = [e.data for e in run(state, [reading(3, 315, (30.6, 122.3), light_lux=0.0)])]
    glint = [e for e in closed if isinstance(e, TamperDetected)]
    assert len(glint) == 1
    assert glint[0].evidence is not None
    assert [r.seq for r in glint[0].evidence.readings] == [2]  # one observation: review
    run(state, [reading(4, 400, (30.6, 122.3), light_lux=900.0)])  # opened, then destroyed
    later = [reading(k, 400 + 15 * k, (30.6, 122.3), device="trk-b") for k in range(1, 60)]
    flushed = [e.data for e in run(state, later) if isinstance(e.data, TamperDetected)]
    assert [(t.device_id, t.at) for t in flushed] == [("trk-a", T0 + timedelta(minutes=400))]


def test_state_and_events_stay_far_below_kafkas_message_limit() -> None:
    """A 13-hour breach at a 2-minute alarm interval: the state (a changelog record) and every
    event must stay well below Kafka's default 1 MB message size."""
    state = booked()
    run(state, voyage()[:2])
    hot = [reading(10 + i, 120 + 2 * i, (30.6, 122.3), temp=12.0) for i in range(400)]
    events = run(state, hot)
    assert len(state.model_dump_json()) < 400_000
    assert max(len(e.model_dump_json()) for e in events) < 100_000


def _ingested(r: IngestedReading, received_minutes: float) -> IngestedReading:
    return IngestedReading(
        reading=r.reading, received_at=T0 + timedelta(minutes=received_minutes), mqtt_topic="t"
    )


@pytest.mark.parametrize(
    ("case", "grade", "reason"),
    [
        ("clock ahead", "poor", "clock ahead by 1200 s"),
        ("trackers disagree", "poor", "temperature disagrees with another tracker by 6.0 C"),
        ("no fix", "degraded", "GNSS fix in 10% of the last 20 readings"),
        ("healthy", None, None),
    ],
)
def test_data_quality_grades(case: str, grade: str | None, reason: str | None) -> None:
    state = booked()
    run(state, voyage()[:2])
    if case == "clock ahead":
        items = [_ingested(reading(2, 120, (30.6, 122.3)), received_minutes=100)]
    elif case == "trackers disagree":
        items = [
            reading(0, 120, (30.6, 122.3), temp=5.0, device="trk-b"),
            reading(2, 125, (30.6, 122.3), temp=11.0),
        ]
    elif case == "no fix":
        items = [reading(2 + i, 120 + 15 * i, None) for i in range(20)]
    else:
        items = [reading(2 + i, 120 + 15 * i, (30.6, 122.3)) for i in range(20)]
    changed = [e.data for e in run(state, items) if e.data.kind == "data_quality_changed"]
    if grade is None:
        assert changed == []
        return
    assert [c.grade.value for c in changed] == [grade]  # type: ignore[union-attr]
    assert reason in changed[0].reasons  # type: ignore[union-attr]


def test_a_poor_tracker_takes_milestones_out_of_spec() -> None:
    state = booked()
    run(state, [reading(0, 0, SHANGHAI)])
    # 15 and then 20 minutes fast: beyond the bridge's tolerance, the clock is wrong
    run(state, [_ingested(reading(1, 20, SHANGHAI), received_minutes=5)])
    departed = [e.data for e in run(state, [_ingested(reading(2, 60, (30.9, 121.9)), 40)])]
    milestone = next(d for d in departed if isinstance(d, MilestoneReached))
    assert milestone.in_spec is False


def test_a_clock_that_was_briefly_ahead_recovers() -> None:
    """One reading 15 minutes fast, then readings on time: the tracker is good again, and a
    departure three days later is in spec."""
    state = booked()
    run(state, [reading(0, 0, SHANGHAI)])
    run(state, [_ingested(reading(1, 20, SHANGHAI), received_minutes=5)])
    run(state, [reading(k, 20 + 15 * (k - 1), SHANGHAI) for k in range(2, 6)])
    departed = [e.data for e in run(state, [reading(6, 60 * 24 * 3, (30.9, 121.9))])]
    milestone = next(d for d in departed if isinstance(d, MilestoneReached))
    assert milestone.in_spec is True
