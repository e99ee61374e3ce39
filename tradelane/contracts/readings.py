"""Tracker readings: what a device publishes over MQTT and what the bridge appends to Kafka.

A device publishes :class:`TrackerReading` as JSON to
``tradelane/v1/trackers/{device_id}/readings``. The bridge validates it and appends an
:class:`IngestedReading` (the same reading plus where and when it was received) to
``tracker.readings``, keyed by ``device_id``.

Readings carry their own event time (``ts``) and a per-device sequence number (``seq``): devices
buffer while out of coverage and flush late, so consumers must order by (ts, seq), never by
arrival, and treat (device_id, seq) as the identity of a reading for de-duplication.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from tradelane.contracts.base import Contract, UtcDatetime

DEVICE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
CLOCK_TOLERANCE_S = 600
"""How far ahead of its receipt a reading's own time may lie: the bridge dead-letters what is
further ahead, and the worker's quality view calls a tracker's clock wrong from the same
point, so the two never disagree about one reading."""
DeviceId = Annotated[
    str,
    Field(
        pattern=DEVICE_ID_PATTERN,
        description="Tracker id: 1-64 chars of letters, digits, '_', '.', ':' or '-'; "
        "no '/', '+' or '#', so it is safe inside an MQTT topic.",
    ),
]


class FixQuality(StrEnum):
    """GNSS fix quality, as trackers commonly report it."""

    NONE = "none"
    FIX_2D = "2d"
    FIX_3D = "3d"
    DGPS = "dgps"


class Gps(Contract):
    """A GNSS position with its quality indicators."""

    lat: Annotated[float, Field(ge=-90, le=90, description="WGS84 latitude, degrees")]
    lon: Annotated[float, Field(ge=-180, le=180, description="WGS84 longitude, degrees")]
    speed_kmh: Annotated[float, Field(ge=0, le=1200, description="Ground speed, km/h")] = 0.0
    heading_deg: Annotated[float, Field(ge=0, lt=360, description="Course over ground")] = 0.0
    fix: FixQuality = FixQuality.FIX_3D
    hdop: Annotated[float | None, Field(ge=0, le=99.9, description="Horizontal DOP")] = None
    satellites: Annotated[int | None, Field(ge=0, le=128)] = None


class TrackerReading(Contract):
    """One reading as published by a tracker over MQTT (schema version 1).

    Sensor fields are optional because real trackers carry different sensor sets; ``gps`` is
    absent when the device has no fix (indoors, inside a container).
    """

    schema_version: Literal[1] = 1
    device_id: DeviceId
    seq: Annotated[int, Field(ge=0, lt=2**63, description="Per-device sequence number")]
    ts: Annotated[UtcDatetime, Field(description="Event time: when the device measured")]
    gps: Gps | None = None
    temperature_c: Annotated[float | None, Field(ge=-90, le=120)] = None
    humidity_pct: Annotated[float | None, Field(ge=0, le=100)] = None
    shock_g: Annotated[float | None, Field(ge=0, le=500, description="Peak shock since last")] = (
        None
    )
    light_lux: Annotated[float | None, Field(ge=0, le=200_000)] = None
    tamper: bool = False
    battery_pct: Annotated[
        float | None, Field(ge=0, le=100, description="Battery level; absent when unknown")
    ] = None


class SourceFormat(StrEnum):
    """Which device ecosystem a reading came from before it was made canonical."""

    NATIVE = "tradelane"
    OWNTRACKS = "owntracks"
    TTN = "ttn"
    HEARTBEAT = "heartbeat"


class IngestedReading(Contract):
    """The canonical value of ``tracker.readings`` (schema version 1)."""

    schema_version: Literal[1] = 1
    reading: TrackerReading
    received_at: Annotated[UtcDatetime, Field(description="When the bridge received it")]
    mqtt_topic: str
    source_format: SourceFormat = SourceFormat.NATIVE


class DeviceState(StrEnum):
    """Connection state a tracker announces (``offline`` is its MQTT last will)."""

    ONLINE = "online"
    OFFLINE = "offline"


class DeviceStatus(Contract):
    """Retained payload of ``tradelane/v1/trackers/{device_id}/status``."""

    schema_version: Literal[1] = 1
    device_id: DeviceId
    state: DeviceState
    ts: UtcDatetime | None = None
    reporting_interval_s: Annotated[int | None, Field(ge=1)] = None


class IngestedStatus(Contract):
    """The value of ``tracker.status`` (schema version 1): a device's announced connection
    state as the bridge received it. ``received_at`` matters because a last will carries no
    time of its own: the broker publishes it when it notices the connection is gone."""

    schema_version: Literal[1] = 1
    status: DeviceStatus
    received_at: UtcDatetime
    mqtt_topic: str
