"""Track and readings exports (api/exports.py, api/export_reads.py, api/routes_exports.py):
any track round-trips through gpxpy, geojson and shapely with the same points, readings through
csv.DictReader with the same values; milestones sit on the reading at or before them; the
routes stream the formats with their media types and apply the shipment and facility tenancy
(another tenant gets 404)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

import geojson
import gpxpy
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, shape

from api import routes_exports
from api.export_reads import to_reading
from api.exports import (
    READING_COLUMNS,
    ExportReading,
    GeoJson,
    Gpx,
    MilestoneMarker,
    ReadingsCsv,
    number,
    render,
)
from api.service import ApiState
from finance.checkpoints import CheckpointSigner
from finance.ledger_export import verify_bundle
from finance.ledger_store import StoredLedger
from tests.unit.api import records
from tests.unit.api.conftest import BANK_A, BANK_B, INSURER, OPS, SELLER_B

T0 = datetime(2026, 11, 21, tzinfo=UTC)


def floats(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


maybe = st.one_of(st.none(), floats(0, 100))


@st.composite
def reading(draw: st.DrawFn, minutes: int = 0) -> ExportReading:
    return ExportReading(
        time=T0 + timedelta(minutes=minutes, microseconds=draw(st.integers(0, 59_999_999))),
        device_id=draw(st.text(alphabet="ab9_.:-,\"<&' ", min_size=1, max_size=8)),
        seq=draw(st.integers(0, 2**63 - 1)),
        source=draw(st.sampled_from(["tradelane", "owntracks", None])),
        lat=draw(floats(-90, 90)),
        lon=draw(floats(-180, 180)),
        speed_kmh=draw(maybe),
        heading_deg=draw(st.one_of(st.none(), floats(0, 359.9))),
        fix=draw(st.sampled_from(["none", "2d", "3d", "dgps", None])),
        hdop=draw(st.one_of(st.none(), floats(0, 99.9))),
        temperature_c=draw(st.one_of(st.none(), floats(-90, 120))),
        humidity_pct=draw(maybe),
        shock_g=draw(maybe),
        light_lux=draw(maybe),
        tamper=draw(st.one_of(st.none(), st.booleans())),
        battery_pct=draw(maybe),
    )


@st.composite
def tracks(draw: st.DrawFn, min_size: int = 0) -> list[ExportReading]:
    size = draw(st.integers(min_size, 12))
    return [draw(reading(minutes=i)) for i in range(size)]


@given(tracks())
def test_any_track_round_trips_through_gpxpy_with_the_same_points(
    track: list[ExportReading],
) -> None:
    parsed = gpxpy.parse("".join(render(Gpx("shp-1"), track)))
    points = [p for t in parsed.tracks for s in t.segments for p in s.points]
    assert [(p.latitude, p.longitude) for p in points] == [(r.lat, r.lon) for r in track]
    assert [p.time for p in points] == [r.time for r in track]
    assert [p.horizontal_dilution for p in points] == [r.hdop for r in track]


@given(tracks())
def test_any_track_round_trips_through_geojson_and_shapely(track: list[ExportReading]) -> None:
    text = "".join(render(GeoJson("shp-1"), track))
    assert geojson.loads(text).is_valid, geojson.loads(text).errors()
    collection = json.loads(text)  # the geojson package rounds coordinates to 6 places
    readings = [f for f in collection["features"] if f["properties"]["kind"] == "reading"]
    assert [shape(f["geometry"]) for f in readings] == [Point(r.lon, r.lat) for r in track]
    for feature, r in zip(readings, track, strict=True):
        props = feature["properties"]
        assert props["time"] == r.time.isoformat()
        assert props["seq"] == r.seq
        assert props.get("temperature_c") == r.temperature_c
    lines = [f for f in collection["features"] if f["properties"]["kind"] == "track"]
    if len(track) >= 2:
        assert shape(lines[0]["geometry"]).equals_exact(
            LineString([(r.lon, r.lat) for r in track]), 0
        )
        assert list(shape(lines[0]["geometry"]).coords) == [(r.lon, r.lat) for r in track]
    else:
        assert lines == []


def _typed(name: str, text: str) -> object:
    if text == "":
        return None
    if name == "time":
        return datetime.fromisoformat(text)
    if name == "seq":
        return int(text)
    if name == "tamper":
        return {"true": True, "false": False}[text]
    if name in ("device_id", "source", "fix"):
        return text
    return float(text)


@given(tracks())
def test_any_readings_round_trip_through_csv_dictreader(track: list[ExportReading]) -> None:
    text = "".join(render(ReadingsCsv(), track))
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    assert tuple(reader.fieldnames or ()) == READING_COLUMNS
    back = [ExportReading(**{k: _typed(k, v) for k, v in row.items()}) for row in rows]  # type: ignore[arg-type]
    assert back == track


@given(floats(-180, 180))
def test_numbers_are_positional_and_exact(value: float) -> None:
    text = number(value)
    assert "e" not in text.lower()
    assert float(text) == value


def test_unpositioned_readings_are_rows_but_not_points() -> None:
    blind = ExportReading(time=T0, device_id="d", seq=1, temperature_c=4.0)
    seen = ExportReading(time=T0 + timedelta(minutes=1), device_id="d", seq=2, lat=1.0, lon=2.0)
    assert (
        len(list(csv.DictReader(io.StringIO("".join(render(ReadingsCsv(), [blind, seen])))))) == 2
    )
    parsed = gpxpy.parse("".join(render(Gpx("s"), [blind, seen])))
    assert parsed.get_track_points_no() == 1


def _at(minutes: float) -> ExportReading:
    return ExportReading(time=T0 + timedelta(minutes=minutes), device_id="d", lat=minutes, lon=0.0)


@pytest.mark.parametrize(
    ("milestone_minute", "marked_minute"),
    [
        (-5, 0),  # before any reading: on the first
        (0, 0),  # at a reading: on that reading
        (1.5, 1),  # between: on the one before
        (2, 2),
        (9, 3),  # after the last: on the last
    ],
)
def test_a_milestone_sits_on_the_last_reading_at_or_before_it(
    milestone_minute: float, marked_minute: int
) -> None:
    marker = MilestoneMarker({"departed_origin": T0 + timedelta(minutes=milestone_minute)})
    settled = [pair for m in range(4) for pair in marker.push(_at(m))] + marker.finish()
    assert [r.lat for r, _ in settled] == [0, 1, 2, 3]
    assert [r.lat for r, names in settled if names == ["departed_origin"]] == [marked_minute]


def test_milestones_appear_in_gpx_and_geojson() -> None:
    track = [_at(m) for m in range(3)]
    marks = {"departed_origin": T0 + timedelta(seconds=30), "delivered": T0 + timedelta(hours=1)}
    points = gpxpy.parse("".join(render(Gpx("s", marks), track))).tracks[0].segments[0].points
    assert [p.name for p in points] == ["departed_origin", None, "delivered"]
    features = json.loads("".join(render(GeoJson("s", marks), track)))["features"]
    found = {f["properties"]["milestone"]: f for f in features if "milestone" in f["properties"]}
    assert found["departed_origin"]["geometry"]["coordinates"] == [0.0, 0.0]
    assert found["delivered"]["geometry"]["coordinates"] == [0.0, 2.0]


def test_an_influx_row_becomes_a_reading() -> None:
    row = {"_time": T0, "device_id": "dev-a", "source": "tradelane", "seq": 7, "lat": 1,
           "lon": 2.5, "fix": "3d", "tamper": False, "temperature_c": 4, "table": 0}  # fmt: skip
    got = to_reading(row)
    assert (got.seq, got.lat, got.lon, got.temperature_c, got.tamper) == (7, 1.0, 2.5, 4.0, False)
    assert got.battery_pct is None
    assert {f.name for f in fields(got)} == set(READING_COLUMNS)


# --- the routes ---------------------------------------------------------------------------------


class FakeHistory:
    client = object()

    async def close(self) -> None:
        return None

    class settings:  # noqa: N801 - mimics InfluxSettings' attribute
        bucket = "telemetry"


STREAM = [ExportReading(T0 + timedelta(minutes=10 * i), "dev-a", i, lat=31.0 + i, lon=121.0)
          for i in range(3)]  # fmt: skip
"""The fleet's shp-a departed at T0 + 10 min: the second reading marks it."""


