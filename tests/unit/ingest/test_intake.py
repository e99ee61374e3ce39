"""The bridge's pure core: every message becomes a reading or a dead letter with the right
reason; nothing raises, nothing is dropped."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.adapters.registry import select
from ingest.intake import IntakeLimits, intake, intake_status
from tradelane.contracts import (
    DeadLetter,
    DeadLetterReason,
    IngestedReading,
    IngestedStatus,
    SourceFormat,
)
from tradelane.contracts.deadletter import PAYLOAD_PREFIX_BYTES

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
ADAPTERS = select()
TOPIC = "tradelane/v1/trackers/trk-1/readings"
OT = "owntracks/alice/phone"
SCHEMA = DeadLetterReason.SCHEMA_VIOLATION


def reading(**overrides: object) -> bytes:
    doc: dict[str, object] = {
        "device_id": "trk-1",
        "seq": 7,
        "ts": "2026-11-24T11:59:00Z",
        "battery_pct": 80,
        "temperature_c": 4.5,
    }
    doc.update(overrides)
    return json.dumps(doc).encode()


def test_a_good_reading_is_accepted() -> None:
    out = intake(TOPIC, reading(), NOW, ADAPTERS)
    assert isinstance(out, IngestedReading)
    assert out.reading.seq == 7
    assert out.received_at == NOW
    assert out.mqtt_topic == TOPIC
    assert out.source_format is SourceFormat.NATIVE


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (TOPIC, b"{not json", DeadLetterReason.MALFORMED_JSON),
        (TOPIC, b"", DeadLetterReason.MALFORMED_JSON),
        (TOPIC, b"\x00\x01binary", DeadLetterReason.MALFORMED_JSON),
        (TOPIC, reading(seq="seven"), DeadLetterReason.SCHEMA_VIOLATION),
        (TOPIC, b'{"device_id": "trk-1"}', DeadLetterReason.SCHEMA_VIOLATION),
        (TOPIC, reading(extra_field=1), DeadLetterReason.SCHEMA_VIOLATION),
        (TOPIC, reading(gps={"lat": 999, "lon": 0}), DeadLetterReason.OUT_OF_RANGE),
        (TOPIC, reading(battery_pct=150), DeadLetterReason.OUT_OF_RANGE),
        (TOPIC, reading().replace(b"4.5", b"NaN"), DeadLetterReason.OUT_OF_RANGE),
        (TOPIC, reading(ts="2026-11-24T12:11:00Z"), DeadLetterReason.FUTURE_TIMESTAMP),
        (TOPIC, reading(ts="2099-01-01T00:00:00Z"), DeadLetterReason.FUTURE_TIMESTAMP),
        (TOPIC, reading(device_id="trk-2"), DeadLetterReason.DEVICE_MISMATCH),
        (TOPIC, b"{" + b" " * (64 * 1024) + b"}", DeadLetterReason.OVERSIZED),
        ("tradelane/v1/trackers/trk-1/status", reading(), DeadLetterReason.UNKNOWN_TOPIC),
        ("factory/line-3/temperature", reading(), DeadLetterReason.UNKNOWN_TOPIC),
    ],
)
def test_bad_input_becomes_a_dead_letter_with_its_reason(
    topic: str, payload: bytes, reason: DeadLetterReason
) -> None:
    out = intake(topic, payload, NOW, ADAPTERS)
    assert isinstance(out, DeadLetter)
    assert out.reason is reason, out.message
    assert base64.b64decode(out.payload_prefix_b64) == payload[:PAYLOAD_PREFIX_BYTES]
    assert out.payload_truncated is (len(payload) > PAYLOAD_PREFIX_BYTES)
    assert out.payload_sha256 == hashlib.sha256(payload).hexdigest()
    assert out.payload_size == len(payload)
    assert out.mqtt_topic == topic
    assert out.message


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        # an adapter that raised (course "x" % 360) instead of refusing
        (OT, b'{"_type":"location","tst":1700000000,"lat":1,"lon":2,"cog":"x"}', SCHEMA),
        (OT, b'{"_type":"location","tst":1700000000,"lat":1,"lon":2,"cog":"%d"}', SCHEMA),
        # more digits than Python converts to an int
        (TOPIC, b'{"seq": ' + b"7" * 5000 + b"}", DeadLetterReason.MALFORMED_JSON),
        (OT, b'{"tst": ' + b"7" * 5000 + b"}", DeadLetterReason.MALFORMED_JSON),
        # deeper than the JSON parser recurses, within the size limit
        (TOPIC, b"[" * 60_000, DeadLetterReason.MALFORMED_JSON),
        (OT, b'{"a":' * 6_000 + b"1" + b"}" * 6_000, DeadLetterReason.MALFORMED_JSON),
        ("v3/app/devices/dev/up", b"[" * 60_000, DeadLetterReason.MALFORMED_JSON),
    ],
)
def test_payloads_that_made_adapters_raise_become_dead_letters(
    topic: str, payload: bytes, reason: DeadLetterReason
) -> None:
    out = intake(topic, payload, NOW, ADAPTERS)
    assert isinstance(out, DeadLetter)
    assert out.reason is reason, out.message
    assert out.payload_size == len(payload)


def test_a_dead_letter_keeps_a_bounded_prefix_with_the_hash_and_size() -> None:
    payload = b"{" + b"x" * (60 * 1024) + b"}"
    out = intake(TOPIC, payload, NOW, ADAPTERS)
    assert isinstance(out, DeadLetter)
    assert base64.b64decode(out.payload_prefix_b64) == payload[:PAYLOAD_PREFIX_BYTES]
    assert out.payload_truncated
    assert out.payload_size == len(payload)
    assert out.payload_sha256 == hashlib.sha256(payload).hexdigest()
    assert len(out.model_dump_json()) < 2 * PAYLOAD_PREFIX_BYTES + 4096


def test_future_skew_limit_is_configurable() -> None:
    payload = reading(ts=(NOW + timedelta(minutes=30)).isoformat())
    assert isinstance(intake(TOPIC, payload, NOW, ADAPTERS), DeadLetter)
    lenient = IntakeLimits(max_future_skew=timedelta(hours=1))
    assert isinstance(intake(TOPIC, payload, NOW, ADAPTERS, lenient), IngestedReading)


def test_late_readings_are_accepted() -> None:
    """Devices flush buffers late: a week-old reading is normal, not an error."""
    out = intake(TOPIC, reading(ts="2026-11-17T12:00:00Z"), NOW, ADAPTERS)
    assert isinstance(out, IngestedReading)


def test_dead_letter_ids_are_deterministic() -> None:
    first = intake(TOPIC, b"garbage", NOW, ADAPTERS)
    again = intake(TOPIC, b"garbage", NOW + timedelta(seconds=5), ADAPTERS)
    other = intake(TOPIC, b"garbage2", NOW, ADAPTERS)
    assert isinstance(first, DeadLetter)
    assert isinstance(again, DeadLetter)
    assert isinstance(other, DeadLetter)
    assert first.id == again.id != other.id


@given(topic=st.text(max_size=80), payload=st.binary(max_size=300))
def test_intake_never_raises(topic: str, payload: bytes) -> None:
    out = intake(topic, payload, NOW, ADAPTERS)
    assert isinstance(out, IngestedReading | DeadLetter)


@given(
    payload=st.dictionaries(
        st.sampled_from(
            ["device_id", "seq", "ts", "gps", "battery_pct", "temperature_c", "tamper"]
        ),
        st.none() | st.integers() | st.floats() | st.text(max_size=5),
    )
)
def test_arbitrary_json_objects_never_raise(payload: dict[str, object]) -> None:
    out = intake(TOPIC, json.dumps(payload).encode(), NOW, ADAPTERS)
    assert isinstance(out, IngestedReading | DeadLetter)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"device_id": "trk-1", "state": "offline"}', None),
        (b'{"device_id": "trk-1", "state": "online", "ts": "2026-11-24T11:00:00Z"}', None),
        (b"offline", DeadLetterReason.MALFORMED_JSON),
        (b'{"device_id": "trk-1", "state": "asleep"}', DeadLetterReason.SCHEMA_VIOLATION),
        (b'{"device_id": "trk-2", "state": "offline"}', DeadLetterReason.DEVICE_MISMATCH),
    ],
)
def test_status_messages(payload: bytes, reason: DeadLetterReason | None) -> None:
    out = intake_status("tradelane/v1/trackers/trk-1/status", payload, NOW)
    if reason is None:
        assert isinstance(out, IngestedStatus)
        assert out.received_at == NOW
    else:
        assert isinstance(out, DeadLetter)
        assert out.reason is reason
