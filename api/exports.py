"""A shipment's track as GPX 1.1 and GeoJSON, and its readings as CSV (pure, no I/O).

Each format is a :class:`Writer`, fed one :class:`ExportReading` at a time (in time order) and
answering the text that reading adds, so a shell streams a voyage of any length from InfluxDB
to a socket or a file without holding the document, from a plain or an async iterator alike
(:func:`render` is the plain loop): the GPX and CSV writers hold one reading, the GeoJSON
writer also the track's coordinates (two floats a position) for the LineString it ends with.

Written by hand rather than through a document library, because those build the whole document
in memory first; the unit tests parse every output back with ``gpxpy``, ``geojson``,
``shapely`` and :mod:`csv`. Coordinates are written in positional notation with the shortest
digits that read back as the same float (GPX's ``xsd:decimal`` has no exponent), so a track
round-trips exactly.

Milestones (``{"departed_origin": at, ...}``, from the read model) are placed where the
trackers said the shipment was: on the last positioned reading at or before the milestone's
time (the first reading when the milestone came before any). GeoJSON gives each its own Point
feature; GPX names the track point (``<name>``): GPX 1.1 puts waypoints before the track, so
a ``<wpt>`` would need a second pass over the readings.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Protocol
from xml.sax.saxutils import escape, quoteattr

GPX_NAMESPACE = "http://www.topografix.com/GPX/1/1"
EXTENSION_NAMESPACE = "https://tradelane.dev/schemas/gpx/1"
"""Namespace of the per-point extensions (device, seq, sensors) in a GPX export."""


@dataclass(frozen=True, slots=True)
class ExportReading:
    """One stored reading, as the sink wrote it to InfluxDB (``ingest/points.py``): the
    reading contract's fields that are kept there, flat."""

    time: datetime
    device_id: str
    seq: int | None = None
    source: str | None = None
    lat: float | None = None
    lon: float | None = None
    speed_kmh: float | None = None
    heading_deg: float | None = None
    fix: str | None = None
    hdop: float | None = None
    temperature_c: float | None = None
    humidity_pct: float | None = None
    shock_g: float | None = None
    light_lux: float | None = None
    tamper: bool | None = None
    battery_pct: float | None = None

    @property
    def positioned(self) -> bool:
        return self.lat is not None and self.lon is not None


READING_COLUMNS = tuple(f.name for f in fields(ExportReading))
"""The readings CSV's header (and the GeoJSON points' properties), in this order."""
_SENSORS = READING_COLUMNS[READING_COLUMNS.index("speed_kmh") :]
_GPX_FIXES = {"none", "2d", "3d", "dgps", "pps"}


