"""Kafka refuses what the grants do not allow, on the real broker `tradelane services up` runs.

Every refusal is tried for real: an anonymous client, a wrong password, and each service
principal reading or writing a topic outside its grant (a write is a single record that the
broker must refuse, so no test data reaches a topic). Grants that exist are proved by the
processes that run as their principal in the other integration tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAuthorizationFailedError
from pydantic import SecretStr

from devtools.services.kafka import Kafka
from devtools.services.kafka_access import provision, provision_tenant
from tradelane.principals import (
    READS,
    SERVICE_PRINCIPALS,
    WRITES,
    Operation,
    Principal,
    can,
    service_grants,
)
from tradelane.settings import KafkaSettings, ServicesSettings
from tradelane.topics import KAFKA_TOPICS, tenant_topic
from transport import kafka as clients
from transport.admin import ensure_topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

GRANTS = service_grants()


def _refused_writes() -> Iterator[tuple[Principal, str]]:
    for principal in SERVICE_PRINCIPALS:
        for topic in KAFKA_TOPICS:
            if not can(GRANTS, principal, Operation.WRITE, topic.name):
                yield principal, topic.name


def _refused_reads() -> Iterator[tuple[Principal, str]]:
    for principal in SERVICE_PRINCIPALS:
        for topic in KAFKA_TOPICS:
            if not can(GRANTS, principal, Operation.DESCRIBE, topic.name):
                yield principal, topic.name


async def test_an_anonymous_client_is_refused(kafka_settings: KafkaSettings) -> None:
    anonymous = kafka_settings.model_copy(update={"security_protocol": "PLAINTEXT"})
    producer = clients.producer(anonymous, request_timeout_ms=3000)
    with pytest.raises(KafkaConnectionError):
        await asyncio.wait_for(producer.start(), 20)
    await producer.stop()


async def test_a_wrong_password_is_refused(kafka_settings: KafkaSettings) -> None:
    impostor = kafka_settings.model_copy(
        update={"username": Principal.WORKER.value, "password": SecretStr("not-the-password")}
    )
    producer = clients.producer(impostor, request_timeout_ms=3000)
    with pytest.raises(KafkaConnectionError):
        await asyncio.wait_for(producer.start(), 20)
    await producer.stop()


async def test_each_service_is_refused_every_write_outside_its_grant(
    kafka_settings: KafkaSettings,
) -> None:
    refused = list(_refused_writes())
    assert ("bridge", "finance.commands") in refused  # the money commands are among them
    accepted: list[tuple[str, str]] = []
    for principal in SERVICE_PRINCIPALS:
        producer = clients.producer(kafka_settings.as_principal(principal), request_timeout_ms=5000)
        await producer.start()
        try:
            for who, topic in refused:
                if who is not principal:
                    continue
                try:
                    await asyncio.wait_for(producer.send_and_wait(topic, b"{}", key=b"x"), 20)
                    accepted.append((who, topic))
                except TopicAuthorizationFailedError:
                    pass
        finally:
            await producer.stop()
    assert not accepted, f"the broker accepted writes outside the grants: {accepted}"


async def test_each_service_is_refused_every_read_outside_its_grant(
    kafka_settings: KafkaSettings,
) -> None:
    seen: list[tuple[str, str]] = []
    for principal in SERVICE_PRINCIPALS:
        reader = clients.consumer(kafka_settings.as_principal(principal))
        await reader.start()
        try:
            for who, topic in _refused_reads():
                if who is not principal:
                    continue
                try:
                    await clients.partitions(reader, topic, deadline_s=5)
                    seen.append((who, topic))
                except (TopicAuthorizationFailedError, KafkaError):
                    pass
        finally:
            await reader.stop()
    assert not seen, f"these principals can see topics outside their grants: {seen}"


async def test_each_service_can_see_what_it_reads(kafka_settings: KafkaSettings) -> None:
    """The counterpart of the refusals: the same check passes where a grant exists, so the
    refusals above are the ACLs' doing, not a broken client."""
    for principal, topics in READS.items():
        if not topics:
            continue
        reader = clients.consumer(kafka_settings.as_principal(principal))
        await reader.start()
        try:
            for topic in topics:
                assert await clients.partitions(reader, topic.name, deadline_s=10)
        finally:
            await reader.stop()
    assert WRITES[Principal.BRIDGE]  # and writers are proved by the pipeline's own tests


def test_provisioning_again_changes_nothing(kafka_settings: KafkaSettings) -> None:
    broker = Kafka(ServicesSettings(), kafka_settings)
    summary = provision(broker.kafka, broker.libs, broker.cache, broker.process.log_file)
    assert "acls created 0, acls deleted 0" in summary, summary


async def test_a_tenant_reads_its_own_view_and_nothing_else(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    broker = Kafka(ServicesSettings(), kafka_settings)
    views = {p: tenant_topic("bank", p) for p in (f"bank-a-{unique}", f"bank-b-{unique}")}
    await ensure_topics(kafka_settings, tuple(views.values()))
    party_a, party_b = views
    user, password = provision_tenant(
        broker.kafka, broker.libs, broker.cache, broker.process.log_file, "bank", party_a
    )
    tenant = kafka_settings.model_copy(update={"username": user, "password": SecretStr(password)})
    reader = clients.consumer(tenant)
    await reader.start()
    try:
        assert await clients.partitions(reader, views[party_a].name, deadline_s=10)
        for other in (views[party_b].name, "finance.events", "finance.ledger"):
            with pytest.raises(TopicAuthorizationFailedError):
                await clients.partitions(reader, other, deadline_s=5)
    finally:
        await reader.stop()
    # not idempotent: an idempotent producer without any write grant is refused at start
    writer = clients.producer(tenant, request_timeout_ms=5000, enable_idempotence=False)
    await writer.start()
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await writer.send_and_wait(views[party_a].name, b"{}", key=b"x")
    finally:
        await writer.stop()
