"""Readings as InfluxDB points: the telemetry schema Grafana users query.

Measurement ``reading``; tags ``device_id``, ``shipment_id`` (when the registry knows the
device) and ``source``; one field per sensor value that is present (``lat``, ``lon``,
``speed_kmh``, ``heading_deg``, ``hdop``, ``fix``, ``temperature_c``, ``humidity_pct``,
``shock_g``, ``light_lux``, ``tamper``, ``battery_pct``) plus ``seq``; timestamp = the reading's
event time in nanoseconds. A point's identity is measurement + tags + timestamp, so writing the
same reading twice overwrites it with identical values: replays and redeliveries are idempotent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from tradelane.contracts import IngestedReading

MEASUREMENT = "reading"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def _escape_tag(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _field(value: float | int | bool | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_line(record: IngestedReading, shipment_id: str | None) -> str:
    """One reading → one line of InfluxDB line protocol (nanosecond precision)."""
    r = record.reading
    tags = [f"device_id={_escape_tag(r.device_id)}"]
    if shipment_id:
        tags.append(f"shipment_id={_escape_tag(shipment_id)}")
    tags.append(f"source={_escape_tag(record.source_format.value)}")
    fields: dict[str, float | int | bool | str] = {"seq": r.seq, "tamper": r.tamper}
    if r.gps is not None:
        fields.update(
            lat=r.gps.lat,
            lon=r.gps.lon,
            speed_kmh=r.gps.speed_kmh,
            heading_deg=r.gps.heading_deg,
            fix=r.gps.fix.value,
        )
        if r.gps.hdop is not None:
            fields["hdop"] = r.gps.hdop
    for name in ("temperature_c", "humidity_pct", "shock_g", "light_lux", "battery_pct"):
        value = getattr(r, name)
        if value is not None:
            fields[name] = float(value)
    body = ",".join(f"{k}={_field(v)}" for k, v in sorted(fields.items()))
    nanos = (r.ts - EPOCH) // MICROSECOND * 1000  # exact integer arithmetic, no float
    return f"{MEASUREMENT},{','.join(tags)} {body} {nanos}"


def to_lines(records: list[IngestedReading], shipments: Mapping[str, str]) -> list[str]:
    """Lines for a batch; ``shipments`` maps device_id → shipment_id."""
    return [to_line(rec, shipments.get(rec.reading.device_id)) for rec in records]