def number(value: float) -> str:
    """A float in positional notation, the shortest digits that read back as ``value``."""
    text = format(Decimal(repr(value)), "f")
    return text[:-2] if text.endswith(".0") else text


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return number(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _line(cells: Iterable[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    return out.getvalue()


class Writer(Protocol):
    """One export format: the text before, for each reading, and after."""

    media_type: str
    suffix: str

    def start(self) -> str: ...

    def add(self, reading: ExportReading) -> str: ...

    def end(self) -> str: ...


def render(writer: Writer, readings: Iterable[ExportReading]) -> Iterator[str]:
    """The whole document, a chunk at a time."""
    yield writer.start()
    for reading in readings:
        yield writer.add(reading)
    yield writer.end()


class ReadingsCsv:
    """One row per reading (RFC 4180), header first; an absent value is an empty cell."""

    media_type = "text/csv; charset=utf-8"
    suffix = "csv"

    def start(self) -> str:
        return _line(READING_COLUMNS)

    def add(self, reading: ExportReading) -> str:
        return _line(_cell(getattr(reading, name)) for name in READING_COLUMNS)

    def end(self) -> str:
        return ""


class MilestoneMarker:
    """Pairs each positioned reading with the milestones it marks (module docstring). Holds
    one reading back: whether it is the last before a milestone shows at the next."""

    def __init__(self, milestones: Mapping[str, datetime] | None = None) -> None:
        self.milestones = dict(milestones or {})
        self._pending = sorted(self.milestones.items(), key=lambda item: (item[1], item[0]))
        self._held: ExportReading | None = None

    def push(self, reading: ExportReading) -> list[tuple[ExportReading, list[str]]]:
        """The reading now settled (the one held before), if ``reading`` is positioned."""
        if not reading.positioned:
            return []
        held, self._held = self._held, reading
        if held is None:
            return []
        names = []
        while self._pending and self._pending[0][1] < reading.time:
            names.append(self._pending.pop(0)[0])  # earlier ones went to earlier points
        return [(held, names)]

    def finish(self) -> list[tuple[ExportReading, list[str]]]:
        """The last positioned reading, with every milestone not placed yet."""
        if self._held is None:
            return []
        names = [name for name, _ in self._pending]
        self._pending = []
        return [(self._held, names)]


def _gpx_point(r: ExportReading, names: list[str]) -> str:
    lat, lon = quoteattr(number(r.lat or 0.0)), quoteattr(number(r.lon or 0.0))
    parts = [f"<trkpt lat={lat} lon={lon}>"]
    parts.append(f"<time>{r.time.isoformat().replace('+00:00', 'Z')}</time>")
    if names:
        parts.append(f"<name>{escape(', '.join(names))}</name><type>milestone</type>")
    if r.fix in _GPX_FIXES:
        parts.append(f"<fix>{r.fix}</fix>")
    if r.hdop is not None:
        parts.append(f"<hdop>{number(r.hdop)}</hdop>")
    extra = [("device_id", r.device_id), ("seq", r.seq), ("source", r.source)]
    extra += [(name, getattr(r, name)) for name in _SENSORS if name not in ("fix", "hdop")]
    body = "".join(f"<tl:{k}>{escape(_cell(v))}</tl:{k}>" for k, v in extra if v is not None)
    parts.append(f"<extensions>{body}</extensions></trkpt>\n")
    return "".join(parts)


class Gpx:
    """GPX 1.1: one track, one segment, a point per positioned reading with its time, fix,
    HDOP and (as extensions) device, seq and sensor values; milestones name their point."""

    media_type = "application/gpx+xml"
    suffix = "gpx"

    def __init__(self, shipment_id: str, milestones: Mapping[str, datetime] | None = None):
        self.shipment_id = shipment_id
        self.marker = MilestoneMarker(milestones)

    def start(self) -> str:
        name = escape(self.shipment_id)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<gpx version="1.1" creator="Tradelane" xmlns="{GPX_NAMESPACE}" '
            f'xmlns:tl="{EXTENSION_NAMESPACE}" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xsi:schemaLocation="{GPX_NAMESPACE} http://www.topografix.com/GPX/1/1/gpx.xsd">\n'
            f"<metadata><name>{name}</name></metadata>\n<trk><name>{name}</name><trkseg>\n"
        )

    def add(self, reading: ExportReading) -> str:
        return "".join(_gpx_point(r, names) for r, names in self.marker.push(reading))

    def end(self) -> str:
        last = "".join(_gpx_point(r, names) for r, names in self.marker.finish())
        return last + "</trkseg></trk>\n</gpx>\n"


def _properties(r: ExportReading) -> dict[str, object]:
    props: dict[str, object] = {"kind": "reading"}
    for name in READING_COLUMNS:
        value = getattr(r, name)
        if value is not None and name not in ("lat", "lon"):
            props[name] = value.isoformat() if isinstance(value, datetime) else value
    return props


def _feature(geometry: Mapping[str, object], properties: Mapping[str, object]) -> str:
    return json.dumps({"type": "Feature", "geometry": geometry, "properties": properties})


class GeoJson:
    """A GeoJSON FeatureCollection (RFC 7946): a Point per positioned reading with its
    properties, a Point per milestone, then the track as one LineString (when it has two
    positions or more). Coordinates are [lon, lat]."""

    media_type = "application/geo+json"
    suffix = "geojson"

    def __init__(self, shipment_id: str, milestones: Mapping[str, datetime] | None = None):
        self.shipment_id = shipment_id
        self.marker = MilestoneMarker(milestones)
        self.line: list[list[float]] = []
        self.marks: list[str] = []

    def start(self) -> str:
        return '{"type":"FeatureCollection","features":[\n'

    def _settled(self, settled: list[tuple[ExportReading, list[str]]]) -> str:
        out = []
        for reading, names in settled:
            point = {"type": "Point", "coordinates": [reading.lon, reading.lat]}
            out.append(("" if not self.line else ",\n") + _feature(point, _properties(reading)))
            self.line.append([reading.lon or 0.0, reading.lat or 0.0])
            for name in names:
                props = {"kind": "milestone", "milestone": name}
                props["at"] = self.marker.milestones[name].isoformat()
                props["reading_time"] = reading.time.isoformat()
                self.marks.append(_feature(point, props))
        return "".join(out)

    def add(self, reading: ExportReading) -> str:
        return self._settled(self.marker.push(reading))

    def end(self) -> str:
        out = [self._settled(self.marker.finish())]
        out += [("" if not self.line else ",\n") + mark for mark in self.marks]
        if len(self.line) >= 2:
            track = {"type": "LineString", "coordinates": self.line}
            out.append(",\n" + _feature(track, {"kind": "track", "shipment_id": self.shipment_id}))
        return "".join(out) + "\n]}\n"
