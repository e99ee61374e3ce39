"""The API's spans: a server span per request under the caller's ``traceparent``, and a
``feed publish`` span per live record that made feed items, under the record's trace."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from starlette.types import Message, Receive, Scope, Send

import api.consumer
from api.consumer import ReadModelConsumer
from api.hub import Hub
from api.projection import ReadModel, apply
from api.tracing import FEED_PUBLISH, FeedTrace, TraceRequests
from tests.samples import booking
from tests.unit.api.records import reading
from tradelane.settings import KafkaSettings
from tradelane.topics import SHIPMENTS_REGISTRY, TRACKER_READINGS

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def spans() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


async def _request(app: TraceRequests, headers: list[tuple[bytes, bytes]]) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/api/v1/shipments/shp-1", "headers": headers}
    await app(scope, receive, send)
    return sent


async def _answer(scope: Scope, _receive: Receive, send: Send) -> None:
    scope["route"] = SimpleNamespace(path="/api/v1/shipments/{shipment_id}")
    await send({"type": "http.response.start", "status": 503, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def test_a_request_continues_the_caller_s_trace(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    sent = await _request(TraceRequests(_answer, provider), [(b"traceparent", PARENT.encode())])
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    [span] = exporter.get_finished_spans()
    assert span.name == "GET /api/v1/shipments/{shipment_id}"  # the route, not the id
    assert span.kind is SpanKind.SERVER
    assert f"{span.context.trace_id:032x}" == PARENT.split("-")[1]
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == PARENT.split("-")[2]
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == 503
    assert span.status.status_code is StatusCode.ERROR


async def test_a_request_without_a_traceparent_starts_a_trace(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    await _request(TraceRequests(_answer, provider), [])
    [span] = exporter.get_finished_spans()
    assert span.parent is None


async def test_a_live_record_s_feed_items_are_published_in_its_trace(
    spans: tuple[TracerProvider, InMemorySpanExporter], monkeypatch: pytest.MonkeyPatch
) -> None:
    provider, exporter = spans
    monkeypatch.setattr(api.consumer, "feed_trace", lambda: FeedTrace(provider.get_tracer("t")))
    model = ReadModel()
    apply(model, SHIPMENTS_REGISTRY.name, booking("shp-a", ["dev-a"]).model_dump_json().encode())
    consumer = ReadModelConsumer(KafkaSettings(), model, Hub(model, 100), 3600)
    topic, first = reading("dev-a", 1, 0, 31.0, 121.0)
    _, second = reading("dev-a", 2, 5, 31.1, 121.1)
    _, third = reading("dev-a", 3, 10, 31.2, 121.2)
    parent = [("traceparent", PARENT.encode())]
    tp = TopicPartition(topic, 0)
    catch_up: Any = {tp: [SimpleNamespace(value=first, key=b"dev-a", headers=parent)]}
    await consumer._fold(catch_up)  # the start-up read: no spans
    assert exporter.get_finished_spans() == ()
    consumer.ready.set()
    live: Any = {
        tp: [
            SimpleNamespace(value=second, key=b"dev-a", headers=parent),
            SimpleNamespace(value=third, key=b"dev-a", headers=[]),  # no trace: no span
        ]
    }
    await consumer._fold(live)
    [span] = exporter.get_finished_spans()
    assert span.name == FEED_PUBLISH
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == PARENT.split("-")[2]
    assert span.attributes is not None
    assert span.attributes["messaging.destination.name"] == TRACKER_READINGS.name
    assert span.attributes["tradelane.feed.items"] >= 1  # type: ignore[operator]
