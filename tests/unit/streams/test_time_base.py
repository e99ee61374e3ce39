"""One time base: what a tracker's connection does is placed in event time, never at the
moment the bridge happened to receive it, and silences are judged against the interval the
device really keeps."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from finance.conditions import note_shipment_event
from finance.facility_state import ShipmentCollateral
from streams.core import apply_in_place, new_state
from tests.samples import booking
from tests.unit.streams.test_core import SHANGHAI, T0, booked, kinds, reading, run
from tradelane.contracts import (
    DeviceState,
    DeviceStatus,
    IngestedReading,
    IngestedStatus,
    Milestone,
    MilestoneReached,
    Place,
    PlaceKind,
    ShipmentBooking,
    TrackerResumed,
    TrackerSilent,
    TransportMode,
)

AT_SEA = (30.9, 121.9)


def status(
    device: str,
    state: DeviceState,
    received_minutes: float,
    ts_minutes: float | None = None,
    interval_s: int | None = None,
) -> IngestedStatus:
    return IngestedStatus(
        status=DeviceStatus(
            device_id=device,
            state=state,
            ts=None if ts_minutes is None else T0 + timedelta(minutes=ts_minutes),
            reporting_interval_s=interval_s,
        ),
        received_at=T0 + timedelta(minutes=received_minutes),
        mqtt_topic=f"tradelane/v1/trackers/{device}/status",
    )


@settings(max_examples=60, deadline=None)
@given(backlog_minutes=st.floats(min_value=0, max_value=60 * 24 * 60))
def test_a_last_will_is_placed_at_the_trackers_last_reading(backlog_minutes: float) -> None:
    """However long after the connection was lost the bridge received the will (a backlog, a
    restart), the silence starts at the last reading and no event is later than the input."""
    state = booked()
    events = run(state, [reading(0, 0, SHANGHAI), reading(1, 15, AT_SEA)])
    events += apply_in_place(state, status("trk-a", DeviceState.OFFLINE, 15 + backlog_minutes))
    silences = [e.data for e in events if isinstance(e.data, TrackerSilent)]
    assert len(silences) == 1
    assert silences[0].at == silences[0].last_seen == T0 + timedelta(minutes=15)
    assert max(e.time for e in events) <= T0 + timedelta(minutes=15)


def test_the_same_will_twice_is_one_silence_with_one_id() -> None:
    state = booked()
    run(state, [reading(0, 0, SHANGHAI), reading(1, 15, AT_SEA)])
    first = apply_in_place(state, status("trk-a", DeviceState.OFFLINE, 30))
    again = apply_in_place(state, status("trk-a", DeviceState.OFFLINE, 90))
    assert kinds(first) == ["tracker_silent"]
    assert again == []


def test_a_planned_retirement_is_not_a_silence() -> None:
    """A clean goodbye carries the device's own time: no silence, then or later."""
    state = booked()
    events = run(state, [reading(0, 0, SHANGHAI), reading(1, 15, AT_SEA, device="trk-b")])
    events += apply_in_place(state, status("trk-a", DeviceState.OFFLINE, 20, ts_minutes=16))
    # the other tracker keeps reporting for days: trk-a stays retired, not silent
    events += run(state, [reading(k, 15 + 15 * k, AT_SEA, device="trk-b") for k in range(2, 400)])
    assert "tracker_silent" not in kinds(events)


def test_a_will_set_at_connect_time_is_still_a_will() -> None:
    """A device may put its connect time in its will: older than its last reading, so the
    broker sent it because the connection was lost."""
    state = booked()
    run(state, [reading(0, 0, SHANGHAI), reading(1, 15, AT_SEA)])
    events = apply_in_place(state, status("trk-a", DeviceState.OFFLINE, 40, ts_minutes=0))
    assert kinds(events) == ["tracker_silent"]


def _alarm_burst_then_normal(device: str, seq: int) -> list:  # type: ignore[type-arg]
    """15-minute readings, an alarm burst at 2-minute intervals for an hour, then 15 minutes
    again for two days."""
    items, t = [], 0.0
    for gap, count in ((15, 8), (2, 30), (15, 200)):
        for _ in range(count):
            t += gap
            items.append(reading(seq, t, AT_SEA, device=device))
            seq += 1
    return items


def _interleave(a: list, b: list) -> list:  # type: ignore[type-arg]
    return sorted([*a, *b], key=lambda item: item.reading.ts)


