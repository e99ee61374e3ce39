"""The bridge's spans: one per MQTT message, from its arrival to Kafka's acknowledgement.

Each message the bridge receives starts a trace; the record it becomes carries the
span's context in its Kafka headers (:mod:`transport.tracing`), so the worker's step on the
reading, the events it causes, the pledge engine's step and the ledger entry are all in the
same trace. The span ends when Kafka acknowledged the record (its length is the bridge's
latency for that message, the inbox wait included).

:func:`bridge_tracing` returns None when no tracer provider is installed: the bridge then
makes no span, no headers and no call per message (``if self.tracing is not None``).
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from opentelemetry import trace

from transport import tracing
from transport.tracing import Headers


class BridgeTracing:
    """Starts and ends the bridge's per-message spans."""

    def __init__(self, provider: trace.TracerProvider) -> None:
        self._tracer = provider.get_tracer("tradelane.bridge")

    def receive(
        self,
        mqtt_topic: str,
        received_at: datetime,
        target: str,
        key: bytes,
    ) -> tuple[trace.Span, Headers]:
        """The span of one message received at ``received_at`` and bound for Kafka topic
        ``target`` with ``key`` (a device id, or a dead letter's MQTT topic), and the headers
        its record carries."""
        span = self._tracer.start_span(
            "mqtt receive",
            kind=trace.SpanKind.CONSUMER,
            start_time=int(received_at.timestamp() * 1e9),
            attributes={
                "messaging.system": "mqtt",
                "messaging.destination.name": mqtt_topic,
                "tradelane.kafka.topic": target,
                "tradelane.kafka.key": key.decode("utf-8", "replace"),
            },
        )
        return span, tracing.headers_of(span)


def end_when_sent(span: trace.Span, future: asyncio.Future[object]) -> None:
    """End ``span`` when Kafka answered for its record (an error marks it failed)."""

    def done(f: asyncio.Future[object]) -> None:
        error = None if f.cancelled() else f.exception()
        if f.cancelled() or error is not None:
            span.set_status(trace.StatusCode.ERROR, repr(error) if error else "cancelled")
        span.end()

    future.add_done_callback(done)


def bridge_tracing(provider: trace.TracerProvider | None = None) -> BridgeTracing | None:
    """The bridge's tracing, or None when ``provider`` (default: the global one) records
    nothing."""
    provider = provider if provider is not None else trace.get_tracer_provider()
    return BridgeTracing(provider) if tracing.active(provider) else None
