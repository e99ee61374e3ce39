"""Contracts: valid payloads parse, invalid ones are refused with a reason, everything
round-trips through JSON unchanged (property tests over every contract's JSON Schema)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from tests.strategies import BY_MODEL
from tradelane.contracts import ALL_CONTRACTS, EventEnvelope, FixQuality, Money, TrackerReading

GOOD: dict[str, Any] = {
    "device_id": "trk-0001",
    "seq": 42,
    "ts": "2026-11-24T10:00:00Z",
    "gps": {
        "lat": 1.26,
        "lon": 103.82,
        "speed_kmh": 31.5,
        "heading_deg": 270,
        "fix": "3d",
        "hdop": 0.9,
        "satellites": 11,
    },
    "temperature_c": 4.2,
    "humidity_pct": 61.0,
    "shock_g": 0.3,
    "light_lux": 0.0,
    "tamper": False,
    "battery_pct": 87.5,
}


def with_(path: str, value: object) -> dict[str, Any]:
    payload = json.loads(json.dumps(GOOD))
    *parents, leaf = path.split(".")
    node = payload
    for key in parents:
        node = node[key]
    if value is _DROP:
        del node[leaf]
    else:
        node[leaf] = value
    return payload


_DROP = object()


def test_good_reading_parses_and_normalises_time() -> None:
    reading = TrackerReading.model_validate(GOOD)
    assert reading.ts == datetime(2026, 11, 24, 10, tzinfo=UTC)
    assert reading.gps is not None
    assert reading.gps.fix is FixQuality.FIX_3D


def test_offset_timestamps_are_normalised_to_utc() -> None:
    reading = TrackerReading.model_validate(with_("ts", "2026-11-24T12:00:00+02:00"))
    assert reading.ts.utcoffset() == timedelta(0)
    assert reading.ts.hour == 10


@pytest.mark.parametrize(
    ("path", "value", "fragment"),
    [
        ("gps.lat", 999, "less than or equal to 90"),
        ("gps.lon", -181, "greater than or equal to -180"),
        ("battery_pct", 150, "less than or equal to 100"),
        ("seq", _DROP, "Field required"),
        ("seq", -1, "greater than or equal to 0"),
        ("seq", "abc", "valid integer"),
        ("ts", "2026-11-24T10:00:00", "timezone"),
        ("ts", "yesterday", "datetime"),
        ("device_id", "a/b", "String should match pattern"),
        ("device_id", "", "String should match pattern"),
        ("device_id", "x" * 65, "String should match pattern"),
        ("gps.fix", "4d", "Input should be"),
        ("humidity_pct", 101, "less than or equal to 100"),
        ("shock_g", -0.1, "greater than or equal to 0"),
        ("unexpected", 1, "Extra inputs are not permitted"),
        ("schema_version", 2, "Input should be 1"),
    ],
)
def test_bad_readings_are_refused_with_a_reason(path: str, value: object, fragment: str) -> None:
    with pytest.raises(ValidationError) as err:
        TrackerReading.model_validate(with_(path, value))
    assert fragment in str(err.value)


@pytest.mark.parametrize("raw", ['{"temperature_c": NaN}', '{"temperature_c": Infinity}'])
def test_nan_and_infinity_are_refused(raw: str) -> None:
    payload = json.dumps({k: v for k, v in GOOD.items() if k != "temperature_c"})
    bad = payload[:-1] + ", " + raw[1:]
    with pytest.raises(ValidationError, match="finite number"):
        TrackerReading.model_validate_json(bad)


def test_money_is_decimal_and_serialises_as_plain_string() -> None:
    money = Money(amount=Decimal("1E+3"), currency="USD")
    assert json.loads(money.model_dump_json()) == {"amount": "1000", "currency": "USD"}
    assert Money.model_validate_json('{"amount": "0.10", "currency": "EUR"}').amount == Decimal(
        "0.10"
    )
    with pytest.raises(ValidationError):
        Money(amount=Decimal("1"), currency="usd")
    with pytest.raises(ValidationError):
        Money(amount=Decimal("NaN"), currency="USD")


def test_event_envelope_uses_cloudevents_names() -> None:
    event = EventEnvelope(
        id="abc",
        source="/tradelane/streams",
        type="tradelane.shipment.milestone.v1",
        subject="shp-1",
        time=datetime(2026, 1, 1, tzinfo=UTC),
        data={"milestone": "departed"},
    )
    body = json.loads(event.model_dump_json())
    assert body["specversion"] == "1.0"
    assert set(body) >= {"id", "source", "type", "subject", "time", "datacontenttype", "data"}
    with pytest.raises(ValidationError):
        EventEnvelope.model_validate({**body, "type": "shipment-milestone"})


# --- properties ------------------------------------------------------------------------------


def test_every_contract_has_a_strategy() -> None:
    assert set(ALL_CONTRACTS.values()) == set(BY_MODEL)


@pytest.mark.parametrize("name", sorted(ALL_CONTRACTS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_contract_round_trips(name: str, data: st.DataObject) -> None:
    """Every valid instance serialises to JSON and parses back to itself."""
    model: type[BaseModel] = ALL_CONTRACTS[name]
    instance = data.draw(BY_MODEL[model])
    assert model.model_validate_json(instance.model_dump_json()) == instance
    assert model.model_validate(instance.model_dump(mode="json")) == instance
