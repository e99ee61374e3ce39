"""A delivery continues its event's trace: the CloudEvent carries the event's ``traceparent``
as its distributed-tracing extension attribute, the POST carries the attempt's span, and that
span is a child of the event's context. Also the pure body edit."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tests.unit.shells.kafka_topics import broker
from tests.unit.shells.test_webhook_worker_shell import Receiver, _event, _registries, serving
from tradelane.settings import KafkaSettings
from tradelane.topics import FINANCE_EVENTS
from webhooks.delivery import with_traceparent
from webhooks.sealing import SecretBox, new_key
from webhooks.settings import WebhookSettings
from webhooks.signing import new_secret
from webhooks.tracing import DELIVERY_SPAN
from webhooks.worker import WebhookWorker

ORIGIN = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class HeaderReceiver(Receiver):
    """Also keeps each request's ``traceparent`` header."""

    def __init__(self, secret: str) -> None:
        super().__init__(secret)
        self.traceparents: list[str | None] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.traceparents.append(request.headers.get("traceparent"))
        return await super().handle(request)


async def _deliver(provider: TracerProvider | None) -> HeaderReceiver:
    kafka, box, secret = broker(), SecretBox.parse(new_key()), new_secret()
    receiver = HeaderReceiver(secret)
    async with serving(receiver) as url:
        _registries(kafka, box, url, secret)
        kafka.append(
            FINANCE_EVENTS.name,
            _event("fac-a"),
            key=b"fac-a",
            headers=[("traceparent", ORIGIN.encode())],
        )
        worker = WebhookWorker(
            KafkaSettings(),
            WebhookSettings(group_id="g", start="earliest", allow_hosts="127.0.0.1"),
            box=box,
            make_consumer=kafka.consumer,
            make_producer=kafka.producer,
            tracer_provider=provider,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        await asyncio.wait_for(receiver.arrived.wait(), 10)
        stop.set()
        await asyncio.wait_for(task, 10)
    return receiver


async def test_a_delivery_continues_the_trace_of_its_event() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    receiver = await _deliver(provider)
    [event] = receiver.events
    assert event["traceparent"] == ORIGIN
    [span] = [s for s in exporter.get_finished_spans() if s.name == DELIVERY_SPAN]
    assert span.kind is SpanKind.CLIENT
    assert span.parent is not None
    assert f"{span.context.trace_id:032x}" == ORIGIN.split("-")[1]
    assert f"{span.parent.span_id:016x}" == ORIGIN.split("-")[2]
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == 204
    assert span.attributes["cloudevents.event_id"] == "ev-fac-a"
    [header] = receiver.traceparents
    assert header is not None
    assert header.split("-")[1:3] == [
        f"{span.context.trace_id:032x}",
        f"{span.context.span_id:016x}",
    ]


async def test_without_tracing_the_event_still_names_its_origin_and_the_post_no_span() -> None:
    receiver = await _deliver(None)
    assert [e["traceparent"] for e in receiver.events] == [ORIGIN]
    assert receiver.traceparents == [None]


def test_the_extension_goes_first_and_every_other_byte_stays() -> None:
    body = b'{"id": "e1", "data": {"a": 1}}'
    extended = with_traceparent(body, ORIGIN)
    assert extended == b'{"traceparent":"' + ORIGIN.encode() + b'",' + body[1:]
    assert json.loads(extended) == {"traceparent": ORIGIN, **json.loads(body)}
    assert with_traceparent(b"  {}", ORIGIN) == b'{"traceparent":"' + ORIGIN.encode() + b'"}'


@pytest.mark.parametrize(
    ("body", "origin"),
    [
        (b'{"id": "e1"}', None),
        (b"[1, 2]", ORIGIN),
        (b'{"traceparent": "00-x", "id": "e1"}', ORIGIN),
    ],
)
def test_the_body_is_left_as_it_is_without_a_context_to_add(
    body: bytes, origin: str | None
) -> None:
    assert with_traceparent(body, origin) == body
