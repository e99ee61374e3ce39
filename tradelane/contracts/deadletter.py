"""Dead letters: input that could not be accepted, kept with the reason instead of dropped.

Every refused input lands on ``tracker.deadletter``: an MQTT payload the bridge refused, or a
Kafka record a consumer (the worker's loops, the sink, the registry followers) could not parse
or apply. Whatever refuses it goes on with the next input: one bad record never stops a
consumer.

Version 2 keeps a bounded prefix of the payload (the first :data:`PAYLOAD_PREFIX_BYTES`,
base64) with the whole payload's SHA-256 and size, so that a dead letter stays small whatever
was sent (version 1 copied the whole payload, so one near Kafka's message limit could not be
dead-lettered at all), and says where the input came from: the MQTT topic, or the Kafka topic,
partition and offset (replay reads the original there). Version 1 stays readable
(:func:`read_dead_letter`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import Field, TypeAdapter, model_validator

from tradelane.contracts.base import Contract, UtcDatetime

PAYLOAD_PREFIX_BYTES = 4096
"""How much of a refused payload a dead letter keeps (the rest is known by hash and size)."""
KEY_PREFIX_BYTES = 256
"""How much of a refused Kafka record's key a dead letter keeps."""
ORIGIN_MAX_CHARS = 1024
"""How much of an MQTT topic or a component name a dead letter keeps."""
MESSAGE_MAX_CHARS = 2000


def _b64_chars(size: int) -> int:
    return 4 * ((size + 2) // 3)


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
    UNSUPPORTED_VERSION = "unsupported_version"
    """A record of a schema version this consumer does not read."""
    INVALID_KEY = "invalid_key"
    """A Kafka record without the key its topic requires, or a key that is not UTF-8."""
    DECODER_ERROR = "decoder_error"
    """Decoding raised something other than a refusal: an input the decoder did not foresee."""
    APPLY_FAILED = "apply_failed"
    """A well-formed record whose application raised (a rule or engine failed on it)."""


class DeadLetterV1(Contract):
    """The value of ``tracker.deadletter`` (schema version 1, no longer written): the whole
    payload in base64."""

    schema_version: Literal[1] = 1
    id: Annotated[str, Field(description="Deterministic id: digest of topic and payload")]
    received_at: UtcDatetime
    mqtt_topic: str
    payload_b64: Annotated[str, Field(description="The raw payload, base64 (standard alphabet)")]
    payload_size: Annotated[int, Field(ge=0)]
    reason: DeadLetterReason
    message: Annotated[str, Field(description="Human explanation of the reason")]
    source: Annotated[str, Field(description="Which component refused it")] = "bridge"


class DeadLetter(Contract):
    """The value of ``tracker.deadletter`` (schema version 2): one refused input, its origin
    (an MQTT topic, or a Kafka topic, partition and offset), a bounded prefix of its payload
    with the payload's SHA-256 and size, and why it was refused."""

    schema_version: Literal[2] = 2
    id: Annotated[
        str, Field(description="Deterministic id: digest of the origin and the payload's hash")
    ]
    received_at: Annotated[UtcDatetime, Field(description="When it was refused")]
    source: Annotated[
        str,
        Field(
            max_length=ORIGIN_MAX_CHARS,
            description="Which component refused it (bridge, sink, worker:{group}, ...)",
        ),
    ] = "bridge"
    reason: DeadLetterReason
    message: Annotated[
        str, Field(max_length=MESSAGE_MAX_CHARS, description="Human explanation of the reason")
    ]
    mqtt_topic: Annotated[
        str | None,
        Field(max_length=ORIGIN_MAX_CHARS, description="The MQTT topic it arrived on (bridge)"),
    ] = None
    kafka_topic: Annotated[
        str | None,
        Field(max_length=ORIGIN_MAX_CHARS, description="The Kafka topic it was read from"),
    ] = None
    kafka_partition: Annotated[int | None, Field(ge=0)] = None
    kafka_offset: Annotated[int | None, Field(ge=0)] = None
    key_b64: Annotated[
        str | None,
        Field(
            max_length=_b64_chars(KEY_PREFIX_BYTES),
            description=f"The Kafka record's key, its first {KEY_PREFIX_BYTES} bytes, base64",
        ),
    ] = None
    payload_prefix_b64: Annotated[
        str,
        Field(
            max_length=_b64_chars(PAYLOAD_PREFIX_BYTES),
            description=f"The payload's first {PAYLOAD_PREFIX_BYTES} bytes, base64 "
            "(standard alphabet)",
        ),
    ]
    payload_truncated: Annotated[
        bool, Field(description="Whether the payload was longer than the prefix kept")
    ]
    payload_size: Annotated[int, Field(ge=0, description="The whole payload's size in bytes")]
    payload_sha256: Annotated[
        str, Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the whole payload, hex")
    ]

    @model_validator(mode="after")
    def _one_origin(self) -> Self:
        if (self.mqtt_topic is None) == (self.kafka_topic is None):
            raise ValueError("a dead letter comes either from an MQTT topic or a Kafka topic")
        if self.kafka_topic is not None and (
            self.kafka_partition is None or self.kafka_offset is None
        ):
            raise ValueError("a Kafka record's dead letter names its partition and offset")
        return self

    @property
    def origin(self) -> str:
        """Where the input came from, for people: an MQTT topic or ``topic/partition@offset``."""
        if self.kafka_topic is not None:
            return f"{self.kafka_topic}/{self.kafka_partition}@{self.kafka_offset}"
        return self.mqtt_topic or ""


AnyDeadLetter = Annotated[DeadLetter | DeadLetterV1, Field(discriminator="schema_version")]
_ANY: TypeAdapter[DeadLetter | DeadLetterV1] = TypeAdapter(AnyDeadLetter)


def read_dead_letter(raw: bytes | str) -> DeadLetter | DeadLetterV1:
    """A record of ``tracker.deadletter`` of any version (raises ``ValidationError``)."""
    return _ANY.validate_json(raw)
