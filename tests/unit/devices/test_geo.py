"""Great-circle geometry: the properties route interpolation relies on."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradelane.geo import (
    GreatCircle,
    Polyline,
    bearing_deg,
    destination,
    distance_km,
    interpolate,
    offset_m,
    polyline_distance_km,
    segment_distance_km,
)

lat = st.floats(min_value=-80, max_value=80, allow_nan=False)
lon = st.floats(min_value=-180, max_value=180, allow_nan=False)
point = st.tuples(lat, lon)
fraction = st.floats(min_value=0, max_value=1, allow_nan=False)


def test_known_distance_london_new_york() -> None:
    # LHR -> JFK is about 5,540 km on a sphere.
    assert distance_km((51.47, -0.45), (40.64, -73.78)) == pytest.approx(5540, rel=0.01)


@settings(max_examples=200)
@given(point, point, fraction)
def test_interpolated_point_lies_on_the_segment(
    a: tuple[float, float], b: tuple[float, float], f: float
) -> None:
    if distance_km(a, b) > 19_000:  # nearly antipodal: the great circle is ill-defined
        return
    p = interpolate(a, b, f)
    total = distance_km(a, b)
    assert distance_km(a, p) + distance_km(p, b) == pytest.approx(total, abs=0.05)
    assert distance_km(a, p) == pytest.approx(f * total, abs=0.05)
    assert segment_distance_km(p, a, b) < 0.05


@given(point, point)
def test_bearing_is_a_compass_course(a: tuple[float, float], b: tuple[float, float]) -> None:
    assert 0.0 <= bearing_deg(a, b) < 360.0


@settings(max_examples=200)
@given(point, st.floats(min_value=0, max_value=359.9), st.floats(min_value=0, max_value=5000))
def test_destination_is_at_the_distance_and_course(
    p: tuple[float, float], course: float, km: float
) -> None:
    q = destination(p, course, km)
    assert -90 <= q[0] <= 90
    assert -180 <= q[1] <= 180
    assert distance_km(p, q) == pytest.approx(km, abs=0.01)


@given(point, st.floats(min_value=-500, max_value=500), st.floats(min_value=-500, max_value=500))
def test_gps_offsets_move_by_metres(p: tuple[float, float], north: float, east: float) -> None:
    q = offset_m(p, north, east)
    assert distance_km(p, q) * 1000 == pytest.approx(math.hypot(north, east), rel=0.02, abs=0.5)


def test_segment_distance_is_to_the_segment_not_the_circle() -> None:
    a, b = (0.0, 0.0), (0.0, 10.0)
    assert segment_distance_km((1.0, 5.0), a, b) == pytest.approx(111.2, rel=0.01)
    # Beyond the end of the segment, the distance is to the endpoint.
    assert segment_distance_km((0.0, 12.0), a, b) == pytest.approx(distance_km((0, 12), b))


def test_great_circle_from_europe_to_america_bends_north() -> None:
    arc = GreatCircle((48.7, -5.7), (40.45, -73.8))
    assert max(arc.at(i / 20)[0] for i in range(21)) > 48.7


any_point = st.tuples(st.floats(min_value=-90, max_value=90), lon)
step = st.tuples(st.floats(min_value=-3, max_value=3), st.floats(min_value=-3, max_value=3))


@st.composite
def routes(draw: st.DrawFn) -> tuple[tuple[float, float], list[tuple[float, float]]]:
    """A position and a polyline: anywhere on the globe, or a route of short hops (with a
    repeated point now and then) and a position near it, where segments nearly tie."""
    if draw(st.booleans()):
        return draw(any_point), draw(st.lists(any_point, min_size=1, max_size=8))
    points = [draw(st.tuples(lat, lon))]
    for dlat, dlon in draw(st.lists(step, min_size=1, max_size=12)):
        last = points[-1]
        points.append((max(-89.0, min(89.0, last[0] + dlat)), last[1] + dlon))
    near = draw(st.sampled_from(points))
    dlat, dlon = draw(step)
    return (max(-90.0, min(90.0, near[0] + dlat / 3)), near[1] + dlon / 3), points


@settings(max_examples=400)
@given(routes(), st.data())
def test_a_polyline_measures_exactly_what_each_segment_measures(
    case: tuple[tuple[float, float], list[tuple[float, float]]], data: st.DataObject
) -> None:
    """Polyline hoists the per-point terms out of segment_distance_km and skips segments that
    cannot be the nearest: the floats must be the very same, and the nearest segment the first
    of the nearest (deviations and ETAs are compared byte for byte across runs)."""
    p, points = case
    if data.draw(st.booleans()):  # a repeated point: a zero-length segment
        points.insert(1, points[0])
    line = Polyline(points)
    for q in (p, data.draw(st.sampled_from(points))):
        want = [segment_distance_km(q, a, b) for a, b in itertools.pairwise(points)]
        assert line.segment_distances_km(q) == want
        if want:
            assert line.nearest_km(q) == (min(want), want.index(min(want)))
        assert polyline_distance_km(q, points) == (min(want) if want else distance_km(q, points[0]))
