"""The fleet engine: same seed => same stream, valid payloads, store-and-forward, and the
scenarios produce what they promise."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from datetime import UTC, datetime
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from devices.delivery_faults import FaultKnobs
from devices.engine import FleetClock, FleetEngine
from devices.messages import Kind, Outgoing
from devices.plan import FleetPlan
from devices.scenarios import IncidentKind
from devices.voyage import Context
from tradelane.contracts import DeviceState, DeviceStatus, TrackerReading

from .conftest import DAY, plan, readings, run, run_engine


def _by_device(msgs: list[Outgoing]) -> dict[int, list[TrackerReading]]:
    out: dict[int, list[TrackerReading]] = defaultdict(list)
    for m in readings(msgs):
        out[m.device].append(TrackerReading.model_validate_json(m.payload))
    return out


@settings(max_examples=8, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=10_000), steps=st.integers(min_value=2, max_value=40)
)
def test_same_seed_same_stream_however_it_is_stepped(seed: int, steps: int) -> None:
    fleet = plan(seed=seed, trackers=5)
    once = run(fleet, 6, steps=1)
    stepped = run(fleet, 6, steps=steps)
    again = run(plan(seed=seed, trackers=5), 6, steps=1)
    assert [m.payload for m in once] == [m.payload for m in stepped] == [m.payload for m in again]
    assert len(readings(once)) > 5 * 6 * 10  # a real stream (some stay buffered at sea)


def test_different_seeds_differ() -> None:
    a = run(plan(seed=1, trackers=4), 2)
    b = run(plan(seed=2, trackers=4), 2)
    assert [m.payload for m in a] != [m.payload for m in b]


def test_every_payload_validates_and_matches_its_topic() -> None:
    msgs = run(plan(seed=21, trackers=10, departures="spread"), 10)
    assert readings(msgs)
    for m in readings(msgs):
        reading = TrackerReading.model_validate_json(m.payload)
        assert m.topic == f"tradelane/v1/trackers/{reading.device_id}/readings"
        assert reading.seq == m.seq
        assert reading.ts.tzinfo is not None


def test_store_and_forward_keeps_original_timestamps_and_sequence() -> None:
    fleet = plan(seed=4, trackers=10, interval_s=900)
    msgs = run(fleet, 25)
    per_device = _by_device(msgs)
    flushed_somewhere = False
    for device, got in per_device.items():
        seqs = [r.seq for r in got]
        # Sent in measurement order, even after a flush; contiguous from 0 (nothing dropped).
        assert seqs == list(range(len(seqs))), device
        assert [r.ts for r in got] == sorted(r.ts for r in got)
        ship = fleet.shipments[fleet.devices[device].shipment]
        in_gap = [r for r in got if any(a <= r.ts.timestamp() <= b for a, b in ship.voyage.gaps)]
        flushed_somewhere |= bool(in_gap)
    assert flushed_somewhere, "some readings measured out of coverage must arrive later"


def test_buffer_limit_drops_the_oldest() -> None:
    fleet = plan(seed=4, trackers=10, interval_s=900, buffer_limit=5)
    engine = FleetEngine(fleet)
    engine.advance(fleet.config.start_ts + 25 * DAY)
    dropped = sum(t.dropped for t in engine.trackers)
    assert dropped > 0
    assert all(len(t.buffer) <= 5 for t in engine.trackers)


@cache
def _reefer_fleet() -> tuple[FleetPlan, dict[int, list[TrackerReading]]]:
    fleet = plan(
        seed=9,
        trackers=10,
        scenario="reefer-failure",
        incident_share=1.0,
        interval_s=1800,
        alarm_interval_s=300,
    )
    return fleet, _by_device(run(fleet, 30))


def test_alarms_shorten_the_reporting_interval() -> None:
    _, per_device = _reefer_fleet()
    gaps = [
        b.ts.timestamp() - a.ts.timestamp()
        for got in per_device.values()
        for a, b in itertools.pairwise(got)
    ]
    assert min(gaps) < 400
    assert max(gaps) > 1700


def test_reefer_failure_warms_the_cargo_out_of_band() -> None:
    fleet, per_device = _reefer_fleet()
    failures = [i for i in fleet.incidents if i.kind is IncidentKind.REEFER_FAILURE]
    assert failures
    for incident in failures:
        ship = fleet.shipments[incident.shipment]
        band = ship.booking.condition
        for device in ship.devices:
            before = [
                r.temperature_c
                for r in per_device[device]
                if r.ts.timestamp() < incident.at and r.temperature_c is not None
            ]
            after = [
                r.temperature_c
                for r in per_device[device]
                if r.ts.timestamp() > incident.at + 2 * DAY and r.temperature_c is not None
            ]
            assert band.temp_max_c is not None
            # The reefer held the band before (door openings spike it briefly; alarms then
            # sample those spikes densely, so look at the median) and lost it after.
            assert sorted(before)[len(before) // 2] <= band.temp_max_c
            assert after
            assert max(after) > band.temp_max_c + 3


def test_theft_deviates_stops_outside_safe_zones_and_trips_tamper() -> None:
    fleet = plan(seed=13, trackers=8, scenario="theft", incident_share=1.0)
    per_device = _by_device(run(fleet, 60))
    thefts = [i for i in fleet.incidents if i.kind is IncidentKind.THEFT]
    assert thefts
    from devices.places import nearest_place_km

    for incident in thefts:
        stop = (float(incident.detail["stop_lat"]), float(incident.detail["stop_lon"]))
        assert nearest_place_km(stop) > 5.0
        ship = fleet.shipments[incident.shipment]
        for device in ship.devices:
            got = per_device[device]
            tampered = [r for r in got if r.tamper]
            assert tampered
            assert tampered[0].ts.timestamp() >= incident.at
            assert any(
                (r.light_lux or 0) > 100
                for r in got
                if incident.at <= r.ts.timestamp() <= float(incident.until or 0) + 1
            )
            assert not any(r.tamper for r in got if r.ts.timestamp() < incident.at)


def test_rough_handling_shocks_exceed_the_fragile_limit() -> None:
    fleet = plan(seed=17, trackers=8, scenario="rough-handling", incident_share=1.0)
    per_device = _by_device(run(fleet, 50))
    for incident in (i for i in fleet.incidents if i.kind is IncidentKind.ROUGH_HANDLING):
        ship = fleet.shipments[incident.shipment]
        for device in ship.devices:
            assert max(r.shock_g or 0 for r in per_device[device]) >= 8.0
    calm = _by_device(run(plan(seed=17, trackers=8), 50))
    assert max(r.shock_g or 0 for got in calm.values() for r in got) < 8.0


def test_port_delay_overstays_the_plan() -> None:
    fleet = plan(seed=19, trackers=8, scenario="port-delay", incident_share=1.0)
    delays = [i for i in fleet.incidents if i.kind is IncidentKind.PORT_DELAY]
    assert delays
    for incident in delays:
        visit = next(
            s
            for s in fleet.shipments[incident.shipment].voyage.stops
            if s.place == incident.place and s.arrive == incident.at
        )
        assert visit.planned_depart is not None
        assert visit.planned_arrive is not None
        overstay = (visit.depart - visit.arrive) - (visit.planned_depart - visit.planned_arrive)
        assert overstay > 24 * 3600


def test_a_dying_tracker_drains_then_goes_silent() -> None:
    fleet = plan(seed=23, trackers=6, scenario="tracker-dies", incident_share=1.0)
    engine = FleetEngine(fleet)
    msgs = run_engine(engine, 60)
    deaths = [i for i in fleet.incidents if i.kind is IncidentKind.TRACKER_DEATH]
    assert deaths
    died = {m.device for m in msgs if m.kind is Kind.DIED}
    per_device = _by_device(msgs)
    for incident in deaths:
        assert incident.device in died
        got = per_device[incident.device]
        assert all(r.ts.timestamp() <= incident.at for r in got)
        batteries = [r.battery_pct for r in got]
        assert batteries == sorted(batteries, reverse=True)
        # Its battery ran down (what was still buffered out of coverage died with it).
        assert engine.trackers[incident.device].battery < 10.0
        index = next(
            i for i, m in enumerate(msgs) if m.kind is Kind.DIED and m.device == incident.device
        )
        assert not any(m.device == incident.device for m in msgs[index + 1 :])


def test_trackers_are_retired_after_delivery() -> None:
    fleet = plan(seed=29, trackers=6)
    msgs = run(fleet, 80)
    retired = {m.device for m in msgs if m.kind is Kind.RETIRED}
    assert retired == set(range(6))


def test_gps_is_missing_in_flight_and_often_at_sea_below_deck() -> None:
    fleet = plan(seed=3, trackers=40, departures="spread")
    msgs = readings(run(fleet, 5))
    contexts: dict[Context, list[bool]] = defaultdict(list)
    for m in msgs:
        r = TrackerReading.model_validate_json(m.payload)
        spec = fleet.devices[m.device]
        ctx = fleet.shipments[spec.shipment].voyage.track.at(r.ts.timestamp()).context
        contexts[ctx].append(r.gps is not None)
    if contexts[Context.AIR]:
        assert not any(contexts[Context.AIR])
    assert sum(contexts[Context.FACILITY]) < 0.5 * len(contexts[Context.FACILITY])


# --- delivery faults ---------------------------------------------------------------------


def _faulty(**knobs: float) -> list[Outgoing]:
    return run(plan(seed=31, trackers=6, faults=FaultKnobs(**knobs)), 10, finish=True)


def test_fault_knobs_do_not_change_the_readings() -> None:
    clean = sorted(m.payload for m in readings(_faulty()))
    faulty = sorted(
        m.payload
        for m in readings(_faulty(duplicate_rate=0.2, out_of_order_rate=0.2, malformed_rate=0.2))
    )
    assert clean == faulty


def test_malformed_payloads_fail_validation_and_are_extra() -> None:
    msgs = _faulty(malformed_rate=0.1)
    bad = [m for m in msgs if m.kind is Kind.MALFORMED]
    assert len(bad) > 10
    for m in bad:
        with pytest.raises((ValidationError, ValueError)):
            TrackerReading.model_validate_json(m.payload)


def test_duplicates_repeat_a_reading_and_out_of_order_inverts_sequences() -> None:
    msgs = _faulty(duplicate_rate=0.1, out_of_order_rate=0.1)
    dups = [m for m in msgs if m.kind is Kind.DUPLICATE]
    originals = {(m.device, m.seq): m.payload for m in readings(msgs)}
    assert dups
    assert all(originals[(m.device, m.seq)] == m.payload for m in dups)
    inversions = 0
    last: dict[int, int] = {}
    for m in readings(msgs):
        inversions += m.seq < last.get(m.device, -1)
        last[m.device] = max(m.seq, last.get(m.device, -1))
    assert inversions > 5


def test_clock_skew_shifts_device_timestamps() -> None:
    fleet = plan(seed=31, trackers=6, faults=FaultKnobs(clock_skew_s=600))
    skews = {d.skew_s for d in fleet.devices}
    assert all(-600 <= s <= 600 for s in skews)
    assert len(skews) == 6
    straight = _by_device(run(plan(seed=31, trackers=6), 1))
    skewed = _by_device(run(fleet, 1))
    for device, got in skewed.items():
        shift = got[0].ts.timestamp() - straight[device][0].ts.timestamp()
        assert shift == pytest.approx(fleet.devices[device].skew_s, abs=1.0)


# --- clock and statuses --------------------------------------------------------------------


@given(st.floats(min_value=0, max_value=1e6), st.floats(min_value=1, max_value=1e5))
def test_clock_is_monotonic_and_capped_by_the_wall(elapsed: float, speedup: float) -> None:
    clock = FleetClock(sim_start=1.7e9, speedup=speedup, wall_start=1.7e9 + 86400.0)
    t = clock.sim_at(elapsed)
    assert clock.sim_at(elapsed + 1) >= t
    assert t <= clock.wall_start + elapsed + 1e-6
    assert clock.elapsed_for(t) == pytest.approx(elapsed, rel=1e-6, abs=1e-3) or t == (
        clock.wall_start + elapsed
    )


def test_clock_runs_fast_then_real_time() -> None:
    clock = FleetClock(sim_start=0.0, speedup=100.0, wall_start=990.0)
    assert clock.sim_at(5) == 500.0
    assert clock.sim_at(20) == 1010.0  # caught up after 10 s, then 1x
    assert clock.elapsed_for(1010.0) == pytest.approx(20.0)


def test_status_payloads_follow_the_contract() -> None:
    engine = FleetEngine(plan(seed=1, trackers=2))
    tracker = engine.trackers[0]
    will = DeviceStatus.model_validate_json(tracker.status_payload(online=False, ts=None))
    assert will.state is DeviceState.OFFLINE
    assert will.ts is None
    online = DeviceStatus.model_validate_json(tracker.status_payload(online=True, ts=1.7e9))
    assert online.ts == datetime.fromtimestamp(1.7e9, UTC)
    assert json.loads(tracker.status_payload(online=True, ts=1.7e9))["reporting_interval_s"] > 0