def test_an_alarm_burst_costs_at_most_one_resumed_silence_without_an_announcement() -> None:
    """Without an announced interval the first normal gap after a long burst may look like a
    silence; the next reading resumes it, and the learned interval then holds."""
    state = booked()
    events = run(state, [reading(0, 0, SHANGHAI)])
    events += run(
        state,
        _interleave(_alarm_burst_then_normal("trk-a", 1), _alarm_burst_then_normal("trk-b", 0)),
    )
    health = [(e.data.kind, e.data.device_id) for e in events if e.data.kind.startswith("tracker")]
    for device in ("trk-a", "trk-b"):
        mine = [k for k, d in health if d == device]
        assert mine in ([], ["tracker_silent", "tracker_resumed"]), (device, mine)


def test_an_alarm_burst_is_no_silence_when_the_interval_was_announced() -> None:
    state = booked()
    for device in ("trk-a", "trk-b"):
        apply_in_place(state, status(device, DeviceState.ONLINE, 0, ts_minutes=0, interval_s=900))
    events = run(state, [reading(0, 0, SHANGHAI)])
    events += run(
        state,
        _interleave(_alarm_burst_then_normal("trk-a", 1), _alarm_burst_then_normal("trk-b", 0)),
    )
    assert "tracker_silent" not in kinds(events)


def test_the_announced_interval_is_what_silence_is_judged_against() -> None:
    """A device that announced 15 minutes, heard every 2 minutes so far, is not silent after
    10 minutes without a reading; judged by its sibling's readings, it is once 3 announced
    intervals and the hour allowed for one tracker lagging behind another have passed."""
    state = booked()
    apply_in_place(state, status("trk-a", DeviceState.ONLINE, 0, ts_minutes=0, interval_s=900))
    items = [reading(k, 2 * (k + 1), AT_SEA) for k in range(9)]
    items += [reading(k, 18 + 2 * k, AT_SEA, device="trk-b") for k in range(70)]
    events = run(state, items)
    silences = [e.data for e in events if isinstance(e.data, TrackerSilent)]
    assert [s.device_id for s in silences] == ["trk-a"]
    assert silences[0].at - silences[0].last_seen > timedelta(minutes=45 + 60)


def _collateral() -> ShipmentCollateral:
    return ShipmentCollateral(shipment_id="shp-1")


@given(order=st.permutations([0, 1]))
def test_a_resume_clears_its_silence_in_any_order(order: list[int]) -> None:
    """Silence judged from another tracker at day 2 (last seen day 1); the silent tracker's
    flushed reading of day 1.5 resumes it: healthy, whichever event arrives first."""
    day = timedelta(days=1)
    silence = TrackerSilent(
        device_id="trk-a", last_seen=T0 + day, at=T0 + 2 * day, judged_by="event_time"
    )
    resume = TrackerResumed(device_id="trk-a", at=T0 + 1.5 * day, silent_s=43200)
    shipment = _collateral()
    for k in order:
        note_shipment_event(shipment, [silence, resume][k])
    assert shipment.silent_trackers == []


@given(order=st.permutations([0, 1, 2]))
def test_a_later_silence_after_a_resume_counts_in_any_order(order: list[int]) -> None:
    day = timedelta(days=1)
    events = [
        TrackerSilent(
            device_id="trk-a", last_seen=T0 + day, at=T0 + 2 * day, judged_by="event_time"
        ),
        TrackerResumed(device_id="trk-a", at=T0 + 3 * day, silent_s=172800),
        TrackerSilent(
            device_id="trk-a", last_seen=T0 + 4 * day, at=T0 + 4 * day, judged_by="last_will"
        ),
    ]
    shipment = _collateral()
    for k in order:
        note_shipment_event(shipment, events[k])
    assert shipment.silent_trackers == ["trk-a"]


def _factory_inside_its_port() -> ShipmentBooking:
    """A factory 3 km from the port's centre, inside the port's 15 km geofence: a road leg to
    the port, then the sea."""
    factory = Place(
        locode="CNSHA",
        name="Pudong plant",
        kind=PlaceKind.FACTORY,
        lat=31.25,
        lon=121.50,
        radius_km=1.0,
    )
    port = Place(
        locode="CNSHA",
        name="Shanghai",
        kind=PlaceKind.SEAPORT,
        lat=31.23,
        lon=121.47,
        radius_km=15.0,
    )
    plain = booking("shp-1", ["trk-a", "trk-b"])
    road = plain.legs[0].model_copy(
        update={"mode": TransportMode.ROAD, "origin": factory, "destination": port, "waypoints": []}
    )
    sea = plain.legs[0].model_copy(update={"origin": port})
    return plain.model_copy(update={"origin": factory, "legs": [road, sea]})


