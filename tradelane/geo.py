"""Spherical geometry: distances, bearings and great-circle interpolation on a spherical Earth.

Ships and aircraft fly great circles between waypoints, so positions between two waypoints are
interpolated along the great circle (slerp), not linearly in latitude/longitude, which would
bend routes at high latitudes and misplace every position in between. A sphere of mean radius
is accurate to ~0.5 %, far below GPS noise at the scale of a route.

Everything here is a pure function of its arguments.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

EARTH_RADIUS_KM = 6371.0088
KNOT_KMH = 1.852

LatLon = tuple[float, float]
"""(latitude, longitude) in degrees, WGS84-ish, longitude in [-180, 180]."""

Vec3 = tuple[float, float, float]


def to_vec(p: LatLon) -> Vec3:
    """Unit vector of a position (Earth-centred, Earth-fixed, unit sphere)."""
    lat, lon = math.radians(p[0]), math.radians(p[1])
    c = math.cos(lat)
    return (c * math.cos(lon), c * math.sin(lon), math.sin(lat))


def from_vec(v: Vec3) -> LatLon:
    x, y, z = v
    lat = math.degrees(math.atan2(z, math.hypot(x, y)))
    return (lat, _wrap_lon(math.degrees(math.atan2(y, x))))


def _wrap_lon(lon: float) -> float:
    if lon > 180.0 or lon < -180.0:
        lon = (lon + 180.0) % 360.0 - 180.0
    return lon


def central_angle(a: LatLon, b: LatLon) -> float:
    """Angle between two positions seen from the Earth's centre, radians (haversine form)."""
    lat1, lat2 = math.radians(a[0]), math.radians(b[0])
    dlat = lat2 - lat1
    dlon = math.radians(b[1] - a[1])
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * math.asin(min(1.0, math.sqrt(h)))


def distance_km(a: LatLon, b: LatLon) -> float:
    """Great-circle distance."""
    return EARTH_RADIUS_KM * central_angle(a, b)


def bearing_deg(a: LatLon, b: LatLon) -> float:
    """Initial course from ``a`` towards ``b``, degrees in [0, 360)."""
    lat1, lat2 = math.radians(a[0]), math.radians(b[0])
    dlon = math.radians(b[1] - a[1])
    y = math.sin(dlon) * math.cos(lat2)
    x = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(dlon)
    deg = math.degrees(math.atan2(y, x)) % 360.0
    return 0.0 if deg >= 360.0 else deg


def interpolate(a: LatLon, b: LatLon, f: float) -> LatLon:
    """The point a fraction ``f`` (0..1) of the way from ``a`` to ``b`` along the great circle."""
    return GreatCircle(a, b).at(f)


def destination(p: LatLon, bearing: float, dist_km: float) -> LatLon:
    """Where you arrive from ``p`` after ``dist_km`` on initial course ``bearing``."""
    lat1, lon1 = math.radians(p[0]), math.radians(p[1])
    brg = math.radians(bearing)
    d = dist_km / EARTH_RADIUS_KM
    lat2 = math.asin(math.sin(lat1) * math.cos(d) + math.cos(lat1) * math.sin(d) * math.cos(brg))
    lon2 = lon1 + math.atan2(
        math.sin(brg) * math.sin(d) * math.cos(lat1), math.cos(d) - math.sin(lat1) * math.sin(lat2)
    )
    return (math.degrees(lat2), _wrap_lon(math.degrees(lon2)))


def offset_m(p: LatLon, north_m: float, east_m: float) -> LatLon:
    """Shift a position by a few metres (GPS noise); flat-Earth approximation, fine below 1 km."""
    lat = p[0] + north_m / 111_320.0
    coslat = max(1e-6, math.cos(math.radians(p[0])))
    lon = _wrap_lon(p[1] + east_m / (111_320.0 * coslat))
    return (max(-90.0, min(90.0, lat)), lon)


