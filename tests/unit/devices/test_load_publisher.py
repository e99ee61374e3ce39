"""The load generator's packets are well-formed MQTT 3.1.1, and the pipeline bench's templated
readings are exactly what the contract writes."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from bench.pipeline import AT_SEA, _reading
from devices.load_publisher import connect_packet, publish_packet, remaining_length
from tradelane.contracts import Gps, TrackerReading


def _decode_length(data: bytes) -> tuple[int, int]:
    value, shift, used = 0, 0, 0
    for byte in data:
        used += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return value, used


@given(st.integers(min_value=0, max_value=268_435_455))
def test_remaining_length_round_trips(n: int) -> None:
    encoded = remaining_length(n)
    assert 1 <= len(encoded) <= 4
    assert _decode_length(encoded) == (n, len(encoded))


def test_a_publish_packet_carries_topic_id_and_payload() -> None:
    packet = publish_packet("tradelane/devices/trk-1/readings", 513, b'{"x":1}' * 40)
    assert packet[0] == 0x32  # PUBLISH, QoS 1
    length, used = _decode_length(packet[1:])
    body = packet[1 + used :]
    assert len(body) == length
    topic_len = int.from_bytes(body[:2], "big")
    assert body[2 : 2 + topic_len] == b"tradelane/devices/trk-1/readings"
    assert int.from_bytes(body[2 + topic_len : 4 + topic_len], "big") == 513
    assert body[4 + topic_len :] == b'{"x":1}' * 40


def test_a_connect_packet_names_the_client_and_its_credentials() -> None:
    packet = connect_packet("bench-pub", "user", "secret")
    assert packet[0] == 0x10
    assert packet[2:10] == b"\x00\x04MQTT\x04\xc2"  # level 4; username, password, clean
    assert packet.endswith(b"\x00\x09bench-pub\x00\x04user\x00\x06secret")


def test_the_templated_reading_is_the_contract_s_json() -> None:
    now = datetime(2026, 12, 6, 7, 8, 9, tzinfo=UTC)
    for seq in (0, 9):
        expected = TrackerReading(
            device_id="trk-7",
            seq=seq,
            ts=now,
            gps=Gps(lat=AT_SEA[0], lon=AT_SEA[1], speed_kmh=30),
            temperature_c=5.0,
            shock_g=20.0 if seq == 9 else 0.5,
            battery_pct=90,
        )
        assert _reading("trk-7", seq, now) == expected.model_dump_json().encode()
