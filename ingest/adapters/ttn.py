"""The Things Stack (LoRaWAN) v3 uplink messages.

The Things Stack's MQTT server publishes uplinks to ``v3/{application id}@{tenant}/devices/
{device id}/up``. Sensor values come from ``uplink_message.decoded_payload`` (the output of the
application's payload formatter, so its keys vary by device); location from
``uplink_message.locations`` (e.g. ``frm-payload``, ``user``) or from the decoded payload.
Event time is ``uplink_message.received_at`` (the network's receive time; LoRaWAN frames carry
no device clock). The sequence number is the frame counter ``f_cnt``, which restarts when a
device re-joins: readings after a re-join reuse low numbers, so deduplication by (device, seq)
must be scoped to a session; see docs/ingest.md.
Device id: ``ttn:{application id}:{device id}``.

Decoded-payload keys understood (first match wins; Cayenne LPP names included):
temperature ``temperature``, ``temperature_c``, ``temp``, ``temperature_1``;
humidity ``humidity``, ``relative_humidity``, ``relative_humidity_1``, ``humidity_pct``;
battery % ``battery``, ``battery_pct``, ``batt`` (else ``last_battery_percentage``);
shock ``shock_g``, ``shock``, ``accel_g``; light ``light_lux``, ``lux``, ``luminosity``,
``illuminance``, ``luminosity_1``; tamper ``tamper``, ``alarm``;
position ``latitude``/``lat`` + ``longitude``/``lon``/``lng``, or ``gps_1`` (Cayenne).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from ingest.adapters.base import Rejected
from ingest.adapters.errors import json_object, rejection_for
from tradelane.contracts import DeadLetterReason, FixQuality, SourceFormat, TrackerReading

_TOPIC = re.compile(r"^v3/(?P<app>[^/@]+)(@(?P<tenant>[^/]+))?/devices/(?P<device>[^/]+)/up$")

TEMPERATURE = ("temperature", "temperature_c", "temp", "temperature_1")
HUMIDITY = ("humidity", "relative_humidity", "relative_humidity_1", "humidity_pct")
BATTERY = ("battery", "battery_pct", "batt")
SHOCK = ("shock_g", "shock", "accel_g")
LIGHT = ("light_lux", "lux", "luminosity", "illuminance", "luminosity_1")
TAMPER = ("tamper", "alarm")


class TtnAdapter:
    source_format = SourceFormat.TTN

    def matches(self, topic: str) -> bool:
        return topic.startswith("v3/")

    def subscriptions(self) -> list[str]:
        return ["v3/+/devices/+/up"]

    def decode(self, topic: str, payload: bytes, received_at: datetime) -> TrackerReading:
        match = _TOPIC.match(topic)
        if match is None:
            raise Rejected(
                DeadLetterReason.UNKNOWN_TOPIC,
                f"expected v3/{{app}}@{{tenant}}/devices/{{device}}/up, got {topic!r}",
            )
        message = json_object(payload)
        uplink = message.get("uplink_message")
        if not isinstance(uplink, dict):
            raise Rejected(DeadLetterReason.SCHEMA_VIOLATION, "uplink_message is missing")
        decoded = uplink.get("decoded_payload") or {}
        if not isinstance(decoded, dict):
            raise Rejected(DeadLetterReason.SCHEMA_VIOLATION, "decoded_payload is not an object")
        lowered = {str(k).lower(): v for k, v in decoded.items()}
        f_cnt = uplink.get("f_cnt", 0)  # absent means 0 in The Things Stack's JSON
        document = {
            "device_id": f"ttn:{match['app']}:{match['device']}",
            "seq": f_cnt,
            "ts": uplink.get("received_at") or message.get("received_at"),
            "gps": _position(uplink.get("locations"), lowered),
            "temperature_c": _first(lowered, TEMPERATURE),
            "humidity_pct": _first(lowered, HUMIDITY),
            "shock_g": _first(lowered, SHOCK),
            "light_lux": _first(lowered, LIGHT),
            "tamper": bool(_first(lowered, TAMPER) or False),
            "battery_pct": _first(lowered, BATTERY) or _last_battery(uplink),
        }
        try:
            return TrackerReading.model_validate(document)
        except ValidationError as exc:
            raise rejection_for(exc) from exc


def _first(values: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((values[k] for k in keys if values.get(k) is not None), None)


def _last_battery(uplink: dict[str, Any]) -> object:
    """``last_battery_percentage.value``: the network's latest battery level (v3.33+)."""
    last = uplink.get("last_battery_percentage")
    return last.get("value") if isinstance(last, dict) else None


def _position(locations: object, decoded: dict[str, Any]) -> dict[str, Any] | None:
    if isinstance(locations, dict):
        for name in ("frm-payload", "user", *sorted(locations)):
            loc = locations.get(name)
            if isinstance(loc, dict) and "latitude" in loc and "longitude" in loc:
                return {"lat": loc["latitude"], "lon": loc["longitude"], "fix": FixQuality.FIX_3D}
    cayenne = decoded.get("gps_1")
    if isinstance(cayenne, dict) and "latitude" in cayenne and "longitude" in cayenne:
        return {"lat": cayenne["latitude"], "lon": cayenne["longitude"], "fix": FixQuality.FIX_3D}
    lat = _first(decoded, ("latitude", "lat"))
    lon = _first(decoded, ("longitude", "lon", "lng"))
    if lat is not None and lon is not None:
        return {"lat": lat, "lon": lon, "fix": FixQuality.FIX_3D}
    return None
