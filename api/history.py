"""Track and sensor history of a shipment from InfluxDB, downsampled in the database.

The telemetry sink writes measurement ``reading`` with tags ``device_id``, ``shipment_id`` and
``source`` and one field per sensor value (see ``ingest/points.py``). A query selects the
shipment's points in a time range, merges its trackers (``group`` by field), and downsamples
with ``aggregateWindow(every: resolution)`` so a month-long voyage comes back as a few hundred
points however often its trackers reported. Values are passed as Flux parameters, never
spliced into the query text (the client sends them as
``_name`` options).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync

from tradelane.settings import InfluxSettings

SENSOR_FIELDS = ("temperature_c", "humidity_pct", "shock_g", "light_lux", "battery_pct")
Aggregate = Literal["mean", "min", "max"]
_DURATION = re.compile(r"^(\d{1,6})(s|m|h|d)$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_POINTS = 5000
"""A query's window count is capped: the resolution is coarsened to stay under it."""

_FLUX = """
from(bucket: _bucket)
  |> range(start: _start, stop: _stop)
  |> filter(fn: (r) => r._measurement == "reading" and r.shipment_id == _shipment)
  |> filter(fn: (r) => contains(value: r._field, set: _fields))
  |> group(columns: ["_field"])
  |> sort(columns: ["_time"])
  |> aggregateWindow(every: _every, fn: {fn}, createEmpty: false)
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
  |> sort(columns: ["_time"])
"""


def parse_resolution(text: str) -> timedelta:
    """``"15m"``, ``"1h"``, ``"30s"``, ``"1d"`` → a duration; ``ValueError`` otherwise."""
    match = _DURATION.match(text)
    if match is None or int(match[1]) == 0:
        raise ValueError("resolution must look like 30s, 15m, 1h or 1d")
    return timedelta(seconds=int(match[1]) * _UNIT_S[match[2]])


def effective_resolution(start: datetime, stop: datetime, wanted: timedelta) -> timedelta:
    """``wanted``, coarsened to whole seconds so at most :data:`MAX_POINTS` windows fit."""
    span_s = max((stop - start).total_seconds(), 1.0)
    floor_s = int(span_s // MAX_POINTS) + 1
    return timedelta(seconds=max(int(wanted.total_seconds()), floor_s))


@dataclass(frozen=True, slots=True)
class Series:
    resolution_s: int
    points: list[dict[str, Any]]


class History:
    """Reads history through one InfluxDB client for the life of the API."""

    def __init__(self, settings: InfluxSettings) -> None:
        self.settings = settings
        self._client: InfluxDBClientAsync | None = None

    @property
    def client(self) -> InfluxDBClientAsync:
        """Created on first use: the async client must be built inside the running loop."""
        if self._client is None:
            self._client = InfluxDBClientAsync(
                url=self.settings.url,
                token=self.settings.token.get_secret_value(),
                org=self.settings.org,
            )
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()  # type: ignore[no-untyped-call]
            self._client = None

    async def series(
        self,
        shipment_id: str,
        fields: tuple[str, ...],
        start: datetime,
        stop: datetime,
        resolution: timedelta,
        aggregate: Aggregate = "mean",
    ) -> Series:
        """Downsampled values of ``fields`` for the shipment, one dict per window."""
        every = effective_resolution(start, stop, resolution)
        params = {
            "_bucket": self.settings.bucket,
            "_start": start,
            "_stop": stop,
            "_shipment": shipment_id,
            "_fields": list(fields),
            "_every": every,
        }
        query = _FLUX.replace("{fn}", aggregate)
        tables = await self.client.query_api().query(query, params=params)
        points: list[dict[str, Any]] = []
        for table in tables:
            for record in table.records:
                values = record.values
                when: datetime = record.get_time()  # type: ignore[no-untyped-call]
                point: dict[str, Any] = {"time": when.isoformat()}
                for name in fields:
                    value = values.get(name)
                    point[name] = None if value is None else float(value)
                points.append(point)
        points.sort(key=lambda p: str(p["time"]))
        return Series(int(every.total_seconds()), points)