@pytest.fixture
def streamed(monkeypatch: pytest.MonkeyPatch, state: ApiState) -> list[str]:
    asked: list[str] = []

    async def fake(_client: Any, _bucket: str, shipment_id: str, *_: Any) -> AsyncIterator[Any]:
        asked.append(shipment_id)
        for r in STREAM:
            yield r

    monkeypatch.setattr(routes_exports, "stream_readings", fake)
    state.history = FakeHistory()  # type: ignore[assignment]
    return asked


@pytest.mark.parametrize(
    ("fmt", "media"),
    [("gpx", "application/gpx+xml"), ("geojson", "application/geo+json"), ("csv", "text/csv")],
)
def test_a_shipment_exports_in_each_format(
    client: TestClient, streamed: list[str], fmt: str, media: str
) -> None:
    answer = client.get(f"/api/v1/shipments/shp-a/export?format={fmt}", headers=BANK_A)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith(media)
    assert f'filename="shp-a.{fmt}"' in answer.headers["content-disposition"]
    assert streamed == ["shp-a"]
    if fmt == "gpx":
        points = gpxpy.parse(answer.text).tracks[0].segments[0].points
        assert [p.latitude for p in points] == [31.0, 32.0, 33.0]
        assert [p.name for p in points] == [None, "departed_origin", None]  # the read model's
    elif fmt == "geojson":
        assert geojson.loads(answer.text).is_valid
    else:
        assert len(list(csv.DictReader(io.StringIO(answer.text)))) == 3


