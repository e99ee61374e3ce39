"""Tradelane's own format: a :class:`TrackerReading` as JSON on
``tradelane/v1/trackers/{device_id}/readings``."""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError

from ingest.adapters.base import Rejected
from ingest.adapters.errors import json_value, rejection_for
from tradelane.contracts import DeadLetterReason, SourceFormat, TrackerReading
from tradelane.topics import READINGS_FILTER, MqttKind, parse_tracker_topic


class NativeAdapter:
    source_format = SourceFormat.NATIVE

    def matches(self, topic: str) -> bool:
        return topic.startswith("tradelane/")

    def subscriptions(self) -> list[str]:
        return [READINGS_FILTER]

    def decode(self, topic: str, payload: bytes, received_at: datetime) -> TrackerReading:
        parsed = parse_tracker_topic(topic)
        if parsed is None or parsed[1] is not MqttKind.READINGS:
            raise Rejected(DeadLetterReason.UNKNOWN_TOPIC, f"not a readings topic: {topic!r}")
        document = json_value(payload)
        try:
            reading = TrackerReading.model_validate(document)
        except ValidationError as exc:
            raise rejection_for(exc) from exc
        if reading.device_id != parsed[0]:
            raise Rejected(
                DeadLetterReason.DEVICE_MISMATCH,
                f"payload device_id {reading.device_id!r} differs from topic device {parsed[0]!r}",
            )
        return reading
