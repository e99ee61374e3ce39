"""A fake broker holding the project's topics, each with its declared partition count."""

from __future__ import annotations

from tests.doubles.kafka import FakeKafka
from tradelane.topics import KAFKA_TOPICS


def broker(max_wait_ms: int = 5) -> FakeKafka:
    return FakeKafka(topics={t.name: t.partitions for t in KAFKA_TOPICS}, max_wait_ms=max_wait_ms)
