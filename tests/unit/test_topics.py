"""Topic names and MQTT topic templates."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.strategies import ids
from tradelane.contracts import ALL_CONTRACTS
from tradelane.topics import (
    KAFKA_TOPICS,
    READINGS_FILTER,
    MqttKind,
    kafka_topic,
    parse_tracker_topic,
    readings_topic,
    shared,
    status_topic,
    tenant_topic,
)


def test_every_topic_named_by_the_architecture_is_declared() -> None:
    assert {t.name for t in KAFKA_TOPICS} == {
        "tracker.readings",
        "tracker.status",
        "tracker.deadletter",
        "shipments.registry",
        "shipments.events",
        "finance.facilities",
        "finance.events",
        "finance.commands",
        "finance.requests",
        "finance.ledger",
        "finance.checkpoints",
        "insurance.policies",
        "insurance.claims",
        "insurance.commands",
        "fx.rates",
        "webhooks.subscriptions",
        "webhooks.deliveries",
        "workers.lease",
        "api.shares",
    }


def test_registries_are_compacted_and_streams_are_not() -> None:
    compacted = {t.name for t in KAFKA_TOPICS if t.cleanup_policy == "compact"}
    assert compacted == {
        "shipments.registry",
        "finance.facilities",
        "insurance.policies",
        "fx.rates",
        "webhooks.subscriptions",
        "api.shares",
    }


def test_every_topic_value_is_an_exported_contract() -> None:
    exported = set(ALL_CONTRACTS.values())
    for topic in KAFKA_TOPICS:
        assert topic.value_model in exported, topic.name
        assert topic.partitions >= 1


def test_lookup_by_name_and_unknown_names_list_the_known() -> None:
    assert kafka_topic("fx.rates").cleanup_policy == "compact"
    with pytest.raises(KeyError, match=r"tracker\.readings"):
        kafka_topic("tracker.reading")


def test_mqtt_templates() -> None:
    assert readings_topic("trk-1") == "tradelane/v1/trackers/trk-1/readings"
    assert status_topic("trk-1") == "tradelane/v1/trackers/trk-1/status"
    assert READINGS_FILTER == "tradelane/v1/trackers/+/readings"
    assert shared(READINGS_FILTER, "bridges") == "$share/bridges/tradelane/v1/trackers/+/readings"


@pytest.mark.parametrize("bad", ["a/b", "+", "#", "", "x" * 65])
def test_unsafe_device_ids_never_become_topics(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid device id"):
        readings_topic(bad)


@pytest.mark.parametrize("group", ["", "a/b", "a+", "#"])
def test_invalid_share_groups_are_refused(group: str) -> None:
    with pytest.raises(ValueError, match="shared-subscription group"):
        shared(READINGS_FILTER, group)


@pytest.mark.parametrize(
    "topic",
    [
        "tradelane/v1/trackers/a/b/readings",
        "tradelane/v2/trackers/a/readings",
        "tradelane/v1/trackers/a/telemetry",
        "owntracks/user/phone",
        "tradelane/v1/trackers//readings",
    ],
)
def test_foreign_topics_do_not_parse(topic: str) -> None:
    assert parse_tracker_topic(topic) is None


@given(ids, st.sampled_from(MqttKind))
def test_topics_parse_back_to_their_device(device_id: str, kind: MqttKind) -> None:
    topic = readings_topic(device_id) if kind is MqttKind.READINGS else status_topic(device_id)
    assert parse_tracker_topic(topic) == (device_id, kind)


@pytest.mark.parametrize(
    ("role", "party"),
    [("bank", "demo-bank"), ("insurer", "Ins Ltd/ÜK"), ("bank", "a.b"), ("borrower", "acme")],
)
def test_tenant_topics_are_legal_and_distinct(role: str, party: str) -> None:
    topic = tenant_topic(role, party)
    assert re.fullmatch(
        r"tenants\.(bank|insurer|borrower)\.[A-Za-z0-9_-]+\.[0-9a-f]{10}", topic.name
    )
    assert len(topic.name) <= 249
    assert topic.name != tenant_topic(role, party.replace(".", "_")).name or "." not in party
    assert tenant_topic(role, party) == topic


def test_no_tenant_view_for_operators() -> None:
    with pytest.raises(ValueError, match="banks, insurers and borrowers"):
        tenant_topic("operator", "x")
