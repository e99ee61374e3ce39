"""The bridge's replay clock: a replay's simulated receive time is taken from the message's
user property only when the bridge was told to (``--replay-clock``), and only a valid,
zoned ISO 8601 time is taken."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from ingest.bridge import RECEIVED_AT_PROPERTY, BridgeConfig, replayed_receive_time


def message(*pairs: tuple[str, str]) -> Any:
    return SimpleNamespace(properties=SimpleNamespace(UserProperty=list(pairs)))


def test_the_replayed_receive_time_is_read_from_its_property() -> None:
    at = datetime(2026, 3, 1, 12, 30, 15, 250000, tzinfo=UTC)
    msg = message(("other", "x"), (RECEIVED_AT_PROPERTY, at.isoformat()))
    assert replayed_receive_time(msg) == at


def test_no_property_a_bad_value_or_no_zone_gives_none() -> None:
    assert replayed_receive_time(message()) is None
    no_properties: Any = SimpleNamespace(properties=None)
    assert replayed_receive_time(no_properties) is None
    assert replayed_receive_time(message((RECEIVED_AT_PROPERTY, "yesterday"))) is None
    assert replayed_receive_time(message((RECEIVED_AT_PROPERTY, "2026-03-01T12:00:00"))) is None


def test_the_replay_clock_is_off_by_default() -> None:
    assert BridgeConfig().replay_clock is False
