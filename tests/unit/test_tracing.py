"""Trace context across Kafka headers (:mod:`transport.tracing`) and when a command turns the
SDK on (:mod:`cli.tracing`)."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider

from cli.tracing import exporter_name
from tradelane.errors import UsageError
from transport import tracing


def test_a_span_s_headers_carry_its_context_to_the_reader() -> None:
    span = TracerProvider().get_tracer("t").start_span("write")
    headers = tracing.headers_of(span)
    assert [name for name, _ in headers] == ["traceparent"]
    carried = trace.get_current_span(tracing.context_of(headers)).get_span_context()
    assert (carried.trace_id, carried.span_id) == (
        span.get_span_context().trace_id,
        span.get_span_context().span_id,
    )
    assert carried.is_remote
    assert tracing.traceparent(headers) == headers[0][1].decode()
    context = span.get_span_context()
    version, trace_id, span_id, flags = headers[0][1].decode().split("-")
    assert (version, trace_id, span_id) == (
        "00",
        f"{context.trace_id:032x}",
        f"{context.span_id:016x}",
    )
    assert int(flags, 16) & 1  # sampled


def test_a_reader_continues_the_writer_s_trace_under_its_span() -> None:
    tracer = TracerProvider().get_tracer("t")
    writer = tracer.start_span("write")
    reader = tracer.start_span("read", context=tracing.context_of(tracing.headers_of(writer)))
    assert isinstance(reader, ReadableSpan)
    assert reader.parent is not None
    assert reader.parent.span_id == writer.get_span_context().span_id
    assert reader.get_span_context().trace_id == writer.get_span_context().trace_id


@pytest.mark.parametrize(
    "headers",
    [None, [], [("other", b"x")], [("traceparent", b"not a traceparent")]],
)
def test_records_without_a_valid_traceparent_start_no_trace_of_their_own(
    headers: list[tuple[str, bytes]] | None,
) -> None:
    context = tracing.context_of(headers)
    assert not trace.get_current_span(context).get_span_context().is_valid


def test_tracestate_travels_with_traceparent() -> None:
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    headers = [("traceparent", parent.encode()), ("tracestate", b"vendor=1")]
    context = trace.get_current_span(tracing.context_of(headers)).get_span_context()
    assert context.trace_state.get("vendor") == "1"
    span = TracerProvider().get_tracer("t").start_span("next", context=tracing.context_of(headers))
    assert dict(tracing.headers_of(span))["tracestate"] == b"vendor=1"


def test_only_an_installed_sdk_provider_is_active() -> None:
    assert not tracing.active(trace.ProxyTracerProvider())
    assert not tracing.active(trace.NoOpTracerProvider())
    assert tracing.active(TracerProvider())
    assert not tracing.active()  # no command configured this test process


@pytest.mark.parametrize(
    ("env", "exporter"),
    [
        ({}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, "otlp"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, "otlp"),
        ({"OTEL_TRACES_EXPORTER": "console"}, "console"),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, "otlp"),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"}, None),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, None),
        ({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio"}, None),
    ],
)
def test_tracing_is_on_only_when_an_exporter_is_configured(
    env: dict[str, str], exporter: str | None
) -> None:
    assert exporter_name(env) == exporter


def test_an_exporter_tradelane_does_not_ship_is_refused() -> None:
    with pytest.raises(UsageError, match="zipkin"):
        exporter_name({"OTEL_TRACES_EXPORTER": "zipkin"})


@pytest.mark.parametrize(
    "value",
    [b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331", b'00-0af7", "x": "y', b"\xff"],
)
def test_a_malformed_traceparent_is_not_passed_on(value: bytes) -> None:
    assert tracing.traceparent([("traceparent", value)]) is None
