"""Dead letters built from what was refused: pure functions, no I/O and no clock.

Every consumer (the bridge for MQTT payloads; the worker's loops, the registry followers and
the sink for Kafka records) turns an input it cannot parse or apply into one of these and goes
on with the next: a bad input is kept with its reason, never dropped and never allowed to stop
the consumer. A letter keeps a bounded prefix of the payload with the whole payload's SHA-256
and size, so it stays small whatever was sent; its id derives from the origin and the
payload's hash, so a redelivered or re-read input yields the same letter.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime

from pydantic import ValidationError

from tradelane.contracts import DeadLetter, DeadLetterReason
from tradelane.contracts.deadletter import (
    KEY_PREFIX_BYTES,
    MESSAGE_MAX_CHARS,
    ORIGIN_MAX_CHARS,
    PAYLOAD_PREFIX_BYTES,
)
from tradelane.errors import ContractError
from tradelane.ids import derive_id

_RANGE_ERRORS = frozenset(
    {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number"}
)
_VERSION_FIELDS = frozenset({"schema_version", "schemaversion", "specversion"})


class InvalidKeyError(ContractError):
    """A Kafka record without the key its topic requires, or with a key that is no text."""


def for_mqtt(
    topic: str,
    payload: bytes,
    received_at: datetime,
    reason: DeadLetterReason,
    message: str,
    source: str = "bridge",
) -> DeadLetter:
    """The dead letter of an MQTT payload refused on ``topic``."""
    digest = hashlib.sha256(payload).hexdigest()
    return DeadLetter(
        id=derive_id("deadletter", topic, digest),
        received_at=received_at,
        source=source[:ORIGIN_MAX_CHARS],
        reason=reason,
        message=bounded(message),
        mqtt_topic=topic[:ORIGIN_MAX_CHARS],
        payload_prefix_b64=_prefix(payload),
        payload_truncated=len(payload) > PAYLOAD_PREFIX_BYTES,
        payload_size=len(payload),
        payload_sha256=digest,
    )


def for_record(
    source: str,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    at: datetime,
    reason: DeadLetterReason,
    message: str,
) -> DeadLetter:
    """The dead letter of the Kafka record at ``topic``/``partition``@``offset``."""
    payload = value or b""
    digest = hashlib.sha256(payload).hexdigest()
    return DeadLetter(
        id=derive_id("deadletter", "kafka", topic, partition, offset, digest),
        received_at=at,
        source=source[:ORIGIN_MAX_CHARS],
        reason=reason,
        message=bounded(message),
        kafka_topic=topic[:ORIGIN_MAX_CHARS],
        kafka_partition=max(partition, 0),
        kafka_offset=max(offset, 0),
        key_b64=None if key is None else base64.b64encode(key[:KEY_PREFIX_BYTES]).decode(),
        payload_prefix_b64=_prefix(payload),
        payload_truncated=len(payload) > PAYLOAD_PREFIX_BYTES,
        payload_size=len(payload),
        payload_sha256=digest,
    )


def for_error(
    source: str,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    at: datetime,
    exc: BaseException,
    applying: bool = False,
) -> DeadLetter:
    """The dead letter of a record whose decoding (or, with ``applying``, application) raised
    ``exc``; the reason is read from the exception (:func:`reason_for`)."""
    reason = DeadLetterReason.APPLY_FAILED if applying else reason_for(exc)
    return for_record(source, topic, partition, offset, key, value, at, reason, describe(exc))


def reason_for(exc: BaseException) -> DeadLetterReason:
    """Why a payload could not be decoded, read from what decoding raised."""
    if isinstance(exc, ValidationError):
        errors = exc.errors(include_url=False)
        kinds = {e["type"] for e in errors}
        if "json_invalid" in kinds or "json_type" in kinds:
            return DeadLetterReason.MALFORMED_JSON
        if any(e["loc"][:1] and e["loc"][0] in _VERSION_FIELDS for e in errors):
            return DeadLetterReason.UNSUPPORTED_VERSION
        if kinds and kinds <= _RANGE_ERRORS:
            return DeadLetterReason.OUT_OF_RANGE
        return DeadLetterReason.SCHEMA_VIOLATION
    if isinstance(exc, InvalidKeyError):
        return DeadLetterReason.INVALID_KEY
    if isinstance(exc, UnicodeDecodeError):
        return DeadLetterReason.MALFORMED_JSON
    return DeadLetterReason.DECODER_ERROR


def describe(exc: BaseException) -> str:
    """A short, bounded account of ``exc`` (a validation error: its first five findings)."""
    if isinstance(exc, ValidationError):
        errors = exc.errors(include_url=False)
        parts = [
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in errors[:5]
        ]
        more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
        return bounded(f"{exc.title}: " + "; ".join(parts) + more)
    try:
        text = str(exc)
    except Exception:  # an exception whose own str() fails still gets a letter
        text = "(unprintable)"
    return bounded(f"{type(exc).__name__}: {text}")


def bounded(message: str) -> str:
    return message if len(message) <= MESSAGE_MAX_CHARS else message[: MESSAGE_MAX_CHARS - 1] + "…"


def _prefix(payload: bytes) -> str:
    return base64.b64encode(payload[:PAYLOAD_PREFIX_BYTES]).decode("ascii")
