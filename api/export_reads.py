"""Where a shipment's exported track and readings come from: InfluxDB, every stored reading.

The source of truth for exports is the telemetry store the sink writes (measurement
``reading``, ``ingest/points.py``), read raw, not downsampled: it holds every reading of every
tracker of the shipment, tagged with the shipment id, for as long as the bucket's retention,
and replays and redeliveries overwrite their own point, so each reading is there once. The
alternatives are worse for an export: ``tracker.readings`` is keyed by device, kept two
weeks, and would have to be scanned whole for one shipment; the API's read model holds only
the last position. The API and ``tradelane export`` read it the same way, through
:func:`stream_readings`, one record at a time (``query_stream``), so neither holds a voyage.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from datetime import UTC, datetime
from typing import Any

from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync

from api.exports import ExportReading

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
"""The default range: everything stored (bounds InfluxDB accepts), never the wall clock."""

_FLUX = """
from(bucket: _bucket)
  |> range(start: _start, stop: _stop)
  |> filter(fn: (r) => r._measurement == "reading" and r.shipment_id == _shipment)
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
  |> group()
  |> sort(columns: ["_time", "device_id"])
"""
_FLOATS = (
    "lat", "lon", "speed_kmh", "heading_deg", "hdop", "temperature_c", "humidity_pct",
    "shock_g", "light_lux", "battery_pct",
)  # fmt: skip


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def to_reading(values: Mapping[str, Any]) -> ExportReading:
    """One pivoted InfluxDB row (``_time``, tags, one column per field) as a reading."""
    seq = values.get("seq")
    tamper = values.get("tamper")
    fix = values.get("fix")
    return ExportReading(
        time=values["_time"],
        device_id=str(values.get("device_id", "")),
        seq=None if seq is None else int(seq),
        source=values.get("source"),
        fix=None if fix is None else str(fix),
        tamper=None if tamper is None else bool(tamper),
        **{name: _float(values.get(name)) for name in _FLOATS},
    )


async def stream_readings(
    client: InfluxDBClientAsync,
    bucket: str,
    shipment_id: str,
    start: datetime | None = None,
    stop: datetime | None = None,
) -> AsyncGenerator[ExportReading, None]:
    """Every stored reading of the shipment in ``[start, stop)``, in time order (ties by
    device), as InfluxDB streams them. Closing this generator (a client that went away)
    closes InfluxDB's answer too, rather than leaving it to the garbage collector."""
    params = {
        "_bucket": bucket,
        "_start": start or EARLIEST,
        "_stop": stop or LATEST,
        "_shipment": shipment_id,
    }
    records = await client.query_api().query_stream(_FLUX, params=params)
    try:
        async for record in records:
            yield to_reading(record.values)
    finally:
        await records.aclose()
