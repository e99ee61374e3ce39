"""Dead letters: input that could not be accepted, kept with the reason instead of dropped.

Every rejected payload lands on ``tracker.deadletter`` byte for byte (base64), so an operator can
see exactly what a device sent, why it was refused, and replay it once the cause is fixed.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from tradelane.contracts.base import Contract, UtcDatetime


class DeadLetterReason(StrEnum):
    """Machine-readable reasons, stable across versions (new ones may be added)."""

    MALFORMED_JSON = "malformed_json"
    SCHEMA_VIOLATION = "schema_violation"
    OUT_OF_RANGE = "out_of_range"
    FUTURE_TIMESTAMP = "future_timestamp"
    OVERSIZED = "oversized"
    UNKNOWN_TOPIC = "unknown_topic"
    DEVICE_MISMATCH = "device_mismatch"
    UNSUPPORTED_FORMAT = "unsupported_format"


class DeadLetter(Contract):
    """The value of ``tracker.deadletter`` (schema version 1)."""

    schema_version: Literal[1] = 1
    id: Annotated[str, Field(description="Deterministic id: digest of topic and payload")]
    received_at: UtcDatetime
    mqtt_topic: str
    payload_b64: Annotated[str, Field(description="The raw payload, base64 (standard alphabet)")]
    payload_size: Annotated[int, Field(ge=0)]
    reason: DeadLetterReason
    message: Annotated[str, Field(description="Human explanation of the reason")]
    source: Annotated[str, Field(description="Which component refused it")] = "bridge"
