"""Sea lanes stay at sea: every edge, approach and planned sea route avoids the land boxes."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.places import AIRPORTS, FACILITIES, PLACES, SEAPORTS
from devices.sealanes import (
    APPROACHES,
    CANALS,
    EDGES,
    LAND_BOXES,
    NODES,
    node_pos,
    on_land,
    sea_path,
)
from tradelane.contracts import PlaceKind
from tradelane.geo import Box, sample_segment


def test_every_lane_edge_stays_off_the_land_boxes() -> None:
    crossings = []
    for a, b in EDGES:
        for p in sample_segment(node_pos(a), node_pos(b), 10.0):
            box = on_land(p)
            if box is not None:
                crossings.append(f"{a}-{b} crosses {box.name} at {p}")
                break
    assert not crossings, crossings


def test_every_port_approach_stays_off_the_land_boxes() -> None:
    for port, chain in APPROACHES.items():
        points = [PLACES[port].pos, *(node_pos(n) for n in chain)]
        for a, b in itertools.pairwise(points):
            assert all(on_land(p) is None for p in sample_segment(a, b, 5.0)), port


def test_the_land_boxes_do_catch_a_straight_line_across_a_continent() -> None:
    # Shanghai -> Rotterdam as the crow flies crosses Eurasia: the mask must notice.
    line = sample_segment(PLACES["CNSHA"].pos, PLACES["NLRTM"].pos, 50.0)
    assert any(on_land(p) for p in line)
    assert Box("x", 0, 1, 0, 1).contains((0.5, 0.5))


def test_graph_nodes_and_seaports_are_not_on_land() -> None:
    assert all(on_land(node_pos(n)) is None for n in NODES)
    assert all(on_land(PLACES[k].pos) is None for k in SEAPORTS)


def test_every_seaport_has_an_approach_and_the_graph_is_connected() -> None:
    assert set(APPROACHES) == set(SEAPORTS)
    for a, b in itertools.permutations(SEAPORTS, 2):
        names, points = sea_path(a, b)
        assert points[0] == PLACES[a].pos
        assert points[-1] == PLACES[b].pos
        assert len(points) == len(names) + 2


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(SEAPORTS), st.sampled_from(SEAPORTS), st.booleans())
def test_any_sea_route_stays_at_sea(a: str, b: str, cape: bool) -> None:
    if a == b:
        return
    avoid = frozenset(CANALS) if cape else frozenset()
    try:
        _, points = sea_path(a, b, avoid)
    except ValueError:  # some pairs need a canal (e.g. Balboa <-> Colón)
        assert cape
        return
    for x, y in itertools.pairwise(points):
        assert all(on_land(p) is None for p in sample_segment(x, y, 25.0)), (a, b, x, y)


def test_asia_europe_goes_through_malacca_bab_el_mandeb_suez_gibraltar() -> None:
    names, _ = sea_path("CNSHA", "NLRTM")
    for node in (
        "singapore-strait",
        "malacca-c",
        "bab-el-mandeb",
        "suez-s",
        "gibraltar",
        "dover-strait",
    ):
        assert node in names


def test_red_sea_diversion_goes_round_the_cape() -> None:
    names, _ = sea_path("CNSHA", "NLRTM", frozenset(CANALS))
    assert "cape-good-hope" in names
    assert "suez-s" not in names
    assert "gatun" not in names


def test_asia_us_east_coast_goes_through_panama() -> None:
    names, _ = sea_path("CNSHA", "USNYC")
    assert "gatun" in names
    assert "gaillard" in names


def test_places_table_is_consistent() -> None:
    assert len(SEAPORTS) >= 30
    assert len(AIRPORTS) >= 12
    assert len(FACILITIES) >= 20
    assert {PLACES[k].kind for k in AIRPORTS} == {PlaceKind.AIRPORT}
    for key, sp in PLACES.items():
        assert sp.key == key
        if sp.kind is PlaceKind.SEAPORT:
            assert sp.place.locode == key


@pytest.mark.parametrize("box", LAND_BOXES, ids=lambda b: b.name)
def test_land_boxes_are_well_formed(box: Box) -> None:
    assert box.lat_min < box.lat_max
    assert box.lon_min < box.lon_max
