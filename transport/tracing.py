"""W3C trace context in Kafka record headers: the one way a trace crosses a topic.

A record a traced process writes carries ``traceparent`` (and ``tracestate`` when the trace
has one) as Kafka headers, so the process that reads it continues the same trace: the bridge's
span of an MQTT message → the worker's step on the reading → the pledge engine's step → the
ledger entry → the webhook delivery (docs/operations.md, "Tracing").

Only the OpenTelemetry *API* is used here: the SDK (exporters, sampling) is set up at the
edge, by each command (:mod:`cli.tracing`). Until a command does, the API's global provider is
a proxy that records nothing, and :func:`active` is false: callers check it once per batch and
then do no per-record work at all, so a process without tracing pays nothing for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

Headers = list[tuple[str, bytes]]
"""Kafka record headers as aiokafka takes them: (name, value) pairs."""

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"


def active(provider: trace.TracerProvider | None = None) -> bool:
    """Whether ``provider`` (default: the global one) records anything: false for the API's
    placeholder proxy and its no-op provider, true once a command installed an SDK provider."""
    provider = provider if provider is not None else trace.get_tracer_provider()
    return not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)


class _HeaderGetter(Getter[Mapping[str, bytes]]):
    """Reads propagation fields from Kafka headers (bytes values; a name may repeat)."""

    def get(self, carrier: Mapping[str, bytes], key: str) -> list[str] | None:
        value = carrier.get(key)
        return None if value is None else [value.decode("latin-1")]

    def keys(self, carrier: Mapping[str, bytes]) -> list[str]:
        return list(carrier)


_GETTER = _HeaderGetter()
_W3C = TraceContextTextMapPropagator()
"""W3C trace context only, whatever ``OTEL_PROPAGATORS`` says: records carry exactly
``traceparent`` and ``tracestate`` (baggage would put arbitrary caller data on every record)."""


def context_of(headers: Iterable[tuple[str, bytes]] | None) -> Context | None:
    """The trace context a record's headers carry, or None when they carry none (the record
    was written by a process without tracing: a step on it starts a trace of its own)."""
    if not headers:
        return None
    carrier = {name.lower(): value for name, value in headers if value is not None}
    if TRACEPARENT not in carrier:
        return None
    return _W3C.extract(carrier, getter=_GETTER)


def headers_of(span: trace.Span) -> Headers:
    """The headers that make a record written now a continuation of ``span``'s trace."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier, context=trace.set_span_in_context(span))
    return [(name, value.encode("latin-1")) for name, value in carrier.items()]


_TRACEPARENT = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")


def traceparent(headers: Iterable[tuple[str, bytes]] | None) -> str | None:
    """A record's ``traceparent`` header, if it has a well-formed one (for a CloudEvent's
    distributed-tracing extension, which carries the event's own context: it is written into
    a JSON body, so anything but the W3C form is refused)."""
    for name, value in headers or ():
        if name.lower() == TRACEPARENT and value:
            text = value.decode("latin-1")
            return text if _TRACEPARENT.fullmatch(text) else None
    return None