@pytest.mark.parametrize("headers", [BANK_B, INSURER, SELLER_B])
def test_another_tenant_cannot_export_a_shipment(
    client: TestClient, streamed: list[str], headers: dict[str, str]
) -> None:
    answer = client.get("/api/v1/shipments/shp-a/export?format=gpx", headers=headers)
    assert answer.status_code == 404
    assert streamed == [], "nothing was read for a key that may not see it"


def test_shipment_export_refuses_bad_input(client: TestClient, streamed: list[str]) -> None:
    base = "/api/v1/shipments/shp-a/export"
    assert client.get(f"{base}?format=kml", headers=OPS).status_code == 422
    assert client.get(f"{base}?start=2026-01-01T00:00:00", headers=OPS).status_code == 422
    span = "start=2026-01-02T00:00:00Z&stop=2026-01-01T00:00:00Z"
    assert client.get(f"{base}?{span}", headers=OPS).status_code == 422
    assert client.get(base).status_code == 401


def test_shipment_export_without_influx_is_503(client: TestClient) -> None:
    assert client.get("/api/v1/shipments/shp-a/export", headers=OPS).status_code == 503


SIGNER = CheckpointSigner(Ed25519PrivateKey.from_private_bytes(bytes(range(32))))


class FakeFinance:
    def __init__(self) -> None:
        entry = records.drawdown_entry("fac-a", "shp-a", "75000", 11)
        self.stored_ledger = StoredLedger("fac-a", 0, (entry,), (), (SIGNER.sign(entry),))
        self.asked: list[str] = []

    async def ledger(self, facility_id: str) -> Any:
        raise AssertionError("exports read the stored ledger")

    async def stored(self, facility_id: str) -> StoredLedger:
        self.asked.append(facility_id)
        return self.stored_ledger


def test_a_facility_ledger_exports_as_csv_and_a_bundle_that_verifies(
    client: TestClient, state: ApiState
) -> None:
    state.finance = FakeFinance()
    base = "/api/v1/facilities/fac-a/ledger/export"
    answer = client.get(f"{base}?format=csv", headers=BANK_A)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [r["amount"] for r in rows] == ["75000", "75000"]
    answer = client.get(base, headers=BANK_A)
    assert answer.headers["content-type"] == "application/json"
    assert verify_bundle(answer.content, [SIGNER.public_key], "fac-a").ok


@pytest.mark.parametrize("headers", [BANK_B, INSURER, SELLER_B])
def test_another_tenant_cannot_export_a_ledger(
    client: TestClient, state: ApiState, headers: dict[str, str]
) -> None:
    state.finance = finance = FakeFinance()
    answer = client.get("/api/v1/facilities/fac-a/ledger/export?format=bundle", headers=headers)
    assert answer.status_code == 404
    assert finance.asked == []


def test_a_ledger_over_the_cap_is_422(client: TestClient, state: ApiState) -> None:
    state.finance = FakeFinance()
    state.settings = state.settings.model_copy(update={"ledger_max_entries": 0})
    answer = client.get("/api/v1/facilities/fac-a/ledger/export", headers=OPS)
    assert answer.status_code == 422
    assert "tradelane export" in answer.text