def test_the_goods_depart_only_when_they_leave_the_factory_not_on_its_second_fix() -> None:
    state = new_state("shp-1")
    apply_in_place(state, _factory_inside_its_port())
    loading = [reading(k, 15 * k, (31.2502, 121.5003)) for k in range(8)]  # at the plant
    events = run(state, loading)
    assert "milestone_reached" not in kinds(events)
    # the container reaches the quay, 6 km from the plant: it has left the factory
    events = run(state, [reading(8, 200, (31.22, 121.44))])
    reached = [e.data.milestone for e in events if isinstance(e.data, MilestoneReached)]
    assert reached[0] is Milestone.DEPARTED_ORIGIN
    assert events[0].time == T0 + timedelta(minutes=200)


def test_a_late_loading_dock_reading_is_not_tamper() -> None:
    """Tracker A carries the shipment out of the port; tracker B's reading with the doors open
    at the dock, taken 16 minutes before the departure, arrives after it: handling, not
    tamper. The same light at sea, on time, is tamper."""
    state = booked()
    run(state, [reading(0, 0, SHANGHAI), reading(0, 5, SHANGHAI, device="trk-b")])
    events = run(state, [reading(1, 60, AT_SEA)])  # A: departed at minute 60
    assert Milestone.DEPARTED_ORIGIN in [
        e.data.milestone for e in events if isinstance(e.data, MilestoneReached)
    ]
    late = run(state, [reading(1, 44, SHANGHAI, device="trk-b", light_lux=800.0)])
    assert "tamper_detected" not in kinds(late)
    unplaced = run(state, [reading(2, 50, None, device="trk-b", light_lux=800.0)])
    assert "tamper_detected" not in kinds(unplaced)  # late and without a fix: not placeable
    at_sea = run(
        state,
        [reading(2, 120, AT_SEA, light_lux=800.0), reading(3, 122, AT_SEA, light_lux=800.0)],
    )
    assert kinds(at_sea).count("tamper_detected") == 1


def test_a_tracker_an_hour_behind_its_sibling_is_late_not_silent() -> None:
    """Tracker B's readings reach the worker 50 minutes after tracker A's (a slow network):
    when A's readings move event time on, B is behind, not silent."""
    state = booked()
    a = [reading(k, 15 * k, AT_SEA) for k in range(40)]
    b = [reading(k, 15 * k, AT_SEA, device="trk-b") for k in range(40)]
    delivered = sorted(
        [(x.reading.ts, x) for x in a] + [(x.reading.ts + timedelta(minutes=50), x) for x in b],
        key=lambda pair: pair[0],
    )
    events = run(state, [x for _, x in delivered])
    assert "tracker_silent" not in kinds(events)


def test_a_warehouse_inside_its_import_port_is_reached_when_the_fixes_are_there() -> None:
    """The tighter geofence says where a reading is: inside both the import port and its
    warehouse, the container has reached the warehouse (the destination)."""
    port = Place(
        locode="NLRTM",
        name="Rotterdam",
        kind=PlaceKind.SEAPORT,
        lat=51.95,
        lon=4.14,
        radius_km=15.0,
    )
    warehouse = Place(
        locode="NLRTM",
        name="Maasvlakte DC",
        kind=PlaceKind.WAREHOUSE,
        lat=51.97,
        lon=4.10,
        radius_km=1.0,
    )
    plain = booking("shp-1", ["trk-a", "trk-b"])
    sea = plain.legs[0].model_copy(update={"destination": port})
    road = plain.legs[0].model_copy(
        update={
            "mode": TransportMode.ROAD,
            "origin": port,
            "destination": warehouse,
            "waypoints": [],
        }
    )
    state = new_state("shp-1")
    apply_in_place(state, plain.model_copy(update={"destination": warehouse, "legs": [sea, road]}))
    day = 60 * 24
    run(state, [reading(0, 0, SHANGHAI), reading(1, 60, AT_SEA)])
    run(state, [reading(2, 30 * day, (51.95, 4.14))])  # in the port
    events = run(state, [reading(3, 30 * day + 120, (51.9702, 4.1003))])  # at the warehouse
    reached = [e.data.milestone for e in events if isinstance(e.data, MilestoneReached)]
    assert Milestone.ARRIVED_DESTINATION in reached


