"""OwnTracks (the phone app) location messages, so a phone can be a tracker.

OwnTracks publishes JSON objects with a ``_type`` to ``owntracks/{user}/{device}``; locations
have ``_type: "location"``, ``lat``, ``lon``, ``tst`` (fix time, Unix seconds), and optionally
``acc`` (accuracy, m), ``vel`` (km/h), ``cog`` (course, degrees), ``batt`` (%), ``alt``,
``tid``. There is no sequence number, so ``tst`` serves as one: it increases per device and a
re-sent location keeps its ``tst``, which makes duplicates recognisable.
Device id: ``ot:{user}:{device}``. Other ``_type`` values (transition, waypoint, lwt, card,
…) are not locations and are refused as ``unsupported_format``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from ingest.adapters.base import Rejected
from ingest.adapters.errors import json_object, rejection_for
from tradelane.contracts import DeadLetterReason, FixQuality, SourceFormat, TrackerReading

PREFIX = "owntracks/"


class OwnTracksAdapter:
    source_format = SourceFormat.OWNTRACKS

    def matches(self, topic: str) -> bool:
        return topic.startswith(PREFIX)

    def subscriptions(self) -> list[str]:
        return ["owntracks/+/+"]

    def decode(self, topic: str, payload: bytes, received_at: datetime) -> TrackerReading:
        parts = topic.split("/")
        if len(parts) != 3 or not parts[1] or not parts[2]:
            raise Rejected(
                DeadLetterReason.UNKNOWN_TOPIC,
                f"expected owntracks/{{user}}/{{device}}, got {topic!r}",
            )
        message = json_object(payload)
        kind = message.get("_type")
        if kind != "location":
            raise Rejected(
                DeadLetterReason.UNSUPPORTED_FORMAT,
                f"OwnTracks message of _type {kind!r} is not a location",
            )
        tst = message.get("tst")
        if not isinstance(tst, int) or isinstance(tst, bool):
            raise Rejected(DeadLetterReason.SCHEMA_VIOLATION, "tst (Unix seconds) is required")
        gps: dict[str, Any] = {
            "lat": message.get("lat"),
            "lon": message.get("lon"),
            "speed_kmh": message.get("vel", 0),
            "heading_deg": _course(message.get("cog")),
            "fix": FixQuality.FIX_3D,
        }
        document = {
            "device_id": f"ot:{parts[1]}:{parts[2]}",
            "seq": tst,
            "ts": _epoch(tst),
            "gps": gps,
            "battery_pct": message.get("batt"),
        }
        try:
            return TrackerReading.model_validate(document)
        except ValidationError as exc:
            raise rejection_for(exc) from exc


def _course(cog: object) -> object:
    """OwnTracks' course over ground folded into [0, 360); anything but a number is handed on
    as it is, for the contract to refuse (``"x" % 360`` would raise, ``"%d" % 360`` would
    even succeed)."""
    if cog is None:
        return 0
    if isinstance(cog, int | float) and not isinstance(cog, bool):
        return cog % 360
    return cog


def _epoch(seconds: int) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise Rejected(DeadLetterReason.OUT_OF_RANGE, f"tst {seconds} is not a time") from exc
