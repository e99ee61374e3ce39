"""Live-feed filters: which items a client asked for (access rules are applied separately).

A filter is parsed from query parameters (``shipment``, ``status``, ``alert``, ``type``,
``bbox``) or from a WebSocket ``{"filter": {...}}`` message with the same names. Every part is
optional; an empty filter passes everything the principal may see.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from api.feed_item import FeedItem, ItemType

BBox = tuple[float, float, float, float]
"""min_lon, min_lat, max_lon, max_lat (WGS84 degrees), as in GeoJSON."""


def parse_bbox(text: str | None) -> BBox | None:
    """``"min_lon,min_lat,max_lon,max_lat"`` → a box; ``ValueError`` when malformed."""
    if text is None or text == "":
        return None
    parts = text.split(",")
    if len(parts) != 4:
        raise ValueError("bbox needs 4 numbers: min_lon,min_lat,max_lon,max_lat")
    min_lon, min_lat, max_lon, max_lat = (float(p) for p in parts)
    if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180):
        raise ValueError("bbox longitudes must be within [-180, 180]")
    if not (-90 <= min_lat <= max_lat <= 90):
        raise ValueError("bbox latitudes must be within [-90, 90] and min <= max")
    return (min_lon, min_lat, max_lon, max_lat)


def in_bbox(box: BBox, lat: float, lon: float) -> bool:
    """Inside the box; a box with min_lon > max_lon crosses the antimeridian."""
    min_lon, min_lat, max_lon, max_lat = box
    if not min_lat <= lat <= max_lat:
        return False
    if min_lon <= max_lon:
        return min_lon <= lon <= max_lon
    return lon >= min_lon or lon <= max_lon


def _set(values: Iterable[str] | None) -> frozenset[str] | None:
    if values is None:
        return None
    out = frozenset(v.strip() for item in values for v in item.split(",") if v.strip())
    return out or None


@dataclass(frozen=True, slots=True)
class FeedFilter:
    """``shipments``/``statuses``: only items of those shipments / shipments in those states;
    ``alerts``: only alerts of those kinds (other item types unaffected); ``types``: only those
    item types; ``bbox``: only shipment items whose shipment's last position is in the box
    (items of shipments with no position yet are left out). Finance items carry no status or
    position, so ``status`` and ``bbox`` leave them out."""

    shipments: frozenset[str] | None = None
    statuses: frozenset[str] | None = None
    alerts: frozenset[str] | None = None
    types: frozenset[ItemType] | None = None
    bbox: BBox | None = None

    @classmethod
    def parse(
        cls,
        shipments: Iterable[str] | None = None,
        statuses: Iterable[str] | None = None,
        alerts: Iterable[str] | None = None,
        types: Iterable[str] | None = None,
        bbox: str | None = None,
    ) -> FeedFilter:
        """Build a filter from repeated or comma-separated values; ``ValueError`` if bad."""
        type_names = _set(types)
        return cls(
            shipments=_set(shipments),
            statuses=_set(statuses),
            alerts=_set(alerts),
            types=None if type_names is None else frozenset(ItemType(t) for t in type_names),
            bbox=parse_bbox(bbox),
        )

    def matches(self, item: FeedItem) -> bool:
        if self.types is not None and item.type not in self.types:
            return False
        if self.shipments is not None and item.shipment_id not in self.shipments:
            return False
        if self.statuses is not None and item.status not in self.statuses:
            return False
        alert_kind_unwanted = self.alerts is not None and item.alert not in self.alerts
        if item.type is ItemType.ALERT and alert_kind_unwanted:
            return False
        if self.bbox is not None:
            if item.lat is None or item.lon is None:
                return False
            return in_bbox(self.bbox, item.lat, item.lon)
        return True
