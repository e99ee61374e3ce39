"""The Fleet telemetry dashboard's Flux queries against the real InfluxDB, on points the real sink
wrote: a booking and readings go to Kafka, `Sink` writes them, then every query of the
dashboard (panels and template variables, with Grafana's variables substituted as Grafana
would) runs and must return rows for the test's shipment; the measurement and fields the
queries name must exist in the bucket."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync

from ingest.sink import Sink, SinkConfig
from tests.grafana_boards import (
    all_queries,
    datasource_uid,
    flux_fields,
    flux_measurements,
    substitute_flux,
)
from tests.samples import booking as sample_booking
from tradelane.contracts import Gps, IngestedReading, SourceFormat, TrackerReading
from tradelane.settings import InfluxSettings, KafkaSettings
from tradelane.topics import SHIPMENTS_REGISTRY, TRACKER_READINGS
from transport import kafka as clients

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 18, 6, tzinfo=UTC)
PER_DEVICE = 12
RANGE = ("2026-11-18T00:00:00Z", "2026-11-19T00:00:00Z")


def readings(devices: list[str]) -> list[IngestedReading]:
    """A reading every ten minutes per tracker, with every sensor the dashboard draws."""
    out = []
    for d, device in enumerate(devices):
        for seq in range(PER_DEVICE):
            ts = START + timedelta(minutes=10 * seq)
            reading = TrackerReading(
                device_id=device,
                seq=seq,
                ts=ts,
                gps=Gps(lat=31.0 + seq / 10, lon=121.0 + d),
                temperature_c=4.0 + seq / 4,
                humidity_pct=80.0,
                shock_g=0.2 * seq,
                battery_pct=90.0 - seq,
            )
            out.append(
                IngestedReading(
                    reading=reading,
                    received_at=ts,
                    mqtt_topic=f"tradelane/v1/trackers/{device}/readings",
                    source_format=SourceFormat.NATIVE,
                )
            )
    return out


async def query(influx: InfluxSettings, flux: str) -> list[dict[str, Any]]:
    async with InfluxDBClientAsync(
        url=influx.url, token=influx.token.get_secret_value(), org=influx.org
    ) as client:
        tables = await client.query_api().query(flux)
    return [rec.values for table in tables for rec in table.records]


async def write_through_the_sink(
    kafka: KafkaSettings, influx: InfluxSettings, shipment: str, devices: list[str], unique: str
) -> None:
    """The booking, then the readings, through `Sink` (its own group); returns once InfluxDB
    holds every reading."""
    producer = clients.producer(kafka)
    await producer.start()
    try:
        booking = sample_booking(shipment, devices)
        await producer.send_and_wait(
            SHIPMENTS_REGISTRY.name, booking.model_dump_json().encode(), key=shipment.encode()
        )
        stop = asyncio.Event()
        sink = Sink(kafka, influx, SinkConfig(group_id=f"grafana-{unique}", from_beginning=False))
        task = asyncio.create_task(sink.run(stop))
        try:
            await asyncio.wait_for(sink.ready.wait(), 30)
            for record in readings(devices):
                await producer.send(
                    TRACKER_READINGS.name,
                    record.model_dump_json().encode(),
                    key=record.reading.device_id.encode(),
                )
            await producer.flush()
            await wait_for_points(influx, shipment, len(devices) * PER_DEVICE)
        finally:
            stop.set()
            await task
    finally:
        await producer.stop()


async def wait_for_points(influx: InfluxSettings, shipment: str, total: int) -> None:
    flux = f'''
        from(bucket: "{influx.bucket}")
          |> range(start: {RANGE[0]}, stop: {RANGE[1]})
          |> filter(fn: (r) => r._measurement == "reading" and r._field == "seq")
          |> filter(fn: (r) => r.shipment_id == "{shipment}")
          |> group()
          |> count()
    '''
    deadline = time.monotonic() + 60
    count = 0
    while time.monotonic() < deadline:
        rows = await query(influx, flux)
        count = int(rows[0]["_value"]) if rows else 0
        if count >= total:
            return
        await asyncio.sleep(0.3)  # polling InfluxDB under a deadline
    raise AssertionError(f"{count} of {total} points in InfluxDB after 60 s")


async def test_every_fleet_query_returns_the_sinks_points(
    kafka_settings: KafkaSettings, influx_settings: InfluxSettings, unique: str
) -> None:
    shipment = f"shp-graf-{unique}"
    devices = [f"graf-{unique}-{i}" for i in range(2)]
    await write_through_the_sink(kafka_settings, influx_settings, shipment, devices, unique)
    variables = {"bucket": [influx_settings.bucket], "shipment": [shipment], "device": devices}
    flux_queries = all_queries(datasource_uid("influxdb"))
    assert len(flux_queries) >= 8
    for q in flux_queries:
        rows = await query(influx_settings, substitute_flux(q.text, variables, *RANGE))
        assert rows, f"{q.where}: no rows"
        if q.where == "variable shipment":
            assert shipment in {r["_value"] for r in rows}
        elif q.where == "variable device":
            assert {r["_value"] for r in rows} == set(devices)
        elif q.where == "Latest reading per tracker":
            assert sorted(r["device_id"] for r in rows) == devices  # one row per tracker
            assert all(r["battery_pct"] == 90.0 - (PER_DEVICE - 1) for r in rows)
        else:
            assert {r.get("shipment_id") for r in rows} == {shipment}, q.where

    named_fields = set().union(*(flux_fields(q.text) for q in flux_queries))
    measurements = set().union(*(flux_measurements(q.text) for q in flux_queries))
    bucket = influx_settings.bucket
    stored = await query(
        influx_settings,
        'import "influxdata/influxdb/schema"\n'
        f'schema.measurements(bucket: "{bucket}", start: {RANGE[0]}, stop: {RANGE[1]})',
    )
    assert measurements <= {r["_value"] for r in stored}
    for measurement in measurements:
        keys = await query(
            influx_settings,
            'import "influxdata/influxdb/schema"\n'
            f'schema.measurementFieldKeys(bucket: "{bucket}", measurement: "{measurement}", '
            f"start: {RANGE[0]}, stop: {RANGE[1]})",
        )
        assert named_fields <= {r["_value"] for r in keys}
