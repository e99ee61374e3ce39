"""The Kafka client module: the options carry the settings (compression and idempotence reach
every producer; a call site's overrides win), and start-up against a broker that is not ready
is retried up to a deadline, with a clear error."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import (
    KafkaConnectionError,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
    UnrecognizedBrokerVersion,
)

from tradelane import kafka as clients
from tradelane.services.process import ServiceError
from tradelane.settings import KafkaSettings

# --- options ---------------------------------------------------------------------------------


@pytest.mark.parametrize("compression", ["none", "gzip", "lz4", "zstd", "snappy"])
@pytest.mark.parametrize("idempotence", [True, False])
def test_producer_options_carry_compression_and_idempotence(
    compression: Any, idempotence: bool
) -> None:
    settings = KafkaSettings(
        bootstrap_servers="k1:9092,k2:9092",
        client_id="tl",
        compression=compression,
        idempotence=idempotence,
    )
    options = clients.producer_options(settings)
    assert options["compression_type"] == (None if compression == "none" else compression)
    assert options["enable_idempotence"] is idempotence
    assert options["acks"] == "all"
    assert (options["bootstrap_servers"], options["client_id"]) == ("k1:9092,k2:9092", "tl")


def test_overrides_win() -> None:
    settings = KafkaSettings(compression="zstd", idempotence=True)
    producer = clients.producer_options(
        settings, linger_ms=0, enable_idempotence=False, client_id="bench"
    )
    assert (producer["linger_ms"], producer["enable_idempotence"]) == (0, False)
    assert (producer["client_id"], producer["compression_type"]) == ("bench", "zstd")
    consumer = clients.consumer_options(
        settings, auto_offset_reset="latest", group_id="g", enable_auto_commit=True
    )
    assert consumer["auto_offset_reset"] == "latest"
    assert (consumer["group_id"], consumer["enable_auto_commit"]) == ("g", True)
    admin = clients.admin_options(settings, request_timeout_ms=3000)
    assert admin["request_timeout_ms"] == 3000


def test_consumer_defaults_commit_nothing_by_themselves() -> None:
    options = clients.consumer_options(KafkaSettings())
    assert options["enable_auto_commit"] is False
    assert options["auto_offset_reset"] == "earliest"


def test_faust_options() -> None:
    options = clients.faust_options(
        KafkaSettings(bootstrap_servers="k1:1,k2:2", compression="gzip")
    )
    assert options["broker"] == "kafka://k1:1;k2:2"
    assert options["producer_acks"] == -1
    assert options["producer_compression_type"] == "gzip"


async def test_factories_build_aiokafka_clients_with_those_options() -> None:
    """Every option is a keyword aiokafka accepts (building connects to nothing)."""
    settings = KafkaSettings(compression="gzip", idempotence=True)
    producer = clients.producer(settings, linger_ms=0)
    consumer = clients.consumer(settings, "t", group_id="g")
    admin = clients.admin(settings)
    try:
        assert isinstance(producer, AIOKafkaProducer)
        assert isinstance(consumer, AIOKafkaConsumer)
        assert isinstance(admin, AIOKafkaAdminClient)
        assert producer._compression_type == "gzip"
        assert producer._txn_manager is not None  # idempotent
        assert consumer._group_id == "g"
    finally:
        await producer.stop()
        await consumer.stop()
        await admin.close()


# --- start-up against a broker that is not ready ---------------------------------------------


class FakeClient:
    """A client whose ``start`` fails with the given errors, one per attempt."""

    def __init__(self, errors: list[Exception]) -> None:
        self.errors = errors
        self.started = False
        self.stopped = False

    async def start(self) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.started = True

    async def stop(self) -> None:
        self.stopped = True


async def test_started_retries_with_a_fresh_client_and_says_what_waits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    errors: list[Exception] = [KafkaConnectionError("refused"), UnknownTopicOrPartitionError()]
    made: list[FakeClient] = []

    def make() -> FakeClient:
        made.append(FakeClient(errors))
        return made[-1]

    with caplog.at_level(logging.WARNING, logger="tradelane.kafka"):
        client = await clients.started(make, "the sink's consumer", deadline_s=10)
    assert client is made[-1]
    assert client.started
    assert len(made) == 3
    assert [c.stopped for c in made] == [True, True, False]
    waits = [r.getMessage() for r in caplog.records]
    assert len(waits) == 2
    assert all(m.startswith("starting the sink's consumer: waiting for Kafka") for m in waits)


async def test_started_gives_up_after_the_deadline_with_a_clear_error() -> None:
    def make() -> FakeClient:
        return FakeClient([KafkaConnectionError("Unable to bootstrap from k:1")])

    with pytest.raises(clients.KafkaNotReadyError) as caught:
        await clients.started(make, "bridge b1's producer", deadline_s=0.05)
    message = str(caught.value)
    assert message.startswith("starting bridge b1's producer: Kafka still not ready after 0 s")
    assert "Unable to bootstrap from k:1" in message
    assert isinstance(caught.value, TimeoutError)
    assert isinstance(caught.value, ServiceError)  # the CLI prints it as an error, exit 2


@pytest.mark.parametrize("error", [UnrecognizedBrokerVersion(), TopicAuthorizationFailedError()])
async def test_errors_that_are_not_retriable_are_raised_at_once(error: Exception) -> None:
    made: list[FakeClient] = []

    def make() -> FakeClient:
        made.append(FakeClient([error]))
        return made[-1]

    with pytest.raises(type(error)):
        await clients.started(make, "a consumer", deadline_s=10)
    assert len(made) == 1
    assert made[0].stopped


class FakeCluster:
    def __init__(self, appears_after: int) -> None:
        self.lookups = 0
        self.appears_after = appears_after
        self.unauthorized_topics: set[str] = set()

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        self.lookups += 1
        return {0, 1, 2} if self.lookups > self.appears_after else None


class FakeKafkaClient:
    def __init__(self, cluster: FakeCluster) -> None:
        self.cluster = cluster
        self.topics: set[str] = set()

    async def add_topic(self, topic: str) -> None:
        self.topics.add(topic)

    async def force_metadata_update(self) -> bool:
        return True


class FakeConsumer:
    def __init__(self, cluster: FakeCluster) -> None:
        self._client = FakeKafkaClient(cluster)


async def test_partitions_wait_for_a_topic_to_be_created(caplog: pytest.LogCaptureFixture) -> None:
    consumer = FakeConsumer(FakeCluster(appears_after=4))
    with caplog.at_level(logging.WARNING, logger="tradelane.kafka"):
        found = await clients.partitions(consumer, "tracker.readings", deadline_s=10)
    assert found == {0, 1, 2}
    assert consumer._client.topics == {"tracker.readings"}
    assert caplog.records
    assert "finding topic tracker.readings: waiting for Kafka" in caplog.records[0].getMessage()


async def test_partitions_of_a_topic_never_created_end_with_a_clear_error() -> None:
    consumer = FakeConsumer(FakeCluster(appears_after=10**6))
    with pytest.raises(clients.KafkaNotReadyError, match="finding topic t1: Kafka still not"):
        await clients.partitions(consumer, "t1", deadline_s=0.05)


async def test_partitions_of_a_forbidden_topic_fail_at_once() -> None:
    cluster = FakeCluster(appears_after=10**6)
    cluster.unauthorized_topics.add("t1")
    with pytest.raises(TopicAuthorizationFailedError):
        await clients.partitions(FakeConsumer(cluster), "t1", deadline_s=10)
