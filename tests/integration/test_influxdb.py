"""influxdb-client against the real InfluxDB 2.x: write points, read them back with Flux."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS

from tradelane.settings import InfluxSettings

pytestmark = pytest.mark.integration


def test_write_points_and_read_back_with_flux(influx_settings: InfluxSettings, unique: str) -> None:
    start = datetime(2026, 11, 24, 10, tzinfo=UTC)
    device = f"itest-{unique}"
    points = [
        Point("reading")
        .tag("device_id", device)
        .tag("shipment_id", "shp-1")
        .field("temperature_c", 4.0 + i / 10)
        .field("battery_pct", 100.0 - i)
        .time(start + timedelta(minutes=i), WritePrecision.S)
        for i in range(10)
    ]
    with InfluxDBClient(
        url=influx_settings.url,
        token=influx_settings.token.get_secret_value(),
        org=influx_settings.org,
    ) as client:
        assert client.ping()
        client.write_api(write_options=SYNCHRONOUS).write(influx_settings.bucket, record=points)
        flux = f'''
            from(bucket: "{influx_settings.bucket}")
              |> range(start: 2026-11-24T00:00:00Z, stop: 2026-11-25T00:00:00Z)
              |> filter(fn: (r) => r._measurement == "reading" and r.device_id == "{device}")
              |> filter(fn: (r) => r._field == "temperature_c")
              |> sort(columns: ["_time"])
        '''
        tables = client.query_api().query(flux)
        rows = [(rec.get_time(), rec.get_value()) for table in tables for rec in table.records]
        mean = client.query_api().query(flux + "|> mean()")
        means = [rec.get_value() for table in mean for rec in table.records]
    assert [t for t, _ in rows] == [start + timedelta(minutes=i) for i in range(10)]
    assert [v for _, v in rows] == pytest.approx([4.0 + i / 10 for i in range(10)])
    assert means == pytest.approx([4.45])
