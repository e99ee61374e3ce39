"""The Kafka grants: each service can do its job and nothing that moves money beyond it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devtools.services.kafka_access import plan, scram_entry
from tradelane.principals import (
    READS,
    SERVICE_PRINCIPALS,
    WORKER_PREFIX,
    WRITES,
    Operation,
    Pattern,
    Principal,
    Resource,
    can,
    service_grants,
    topics_of,
)
from tradelane.topics import (
    FINANCE_CHECKPOINTS,
    FINANCE_COMMANDS,
    FINANCE_LEDGER,
    INSURANCE_COMMANDS,
    KAFKA_TOPICS,
    WEBHOOKS_SUBSCRIPTIONS,
)

GRANTS = service_grants()


@pytest.mark.parametrize(
    "topic", [FINANCE_COMMANDS, INSURANCE_COMMANDS, FINANCE_LEDGER, FINANCE_CHECKPOINTS]
)
def test_only_the_worker_writes_money(topic: object) -> None:
    name = topic.name  # type: ignore[attr-defined]
    writers = [p for p in SERVICE_PRINCIPALS if can(GRANTS, p, Operation.WRITE, name)]
    assert writers == [Principal.WORKER]


def test_every_declared_topic_has_a_writer_and_a_reader() -> None:
    for topic in KAFKA_TOPICS:
        assert any(topic in WRITES[p] for p in WRITES), topic.name
        readers = [p for p in READS if topic in READS[p]]
        # the dead-letter topic is read by operators (admin), not by a service
        assert readers or topic.name == "tracker.deadletter", topic.name


def test_a_service_reads_only_what_it_is_granted() -> None:
    assert not can(GRANTS, Principal.BRIDGE, Operation.READ, "tracker.readings")
    assert not can(GRANTS, Principal.SINK, Operation.READ, WEBHOOKS_SUBSCRIPTIONS.name)
    assert not can(GRANTS, Principal.SIMULATOR, Operation.READ, "finance.ledger")
    assert can(GRANTS, Principal.WEBHOOKS, Operation.READ, WEBHOOKS_SUBSCRIPTIONS.name)


@given(st.text(alphabet="abcdefghij-.", min_size=1, max_size=30))
def test_the_worker_owns_exactly_its_prefix(suffix: str) -> None:
    inside, outside = f"{WORKER_PREFIX}{suffix}", f"x{suffix}"
    assert can(GRANTS, Principal.WORKER, Operation.WRITE, inside)
    assert can(GRANTS, Principal.WORKER, Operation.READ, inside)
    if outside not in {t.name for t in KAFKA_TOPICS}:
        assert not can(GRANTS, Principal.WORKER, Operation.WRITE, outside)


def test_groups_and_transactional_ids_are_prefixed_per_service() -> None:
    groups = {
        (g.principal, g.name)
        for g in GRANTS
        if g.resource is Resource.GROUP and g.pattern is Pattern.PREFIXED
    }
    assert (Principal.WORKER, WORKER_PREFIX) in groups
    assert (Principal.SINK, "tradelane-sink") in groups
    assert not any(p is Principal.BRIDGE for p, _ in groups)  # MQTT groups only
    txn = {g.principal for g in GRANTS if g.resource is Resource.TRANSACTIONAL_ID}
    assert txn == {Principal.WORKER}


def test_every_topic_a_service_uses_it_may_create() -> None:
    for principal in SERVICE_PRINCIPALS:
        for topic in topics_of(principal):
            assert any(
                g.principal is principal
                and g.name == topic.name
                and g.operation is Operation.CREATE
                for g in GRANTS
            ), (principal, topic.name)


def test_grants_are_sorted_and_unique() -> None:
    assert list(GRANTS) == sorted(set(GRANTS))


def test_the_plan_carries_every_grant_and_no_admin_user() -> None:
    passwords = {p.value: f"pw-{p.value}" for p in Principal}
    lines = plan(passwords, GRANTS).splitlines()
    assert sum(line.startswith("acl\t") for line in lines) == len(GRANTS)
    users = [line.split("\t")[1] for line in lines if line.startswith("scram\t")]
    assert sorted(users) == sorted(p.value for p in SERVICE_PRINCIPALS)
    assert "admin" not in users  # the admin's credential is written at format time


def test_the_format_entry_holds_a_salted_hash_not_the_password() -> None:
    entry = scram_entry("admin", "s3cret-password")
    assert "s3cret-password" not in entry
    assert entry.startswith("SCRAM-SHA-512=[name=admin,salt=")
    assert entry != scram_entry("admin", "s3cret-password")  # a fresh salt each time
