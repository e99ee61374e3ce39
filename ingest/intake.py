"""The bridge's pure core: one MQTT message in, a canonical reading or a dead letter out.

No I/O and no clock: the receive time is an argument, so the same message always yields the
same record (and a dead letter the same id), which keeps redeliveries recognisable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import ValidationError

from ingest.adapters.base import Adapter, Rejected
from ingest.adapters.errors import rejection_for
from tradelane import deadletters
from tradelane.contracts import (
    DeadLetter,
    DeadLetterReason,
    DeviceStatus,
    IngestedReading,
    IngestedStatus,
)
from tradelane.contracts.readings import CLOCK_TOLERANCE_S
from tradelane.topics import MqttKind, parse_tracker_topic


@dataclass(frozen=True, slots=True)
class IntakeLimits:
    """What the bridge accepts at all, before any contract is consulted."""

    max_payload_bytes: int = 64 * 1024
    max_future_skew: timedelta = timedelta(seconds=CLOCK_TOLERANCE_S)


def intake(
    topic: str,
    payload: bytes,
    received_at: datetime,
    adapters: Sequence[Adapter],
    limits: IntakeLimits = IntakeLimits(),
) -> IngestedReading | DeadLetter:
    """Validate one message; never raises for bad input: a refusal of an adapter keeps its
    reason, anything else an adapter raises becomes ``decoder_error`` (or the reason a
    validation error shows)."""
    try:
        if len(payload) > limits.max_payload_bytes:
            raise Rejected(
                DeadLetterReason.OVERSIZED,
                f"payload is {len(payload)} bytes; the limit is {limits.max_payload_bytes}",
            )
        adapter = next((a for a in adapters if a.matches(topic)), None)
        if adapter is None:
            raise Rejected(DeadLetterReason.UNKNOWN_TOPIC, f"no adapter handles topic {topic!r}")
        reading = adapter.decode(topic, payload, received_at)
        if reading.ts - received_at > limits.max_future_skew:
            raise Rejected(
                DeadLetterReason.FUTURE_TIMESTAMP,
                f"event time {reading.ts.isoformat()} is more than "
                f"{limits.max_future_skew} after receipt {received_at.isoformat()}",
            )
        return IngestedReading(
            reading=reading,
            received_at=received_at,
            mqtt_topic=topic,
            source_format=adapter.source_format,
        )
    except Rejected as rejected:
        return dead_letter(topic, payload, received_at, rejected.reason, rejected.message)
    except Exception as exc:  # an input the adapter did not foresee: refused all the same
        return dead_letter(
            topic, payload, received_at, deadletters.reason_for(exc), deadletters.describe(exc)
        )


def dead_letter(
    topic: str, payload: bytes, received_at: datetime, reason: DeadLetterReason, message: str
) -> DeadLetter:
    """The letter of a refused MQTT payload: a bounded prefix, its hash and size."""
    return deadletters.for_mqtt(topic, payload, received_at, reason, message)


def intake_status(
    topic: str, payload: bytes, received_at: datetime, limits: IntakeLimits = IntakeLimits()
) -> IngestedStatus | DeadLetter:
    """A device's status message (online, or offline as its last will) → ``tracker.status``."""
    try:
        if len(payload) > limits.max_payload_bytes:
            raise Rejected(DeadLetterReason.OVERSIZED, f"payload is {len(payload)} bytes")
        parsed = parse_tracker_topic(topic)
        if parsed is None or parsed[1] is not MqttKind.STATUS:
            raise Rejected(DeadLetterReason.UNKNOWN_TOPIC, f"not a status topic: {topic!r}")
        try:
            status = DeviceStatus.model_validate_json(payload)
        except ValidationError as exc:
            if not payload.strip().startswith(b"{"):
                raise Rejected(DeadLetterReason.MALFORMED_JSON, "payload is not JSON") from exc
            raise rejection_for(exc) from exc
        if status.device_id != parsed[0]:
            raise Rejected(
                DeadLetterReason.DEVICE_MISMATCH,
                f"status of {status.device_id!r} on {parsed[0]!r}'s topic",
            )
        return IngestedStatus(status=status, received_at=received_at, mqtt_topic=topic)
    except Rejected as rejected:
        return dead_letter(topic, payload, received_at, rejected.reason, rejected.message)
    except Exception as exc:  # see intake
        return dead_letter(
            topic, payload, received_at, deadletters.reason_for(exc), deadletters.describe(exc)
        )
