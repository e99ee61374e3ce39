"""One place that builds Kafka clients, so every process gets the same tuned settings.

Producers: ``acks=all``, idempotence and compression from :class:`KafkaSettings`, a short
linger and large batches (a few milliseconds of linger turn thousands of tiny requests into a
few large ones, which is where a co-located broker spends its CPU). Consumers: no auto-commit
(every process commits only what it has durably handled) and large fetches.
"""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tradelane.settings import KafkaSettings

LINGER_MS = 5
"""Producer linger: the latency a record may wait for others to share its request."""
BATCH_BYTES = 512 * 1024
"""Largest producer batch per partition."""


def producer_options(settings: KafkaSettings, **overrides: Any) -> dict[str, Any]:
    """The keyword arguments of every ``AIOKafkaProducer`` (``overrides`` win)."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": settings.client_id,
        "acks": "all",
        "enable_idempotence": settings.idempotence,
        "compression_type": settings.compression_type,
        "linger_ms": LINGER_MS,
        "max_batch_size": BATCH_BYTES,
        "max_request_size": 4 * 1024 * 1024,
    }
    return options | overrides


def consumer_options(settings: KafkaSettings, **overrides: Any) -> dict[str, Any]:
    """The keyword arguments of every ``AIOKafkaConsumer`` (``overrides`` win)."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": settings.client_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "fetch_max_bytes": 32 * 1024 * 1024,
        "max_partition_fetch_bytes": 4 * 1024 * 1024,
    }
    return options | overrides


def producer(settings: KafkaSettings, **overrides: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(**producer_options(settings, **overrides))


def consumer(settings: KafkaSettings, *topics: str, **overrides: Any) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(*topics, **consumer_options(settings, **overrides))