def test_deviation_is_measured_against_the_legs_the_goods_can_be_on() -> None:
    """A stop far off the road leg now driven, but near the sea leg already behind, is a
    deviation: the whole route's nearest leg hid a theft stop inside the sea corridor."""
    from streams.route import route_of
    from streams.rules.deviation import active_legs as _active_legs

    plain = booking("shp-1", ["trk-a", "trk-b"])
    port = plain.legs[0].destination
    inland = Place(
        locode="NLRTM", name="Inland DC", kind=PlaceKind.WAREHOUSE, lat=52.3, lon=4.9, radius_km=2
    )
    road = plain.legs[0].model_copy(
        update={"mode": TransportMode.ROAD, "origin": port, "destination": inland, "waypoints": []}
    )
    b = plain.model_copy(update={"destination": inland, "legs": [plain.legs[0], road]})
    route = route_of(b)
    state = new_state("shp-1")
    apply_in_place(state, b)
    off_road = (51.5, 3.6)  # near the sea lane into Rotterdam, ~90 km off the road leg
    assert route.corridor_km(off_road)[1] == 0  # the whole route: the sea leg is nearest
    state.departed = [0, 1]  # left the port: on the road leg
    distance, leg = route.corridor_km(off_road, _active_legs(state, route))
    assert leg == 1
    assert distance > 50


def test_the_tracker_that_flushes_its_store_first_calls_no_sibling_silent() -> None:
    """Both trackers of a container leave a coverage gap of 10 hours; A's buffered readings
    reach the bridge ten minutes before B's. B was never silent: it was flushing behind A."""
    state = booked()
    run(state, [reading(0, 0, AT_SEA), reading(0, 0, AT_SEA, device="trk-b")])
    gap = range(1, 41)  # 15-minute readings, all held in the trackers' stores
    flushed_a = [_received(reading(k, 15 * k, AT_SEA), 15 * 41) for k in gap]
    flushed_b = [_received(reading(k, 15 * k, AT_SEA, device="trk-b"), 15 * 41 + 10) for k in gap]
    events = run(state, [*flushed_a, _received(reading(41, 15 * 41, AT_SEA), 15 * 41)])
    events += run(state, flushed_b)
    assert "tracker_silent" not in kinds(events)
    # B stops after its flush; A's live readings judge it again once A's flush grace is over
    live = [_received(reading(k, 15 * k, AT_SEA), 15 * k + 1) for k in range(42, 60)]
    in_grace = [r for r in live if r.received_at < T0 + timedelta(minutes=15 * 41 + 60)]
    assert "tracker_silent" not in kinds(run(state, in_grace))
    silent = [e.data for e in run(state, live[len(in_grace) :]) if e.data.kind == "tracker_silent"]
    assert [(s.device_id, s.last_seen) for s in silent] == [  # type: ignore[union-attr]
        ("trk-b", T0 + timedelta(minutes=600))
    ]


def _received(item: IngestedReading, minutes: float) -> IngestedReading:
    return item.model_copy(update={"received_at": T0 + timedelta(minutes=minutes)})


def test_trackers_disagree_honestly_while_the_doors_are_open() -> None:
    """Outside air mixes in unevenly while the doors are open: two trackers of one container
    read 5 C apart then, and neither is poor; with the doors closed, the same gap is."""
    state = booked()
    run(state, [reading(0, 0, AT_SEA, temp=5.0), reading(0, 2, AT_SEA, device="trk-b", temp=5.0)])
    aired = run(
        state,
        [
            reading(1, 15, AT_SEA, temp=9.0, light_lux=900.0),
            reading(1, 17, AT_SEA, device="trk-b", temp=4.0, light_lux=900.0),
            reading(2, 30, AT_SEA, temp=8.0),
            reading(2, 32, AT_SEA, device="trk-b", temp=4.5),
        ],
    )
    assert "data_quality_changed" not in kinds(aired)
    closed = run(
        state,
        [reading(3, 120, AT_SEA, temp=10.0), reading(3, 122, AT_SEA, device="trk-b", temp=5.0)],
    )
    assert "data_quality_changed" in kinds(closed)