class GreatCircle:
    """One great-circle segment, with what interpolation needs precomputed.

    Interpolating a reading's position is on the simulator's hot path (thousands per second),
    so the unit vectors and the angle are computed once per segment, not once per reading.
    """

    __slots__ = ("_sin", "_va", "_vb", "a", "angle", "b", "length_km")

    def __init__(self, a: LatLon, b: LatLon) -> None:
        self.a = a
        self.b = b
        self._va = to_vec(a)
        self._vb = to_vec(b)
        self.angle = central_angle(a, b)
        self._sin = math.sin(self.angle)
        self.length_km = EARTH_RADIUS_KM * self.angle

    def at(self, f: float) -> LatLon:
        """Point at fraction ``f`` of the segment (clamped to [0, 1])."""
        if f <= 0.0 or self._sin < 1e-12:
            return self.a if f <= 0.5 else self.b
        if f >= 1.0:
            return self.b
        s = self._sin
        wa = math.sin((1.0 - f) * self.angle) / s
        wb = math.sin(f * self.angle) / s
        va, vb = self._va, self._vb
        return from_vec((wa * va[0] + wb * vb[0], wa * va[1] + wb * vb[1], wa * va[2] + wb * vb[2]))


def cross_track_km(p: LatLon, a: LatLon, b: LatLon) -> float:
    """Signed distance from ``p`` to the great circle through ``a`` and ``b`` (left positive)."""
    d13 = central_angle(a, p)
    t13 = math.radians(bearing_deg(a, p))
    t12 = math.radians(bearing_deg(a, b))
    return EARTH_RADIUS_KM * math.asin(max(-1.0, min(1.0, math.sin(d13) * math.sin(t13 - t12))))


def segment_distance_km(p: LatLon, a: LatLon, b: LatLon) -> float:
    """Distance from ``p`` to the great-circle *segment* a→b (endpoints included)."""
    ab = central_angle(a, b)
    if ab < 1e-12:
        return distance_km(p, a)
    d13 = central_angle(a, p)
    xt = cross_track_km(p, a, b) / EARTH_RADIUS_KM
    cos_xt = math.cos(xt)
    along = math.acos(max(-1.0, min(1.0, math.cos(d13) / cos_xt))) if cos_xt > 1e-12 else 0.0
    # The foot of the perpendicular lies on the segment only when it is ahead of a and not past b.
    ahead = math.cos(math.radians(bearing_deg(a, p) - bearing_deg(a, b))) >= 0
    if ahead and along <= ab:
        return abs(xt) * EARTH_RADIUS_KM
    return min(distance_km(p, a), distance_km(p, b))


def polyline_distance_km(p: LatLon, points: list[LatLon]) -> float:
    """Distance from ``p`` to a polyline of great-circle segments."""
    return Polyline(points).distance_km(p)


