"""Device adapters against payloads written in the formats their projects document:
OwnTracks' JSON booklet (``_type: location``) and The Things Stack's v3 uplink data format."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ingest.adapters.base import Rejected
from ingest.adapters.owntracks import OwnTracksAdapter
from ingest.adapters.ttn import TtnAdapter
from tradelane.contracts import DeadLetterReason

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)

# OwnTracks booklet, "_type=location" (iOS/Android fields).
OWNTRACKS_LOCATION = {
    "_type": "location",
    "acc": 12,
    "alt": 13,
    "batt": 88,
    "bs": 1,
    "cog": 270,
    "conn": "m",
    "created_at": 1795600000,
    "lat": 51.95,
    "lon": 4.05,
    "m": 1,
    "t": "u",
    "tid": "JJ",
    "tst": 1795599990,
    "vac": 10,
    "vel": 54,
}

# The Things Stack data formats, "Uplink Messages" (with a payload formatter's output).
TTN_UPLINK: dict[str, Any] = {
    "end_device_ids": {
        "device_id": "reefer-07",
        "application_ids": {"application_id": "tradelane-trackers"},
        "dev_eui": "0004A30B001C0530",
        "join_eui": "800000000000000C",
        "dev_addr": "00BCB929",
    },
    "correlation_ids": ["as:up:01E0WXQ3N3TH3XZ7A9D3ZJ4G3Z", "gs:conn:01E0WXPJR6TZZJ5C3RC7K6F9Z1"],
    "received_at": "2026-11-24T11:59:01.123456789Z",
    "uplink_message": {
        "session_key_id": "AXA50kg8qDw3gLnVnJ5bVg==",
        "f_port": 2,
        "f_cnt": 1042,
        "frm_payload": "AQIDBA==",
        "decoded_payload": {"temperature": 5.4, "humidity": 71.5, "battery": 93, "alarm": False},
        "rx_metadata": [
            {
                "gateway_ids": {"gateway_id": "gtw-rotterdam-1", "eui": "9C5C8E00001A05C4"},
                "time": "2026-11-24T11:59:00.987Z",
                "timestamp": 2463457000,
                "rssi": -35,
                "channel_rssi": -35,
                "snr": 5.2,
                "uplink_token": "ChIKEAoOZ3R3LXJvdHRlcmRhbS0x",
                "channel_index": 2,
            }
        ],
        "settings": {
            "data_rate": {"lora": {"bandwidth": 125000, "spreading_factor": 7}},
            "coding_rate": "4/5",
            "frequency": "868500000",
            "timestamp": 2463457000,
            "time": "2026-11-24T11:59:00.987Z",
        },
        "received_at": "2026-11-24T11:59:01.001Z",
        "consumed_airtime": "0.056576s",
        "locations": {
            "frm-payload": {"latitude": 51.9496, "longitude": 4.1453, "source": "SOURCE_GPS"}
        },
        "version_ids": {"brand_id": "acme", "model_id": "reefer-tag"},
        "network_ids": {"net_id": "000013", "tenant_id": "ttn", "cluster_id": "eu1"},
    },
}


def ttn(**overrides: Any) -> bytes:
    message = json.loads(json.dumps(TTN_UPLINK))
    message["uplink_message"].update(overrides)
    return json.dumps(message).encode()


def test_owntracks_location_becomes_a_reading() -> None:
    adapter = OwnTracksAdapter()
    topic = "owntracks/alice/phone"
    assert adapter.matches(topic)
    reading = adapter.decode(topic, json.dumps(OWNTRACKS_LOCATION).encode(), NOW)
    assert reading.device_id == "ot:alice:phone"
    assert reading.seq == 1795599990
    assert reading.ts == datetime.fromtimestamp(1795599990, UTC)
    assert reading.gps is not None
    assert (reading.gps.lat, reading.gps.lon, reading.gps.speed_kmh) == (51.95, 4.05, 54)
    assert reading.gps.heading_deg == 270
    assert reading.battery_pct == 88


def test_owntracks_minimal_location_without_battery() -> None:
    payload = b'{"_type":"location","lat":51.5,"lon":-0.1,"tst":1234567890}'
    reading = OwnTracksAdapter().decode("owntracks/bob/tab", payload, NOW)
    assert reading.battery_pct is None
    assert reading.gps is not None
    assert reading.gps.speed_kmh == 0


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("owntracks/a/b", b'{"_type":"lwt","tst":1}', DeadLetterReason.UNSUPPORTED_FORMAT),
        ("owntracks/a/b", b'{"_type":"transition","tst":1}', DeadLetterReason.UNSUPPORTED_FORMAT),
        ("owntracks/a/b", b"not json", DeadLetterReason.MALFORMED_JSON),
        ("owntracks/a/b", b"[1, 2]", DeadLetterReason.SCHEMA_VIOLATION),
        (
            "owntracks/a/b",
            b'{"_type":"location","lat":1,"lon":2}',
            DeadLetterReason.SCHEMA_VIOLATION,
        ),
        (
            "owntracks/a/b",
            b'{"_type":"location","lat":999,"lon":2,"tst":5}',
            DeadLetterReason.OUT_OF_RANGE,
        ),
        ("owntracks/a/b/event", b'{"_type":"location"}', DeadLetterReason.UNKNOWN_TOPIC),
        (
            "owntracks/a b/c",
            b'{"_type":"location","lat":1,"lon":2,"tst":5}',
            DeadLetterReason.SCHEMA_VIOLATION,
        ),
    ],
)
def test_owntracks_refusals(topic: str, payload: bytes, reason: DeadLetterReason) -> None:
    with pytest.raises(Rejected) as refused:
        OwnTracksAdapter().decode(topic, payload, NOW)
    assert refused.value.reason is reason


def test_ttn_uplink_becomes_a_reading() -> None:
    adapter = TtnAdapter()
    topic = "v3/tradelane-trackers@ttn/devices/reefer-07/up"
    assert adapter.matches(topic)
    reading = adapter.decode(topic, ttn(), NOW)
    assert reading.device_id == "ttn:tradelane-trackers:reefer-07"
    assert reading.seq == 1042
    assert reading.ts == datetime(2026, 11, 24, 11, 59, 1, 1000, tzinfo=UTC)
    assert reading.gps is not None
    assert (reading.gps.lat, reading.gps.lon) == (51.9496, 4.1453)
    assert (reading.temperature_c, reading.humidity_pct, reading.battery_pct) == (5.4, 71.5, 93)
    assert reading.tamper is False


def test_ttn_cayenne_lpp_and_omitted_zero_fields() -> None:
    decoded = {
        "temperature_1": -19.5,
        "relative_humidity_2": 40,
        "gps_1": {"latitude": 1.26, "longitude": 103.82, "altitude": 5},
        "luminosity_1": 300,
    }
    payload = json.loads(ttn(decoded_payload=decoded))
    del payload["uplink_message"]["f_cnt"]  # 0 is omitted in The Things Stack's JSON
    del payload["uplink_message"]["locations"]
    payload["uplink_message"]["last_battery_percentage"] = {
        "f_cnt": 0,
        "value": 61.5,
        "received_at": "2026-11-24T10:00:00Z",
    }
    reading = TtnAdapter().decode("v3/app/devices/dev/up", json.dumps(payload).encode(), NOW)
    assert reading.seq == 0
    assert reading.temperature_c == -19.5
    assert reading.light_lux == 300
    assert reading.battery_pct == 61.5
    assert reading.gps is not None
    assert (reading.gps.lat, reading.gps.lon) == (1.26, 103.82)


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("v3/app/devices/dev/join", ttn(), DeadLetterReason.UNKNOWN_TOPIC),
        ("v3/app/devices/dev/up", b"\xff\xfe", DeadLetterReason.MALFORMED_JSON),
        ("v3/app/devices/dev/up", b'{"end_device_ids": {}}', DeadLetterReason.SCHEMA_VIOLATION),
        (
            "v3/app/devices/dev/up",
            ttn(decoded_payload={"temperature": 500}),
            DeadLetterReason.OUT_OF_RANGE,
        ),
        ("v3/app/devices/dev/up", ttn(decoded_payload=[1]), DeadLetterReason.SCHEMA_VIOLATION),
        ("v3/app/devices/dev/up", ttn(received_at="not a time"), DeadLetterReason.SCHEMA_VIOLATION),
    ],
)
def test_ttn_refusals(topic: str, payload: bytes, reason: DeadLetterReason) -> None:
    with pytest.raises(Rejected) as refused:
        TtnAdapter().decode(topic, payload, NOW)
    assert refused.value.reason is reason
