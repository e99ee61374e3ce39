"""Readings → InfluxDB line protocol."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given

from ingest.points import to_line, to_lines
from tests.strategies import ingested
from tradelane.contracts import Gps, IngestedReading, SourceFormat, TrackerReading


def record(**reading: object) -> IngestedReading:
    base: dict[str, object] = {
        "device_id": "trk-1",
        "seq": 3,
        "ts": datetime(2026, 11, 24, 10, 0, 0, 123456, tzinfo=UTC),
    }
    base.update(reading)
    return IngestedReading(
        reading=TrackerReading.model_validate(base),
        received_at=datetime(2026, 11, 24, 10, 0, 1, tzinfo=UTC),
        mqtt_topic="t",
        source_format=SourceFormat.NATIVE,
    )


def test_full_reading() -> None:
    line = to_line(
        record(
            gps=Gps(lat=1.5, lon=103.75, speed_kmh=30, heading_deg=90, hdop=0.8),
            temperature_c=4.25,
            battery_pct=80,
            tamper=True,
        ),
        "shp-9",
    )
    assert line == (
        "reading,device_id=trk-1,shipment_id=shp-9,source=tradelane "
        'battery_pct=80.0,fix="3d",hdop=0.8,heading_deg=90.0,lat=1.5,lon=103.75,seq=3i,'
        "speed_kmh=30.0,tamper=true,temperature_c=4.25 1795514400123456000"
    )


def test_absent_values_are_absent_fields_and_unknown_shipment_no_tag() -> None:
    line = to_line(record(), None)
    assert (
        line == "reading,device_id=trk-1,source=tradelane seq=3i,tamper=false 1795514400123456000"
    )


def test_tag_values_are_escaped() -> None:
    assert "device_id=ot:a\\ b" not in to_line(record(device_id="ot:a.b"), "x y,z=1")
    assert "shipment_id=x\\ y\\,z\\=1" in to_line(record(device_id="ot:a.b"), "x y,z=1")


@given(ingested)
def test_every_reading_renders_one_well_formed_line(rec: IngestedReading) -> None:
    [line] = to_lines([rec], {})
    head, fields, stamp = line.rsplit(" ", 2)
    assert head.startswith("reading,device_id=")
    assert "\n" not in line
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert int(stamp) == (rec.reading.ts - epoch) // timedelta(microseconds=1) * 1000
    assert f"seq={rec.reading.seq}i" in fields