class Polyline:
    """A polyline of great-circle segments, for measuring many positions against it.

    The stream rules measure every reading against every segment of its route, which made the
    geometry most of a replay's time. :func:`segment_distance_km` computes the segment's own
    angle and course and the same haversine and course from ``a`` two or three times per call;
    here what depends on the points alone is computed once, the distance to each point once per
    position, and the rest of a segment's measure only for a segment that can be the nearest.
    The arithmetic is :func:`segment_distance_km`'s and :func:`distance_km`'s, operation for
    operation, so the results are bit-identical (tests/unit/devices/test_geo.py holds them to
    that).
    """

    __slots__ = ("_ab", "_brg", "_cos", "_lat", "_len", "_sin", "_t12", "points")

    def __init__(self, points: Sequence[LatLon]) -> None:
        self.points = tuple(points)
        self._lat = [math.radians(q[0]) for q in self.points]
        self._cos = [math.cos(x) for x in self._lat]
        self._sin = [math.sin(x) for x in self._lat]
        pairs = list(itertools.pairwise(self.points))
        self._ab = [central_angle(a, b) for a, b in pairs]
        self._len = [EARTH_RADIUS_KM * ab for ab in self._ab]
        self._brg = [bearing_deg(a, b) for a, b in pairs]
        self._t12 = [math.radians(x) for x in self._brg]

    def distance_km(self, p: LatLon) -> float:
        """Distance from ``p`` to the polyline (to its point, when it has one only)."""
        if len(self.points) == 1:
            return distance_km(p, self.points[0])
        return self.nearest_km(p)[0]

    def nearest_km(self, p: LatLon) -> tuple[float, int]:
        """``min`` of :meth:`segment_distances_km` and the first segment at that distance.

        No point of a segment a→b is nearer ``p`` than (|pa| + |pb| - |ab|) / 2 (the triangle
        inequality), and the nearest segment is no farther than the nearest point: a segment
        whose bound exceeds that by a kilometre (the formulas round by less than a metre, even
        near antipodes) cannot be the nearest, and is not measured further.
        """
        ends = self._ends_km(p)
        ceiling = min(ends) + _PRUNE_SLACK_KM
        best, best_i = math.inf, -1
        for i, length in enumerate(self._len):
            if (ends[i] + ends[i + 1] - length) / 2 > ceiling:
                continue
            d = self._segment_km(p, i, ends)
            if best_i < 0 or d < best:  # as min() compares: the first of equals stays
                best, best_i = d, i
        return best, best_i

    def segment_distances_km(self, p: LatLon) -> list[float]:
        """``segment_distance_km(p, a, b)`` for every segment a→b, in order."""
        ends = self._ends_km(p)
        return [self._segment_km(p, i, ends) for i in range(len(self._ab))]

    def _ends_km(self, p: LatLon) -> list[float]:
        """``distance_km(p, q)`` for every point ``q``."""
        lat_p = math.radians(p[0])
        cos_p = math.cos(lat_p)
        out = []
        for q, lat_q, cos_q in zip(self.points, self._lat, self._cos, strict=True):
            dlon = math.radians(q[1] - p[1])
            h = math.sin((lat_q - lat_p) / 2) ** 2 + cos_p * cos_q * math.sin(dlon / 2) ** 2
            out.append(EARTH_RADIUS_KM * (2 * math.asin(min(1.0, math.sqrt(h)))))
        return out

    def _segment_km(self, p: LatLon, i: int, ends: list[float]) -> float:
        """``segment_distance_km(p, a, b)`` of segment ``i``, given ``p``'s point distances."""
        ab = self._ab[i]
        if ab < 1e-12:
            return ends[i]
        lat_p = math.radians(p[0])
        cos_p, sin_p = math.cos(lat_p), math.sin(lat_p)
        cos_a, sin_a = self._cos[i], self._sin[i]
        dlat = lat_p - self._lat[i]
        dlon = math.radians(p[1] - self.points[i][1])
        h = math.sin(dlat / 2) ** 2 + cos_a * cos_p * math.sin(dlon / 2) ** 2
        d13 = 2 * math.asin(min(1.0, math.sqrt(h)))  # central_angle(a, p)
        y = math.sin(dlon) * cos_p
        x = cos_a * sin_p - sin_a * cos_p * math.cos(dlon)
        deg = math.degrees(math.atan2(y, x)) % 360.0
        brg = 0.0 if deg >= 360.0 else deg  # bearing_deg(a, p)
        s = math.sin(d13) * math.sin(math.radians(brg) - self._t12[i])
        xt = EARTH_RADIUS_KM * math.asin(max(-1.0, min(1.0, s))) / EARTH_RADIUS_KM
        ahead = math.cos(math.radians(brg - self._brg[i])) >= 0
        if ahead and _along(d13, xt) <= ab:
            return abs(xt) * EARTH_RADIUS_KM
        return min(ends[i], ends[i + 1])


_PRUNE_SLACK_KM = 1.0
"""How far beyond the nearest point a segment's lower bound must lie for it to be skipped."""


def _along(d13: float, xt: float) -> float:
    """How far along the great circle from ``a`` the foot of the perpendicular from ``p`` lies
    (radians), from ``p``'s angle from ``a`` and its cross-track angle."""
    cos_xt = math.cos(xt)
    return math.acos(max(-1.0, min(1.0, math.cos(d13) / cos_xt))) if cos_xt > 1e-12 else 0.0


@dataclass(frozen=True, slots=True)
class Box:
    """A latitude/longitude rectangle; used for conservative land masks (never crossing ±180°)."""

    name: str
    lat_min: float
    lat_max: float
    lon_min: float
    lon_max: float

    def contains(self, p: LatLon) -> bool:
        return self.lat_min <= p[0] <= self.lat_max and self.lon_min <= p[1] <= self.lon_max


def sample_segment(a: LatLon, b: LatLon, step_km: float) -> list[LatLon]:
    """Points along a→b at most ``step_km`` apart, both ends included."""
    seg = GreatCircle(a, b)
    n = max(1, math.ceil(seg.length_km / step_km))
    return [seg.at(i / n) for i in range(n + 1)]
