"""Voyages: positions stay in the planned corridor, sea positions stay at sea, speeds and
dwell times are realistic, and the plan (booking legs) is consistent."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.scenarios import IncidentKind
from devices.sealanes import on_land
from devices.voyage import (
    AIR_KMH_RANGE,
    ROAD_KMH_RANGE,
    SEA_KNOTS_RANGE,
    Context,
    StopRole,
)
from tradelane.geo import KNOT_KMH, polyline_distance_km

from .conftest import DAY, plan

SPEED_KMH = {
    Context.SEA: (SEA_KNOTS_RANGE[0] * KNOT_KMH, SEA_KNOTS_RANGE[1] * KNOT_KMH),
    Context.ROAD: ROAD_KMH_RANGE,
    Context.AIR: AIR_KMH_RANGE,
}


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=10_000),
    scenario=st.sampled_from(["nominal", "theft", "port-delay"]),
    fractions=st.lists(st.floats(min_value=0, max_value=1), min_size=20, max_size=20),
)
def test_positions_never_leave_the_planned_corridor(
    seed: int, scenario: str, fractions: list[float]
) -> None:
    fleet = plan(seed=seed, scenario=scenario, trackers=6, incident_share=0.5)
    for ship in fleet.shipments:
        track = ship.voyage.track
        detoured = any(i.kind is IncidentKind.THEFT for i in ship.incidents)
        for f in fractions:
            t = track.start + f * (track.end - track.start)
            pt = track.at(t)
            if pt.context is Context.SEA:
                assert on_land(pt.pos) is None, (ship.shipment_id, pt)
            if pt.hop < 0:  # dwelling at a planned place: exactly there
                assert pt.place is not None
                continue
            hop = ship.voyage.hops[pt.hop]
            off = polyline_distance_km(pt.pos, list(hop.points))
            if detoured and pt.hop == len(ship.voyage.hops) - 1:
                continue  # the thieves' detour leaves the corridor on purpose
            assert off < 0.5, (ship.shipment_id, pt, off)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(min_value=0, max_value=10_000))
def test_speeds_and_dwells_are_realistic(seed: int) -> None:
    fleet = plan(seed=seed, trackers=8)
    for ship in fleet.shipments:
        for seg in ship.voyage.track.segments:
            if seg.path is not None and seg.context in SPEED_KMH:
                lo, hi = SPEED_KMH[seg.context]
                assert lo - 0.01 <= seg.speed_kmh <= hi + 0.01, (seg.context, seg.speed_kmh)
        for stop in ship.voyage.stops:
            assert stop.depart >= stop.arrive
            if stop.role is StopRole.EXPORT and ship.mode.value == "sea":
                assert stop.depart - stop.arrive >= 0.6 * 48 * 3600 - 1


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(min_value=0, max_value=10_000))
def test_the_plan_is_a_chain_of_legs(seed: int) -> None:
    fleet = plan(seed=seed, trackers=8)
    for ship in fleet.shipments:
        legs = ship.booking.legs
        assert legs[0].origin == ship.booking.origin
        assert legs[-1].destination == ship.booking.destination
        for a, b in itertools.pairwise(legs):
            assert a.destination == b.origin
            assert a.planned_arrival <= b.planned_departure
        assert ship.booking.booked_at < legs[0].planned_departure
        sea = [leg for leg in legs if leg.mode.value == "sea"]
        assert all(leg.waypoints for leg in sea)  # sea legs name their lanes


def test_timeline_is_contiguous_and_starts_with_loading() -> None:
    for ship in plan(seed=5, trackers=10).shipments:
        segs = ship.voyage.track.segments
        assert segs[0].context is Context.FACILITY
        for a, b in itertools.pairwise(segs):
            assert a.end == pytest.approx(b.start)
        assert ship.voyage.stops[0].role is StopRole.ORIGIN
        assert ship.voyage.stops[-1].role is StopRole.DESTINATION
        assert ship.voyage.delivered_at <= ship.voyage.track.end


def test_sea_voyages_take_weeks_and_flights_a_day_or_two() -> None:
    fleet = plan(seed=3, trackers=60)
    modes = {ship.mode.value for ship in fleet.shipments}
    assert modes == {"sea", "air"}
    for ship in fleet.shipments:
        days = (ship.voyage.delivered_at - ship.voyage.stops[0].depart) / DAY
        if ship.mode.value == "air":
            assert 0.5 < days < 4
        elif ship.booking.origin.locode[:2] != ship.booking.destination.locode[:2]:
            assert days > 3


def test_out_of_coverage_mid_ocean_and_in_flight() -> None:
    fleet = plan(seed=3, trackers=60)
    for ship in fleet.shipments:
        gaps = ship.voyage.gaps
        if ship.mode.value == "air":
            assert gaps, "flight mode is out of coverage"
        for a, b in itertools.pairwise(gaps):
            assert a[1] < b[0]
        for start, end in gaps:
            mid = ship.voyage.track.at((start + end) / 2)
            assert mid.context in (Context.SEA, Context.AIR)
    assert any(ship.voyage.gaps for ship in fleet.shipments if ship.mode.value == "sea")
