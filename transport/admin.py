"""Create the Kafka topics of :mod:`tradelane.topics`, idempotently.

Running it twice is harmless: topics that exist are left alone and reported as such. A topic
that exists with fewer partitions than declared is reported, not silently accepted, because
key→partition placement (and so per-key ordering) depends on the count.

Also consumer-group descriptions and the partitions of a topic. Every call waits for a broker
that is starting or restarting with :func:`transport.kafka.retrying` (re-exported here, with
``BROKER_WAIT_S``, for older callers).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
    for_code,
)

from tradelane.settings import KafkaSettings
from tradelane.topics import KAFKA_TOPICS, KafkaTopic
from transport import kafka as clients
from transport.kafka import BROKER_WAIT_S, KafkaNotReadyError, retrying

__all__ = [
    "BROKER_WAIT_S",
    "KafkaNotReadyError",
    "TopicOutcome",
    "describe_group",
    "ensure_topics",
    "members_with_partitions",
    "replication_factor",
    "retrying",
    "topic_partitions",
    "wait_for_group",
]


@dataclass(frozen=True)
class TopicOutcome:
    name: str
    action: str  # "created" | "exists" | "mismatch"
    detail: str = ""


async def ensure_topics(
    settings: KafkaSettings,
    topics: tuple[KafkaTopic, ...] = KAFKA_TOPICS,
    with_configs: bool = True,
    ready_timeout_s: float = 30.0,
) -> list[TopicOutcome]:
    """Create missing topics; ``with_configs=False`` for brokers that reject topic configs.
    Retries while the broker is starting or restarting."""
    return await retrying(
        "creating topics", lambda: _ensure_topics(settings, topics, with_configs, ready_timeout_s)
    )


async def _ensure_topics(
    settings: KafkaSettings,
    topics: tuple[KafkaTopic, ...],
    with_configs: bool,
    ready_timeout_s: float,
) -> list[TopicOutcome]:
    admin = clients.admin(settings, client_id=f"{settings.client_id}-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        outcomes: list[TopicOutcome] = []
        missing = [t for t in topics if t.name not in existing]
        replicas = await replication_factor(admin, settings) if missing else 1
        for topic in missing:
            new = NewTopic(
                name=topic.name,
                num_partitions=topic.partitions,
                replication_factor=replicas,
                topic_configs=topic.configs() if with_configs else {},
            )
            try:
                response = await admin.create_topics([new])
                _raise_topic_errors(response)
                outcomes.append(TopicOutcome(topic.name, "created", _describe(topic)))
            except TopicAlreadyExistsError:
                outcomes.append(TopicOutcome(topic.name, "exists", "created concurrently"))
        if missing:
            await _await_visible(admin, missing, ready_timeout_s)
        present = [t for t in topics if t.name in existing]
        if present:
            counts = await _partition_counts(admin, [t.name for t in present])
            for topic in present:
                count = counts.get(topic.name, 0)
                if count < topic.partitions:
                    outcomes.append(
                        TopicOutcome(
                            topic.name,
                            "mismatch",
                            f"has {count} partitions, declared {topic.partitions}",
                        )
                    )
                else:
                    outcomes.append(TopicOutcome(topic.name, "exists", f"{count} partitions"))
        order = {t.name: i for i, t in enumerate(topics)}
        return sorted(outcomes, key=lambda o: order[o.name])
    finally:
        await admin.close()


MAX_REPLICATION = 3
"""Replicas per topic on a cluster of three brokers or more (min.insync.replicas is 2 there)."""


async def replication_factor(admin: AIOKafkaAdminClient, settings: KafkaSettings) -> int:
    """The configured replication factor, else one replica per broker the cluster's metadata
    names, up to three: 1 on a single broker, 3 on the three-node cluster."""
    if settings.replication_factor is not None:
        return settings.replication_factor
    described = await admin.describe_cluster()
    return max(1, min(MAX_REPLICATION, len(described.get("brokers") or ())))


async def _partition_counts(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, int]:
    described = await admin.describe_topics(names)
    return {d["topic"]: len(d["partitions"]) for d in described if not d.get("error_code")}


async def _await_visible(
    admin: AIOKafkaAdminClient, created: list[KafkaTopic], timeout_s: float
) -> None:
    """Return once new topics show all their partitions in metadata, so that a caller (or the
    next ``ensure_topics``) never sees a half-propagated topic."""
    deadline = time.monotonic() + timeout_s
    want = {t.name: t.partitions for t in created}
    while True:
        counts = await _partition_counts(admin, list(want))
        if all(counts.get(name, 0) >= n for name, n in want.items()):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics not visible after {timeout_s:.0f}s: {counts}")
        await asyncio.sleep(0.1)  # polling interval of a deadline-bounded wait


def _raise_topic_errors(response: Any) -> None:
    """aiokafka returns per-topic errors instead of raising them: raise the first, so that a
    refused creation (no CREATE grant) says so instead of waiting for a topic that never
    comes."""
    for topic, code, message, *_ in response.topic_errors:
        if code == TopicAuthorizationFailedError.errno:
            raise TopicAuthorizationFailedError(
                f"creating topic {topic}: this principal may not create or describe it"
            )
        if code:
            raise for_code(code)(f"creating topic {topic}: {message}")


def _describe(topic: KafkaTopic) -> str:
    return f"{topic.partitions} partitions, cleanup.policy={topic.cleanup_policy}"


async def topic_partitions(
    consumer: AIOKafkaConsumer, topic: str, deadline_s: float | None = None
) -> list[TopicPartition]:
    """All partitions of ``topic``, for a consumer that assigns them itself; a topic not
    created yet is waited for up to ``deadline_s`` (:func:`transport.kafka.partitions`)."""
    partitions = await clients.partitions(consumer, topic, deadline_s)
    return [TopicPartition(topic, p) for p in sorted(partitions)]


async def describe_group(settings: KafkaSettings, group: str) -> dict[str, Any]:
    """A consumer group as the coordinator describes it (``state``, ``members`` with their
    assignments); an unknown group comes back ``Dead`` with no members. Retries while the
    broker has no coordinator yet (a fresh or restarting Kafka)."""
    return await retrying(f"describing group {group}", lambda: _describe_group(settings, group))


async def _describe_group(settings: KafkaSettings, group: str) -> dict[str, Any]:
    admin = clients.admin(settings)
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([group])
        described: dict[str, Any] = response.to_object()["groups"][0]
    finally:
        await admin.close()
    return described


async def members_with_partitions(settings: KafkaSettings, group: str) -> int:
    """How many members of ``group`` hold partitions (0 while it is rebalancing)."""
    described = await describe_group(settings, group)
    if described["state"] != "Stable":
        return 0
    return sum(1 for m in described["members"] if m["member_assignment"])


async def wait_for_group(
    settings: KafkaSettings, group: str, members: int = 1, timeout_s: float = 60.0
) -> None:
    """Return once ``group`` is stable with ``members`` members holding partitions."""
    deadline = time.monotonic() + timeout_s
    while await members_with_partitions(settings, group) < members:
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"group {group} not stable with {members} member(s) in {timeout_s:.0f} s"
            )
        await asyncio.sleep(0.2)  # polling the coordinator under a deadline


async def prepare_broker(settings: KafkaSettings) -> list[TopicOutcome]:
    """Make a started broker ready for the first worker: every topic created, and the
    broker's own topics for groups and transactions (made on their first use: a fresh
    broker's first group and first transactional producer would otherwise wait for them)."""
    outcomes = await ensure_topics(settings)
    await describe_group(settings, "tradelane-warm-up")  # creates __consumer_offsets
    producer = await clients.started(
        lambda: clients.producer(settings, transactional_id="tradelane-warm-up"),
        "the warm-up transactional producer",  # creates __transaction_state
    )
    await producer.stop()
    return outcomes
