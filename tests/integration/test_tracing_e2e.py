"""One trace from an MQTT message to the ledger entry it paid out, across real Mosquitto and
Kafka and two processes: the bridge runs here and records its spans in memory; the worker is a
child that exports over OTLP/HTTP (the real exporter) to a receiver this test runs on
127.0.0.1. A pledged shipment departs; the drawdown's ledger entry span must lead back, parent
by parent, through the pledge step and the shipment step to the bridge's span of the MQTT
message that carried the departing reading, all in one trace; the ``finance.ledger`` record
carries the ledger entry span's context. The bank's webhook (a webhook worker in this process)
gets the drawdown event with the pledge step's context as its ``traceparent`` extension, and
the delivery's span continues that trace."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from streams.tracing import LEDGER_ENTRY, PLEDGE_STEP, SHIPMENT_STEP
from tests.integration.helpers import Tail, bridge_and_worker
from tests.integration.test_worker import voyage
from tests.samples import booking
from tests.samples import facility as facility_sample
from tradelane.contracts import LedgerEntry
from tradelane.contracts.webhooks import SubscriberRole
from tradelane.settings import KafkaSettings, MqttSettings
from tradelane.topics import FINANCE_FACILITIES, FINANCE_LEDGER, SHIPMENTS_REGISTRY, readings_topic
from transport import kafka as clients
from transport import tracing
from transport.mqtt import make_client
from webhooks.lifecycle import created
from webhooks.settings import WebhookSettings
from webhooks.signing import new_secret
from webhooks.store import KafkaSubscriptionStore
from webhooks.tracing import DELIVERY_SPAN
from webhooks.worker import WebhookWorker

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(180)]


@dataclass(frozen=True)
class Seen:
    """A span as either side reported it: ids in hex, as in a traceparent."""

    name: str
    trace_id: str
    span_id: str
    parent_id: str | None
    attributes: dict[str, Any]


def _value(value: AnyValue) -> Any:
    return getattr(value, value.WhichOneof("value") or "string_value")


class OtlpReceiver:
    """The OTLP/HTTP traces endpoint (``POST /v1/traces``, protobuf) of a collector, enough to
    see what the worker exports."""

    def __init__(self) -> None:
        self.spans: list[Seen] = []
        self.hooks: list[tuple[dict[str, Any], str | None]] = []
        """Each webhook POST's CloudEvent and its ``traceparent`` HTTP header."""
        self._arrived = asyncio.Condition()

    async def hook(self, request: web.Request) -> web.Response:
        event = json.loads(await request.read())
        async with self._arrived:
            self.hooks.append((event, request.headers.get("traceparent")))
            self._arrived.notify_all()
        return web.Response(status=204)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        export = ExportTraceServiceRequest()
        export.ParseFromString(body)
        async with self._arrived:
            for resource in export.resource_spans:
                for scope in resource.scope_spans:
                    self.spans += [
                        Seen(
                            span.name,
                            span.trace_id.hex(),
                            span.span_id.hex(),
                            span.parent_span_id.hex() or None,
                            {kv.key: _value(kv.value) for kv in span.attributes},
                        )
                        for span in scope.spans
                    ]
            self._arrived.notify_all()
        return web.Response(
            body=ExportTraceServiceResponse().SerializeToString(),
            content_type="application/x-protobuf",
        )

    async def until(self, found: Callable[[], bool], timeout_s: float) -> None:
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(found), timeout_s)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[OtlpReceiver, str]]:
    otlp = OtlpReceiver()
    app = web.Application()
    app.router.add_post("/v1/traces", otlp.handle)
    app.router.add_post("/hook", otlp.hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield otlp, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def _chain(spans: dict[str, Seen], last: Seen) -> list[Seen]:
    """``last`` and its ancestors, as far as ``spans`` knows them."""
    chain = [last]
    while chain[-1].parent_id is not None and chain[-1].parent_id in spans:
        chain.append(spans[chain[-1].parent_id])
    return chain


def _is_entry(span: Seen, facility: str) -> bool:
    return span.name == LEDGER_ENTRY and span.attributes.get("tradelane.facility") == facility


def _drawdown(hooks: list[tuple[dict[str, Any], str | None]]) -> list[tuple[dict[str, Any], str]]:
    """The drawdown events the bank's webhook received, with the POST's traceparent."""
    return [
        (event, header or "")
        for event, header in hooks
        if event["type"] == "tradelane.finance.drawdown_executed.v1"
    ]


async def _subscribe(kafka: KafkaSettings, unique: str, bank: str, url: str) -> None:
    sub = created(
        f"wh_t{unique}",
        SubscriberRole.BANK,
        bank,
        new_secret(),
        datetime.now(UTC),
        url=url,
        event_types=["tradelane.finance.*"],
    )
    store = KafkaSubscriptionStore(kafka)
    try:
        await store.save(sub)
    finally:
        await store.close()


async def test_an_mqtt_message_s_trace_reaches_the_ledger_entry_it_paid_out(
    mqtt_settings: MqttSettings,
    kafka_settings: KafkaSettings,
    unique: str,
    tmp_path: Path,
    receiver: tuple[OtlpReceiver, str],
) -> None:
    otlp, endpoint = receiver
    shipment, device, facility = f"shp-t{unique}", f"trk-t{unique}", f"fac-t{unique}"
    bank = f"bank-t{unique}"
    bridge_spans = InMemorySpanExporter()
    provider = TracerProvider()  # the bridge's and the webhook worker's, in this process
    provider.add_span_processor(SimpleSpanProcessor(bridge_spans))
    worker_env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_SERVICE_NAME": "tradelane-worker-test",
    }
    await _subscribe(kafka_settings, unique, bank, f"{endpoint}/hook")
    webhooks = WebhookWorker(
        kafka_settings,
        WebhookSettings(group_id=f"test-trace-{unique}", allow_hosts="127.0.0.1"),
        tracer_provider=provider,
    )
    stop_webhooks = asyncio.Event()
    delivering = asyncio.create_task(webhooks.run(stop_webhooks))
    producer = clients.producer(kafka_settings)
    await producer.start()
    publisher = make_client(mqtt_settings, f"trace-pub-{unique}")
    publisher.connect(mqtt_settings.host, mqtt_settings.port)
    publisher.loop_start()
    try:
        async with (
            bridge_and_worker(
                mqtt_settings,
                kafka_settings,
                f"tradelane-streams-trace-{unique}",
                tmp_path,
                tracer_provider=provider,
                worker_env=worker_env,
            ),
            Tail(kafka_settings, FINANCE_LEDGER.name) as ledger,
        ):
            await asyncio.wait_for(webhooks.ready.wait(), 60)
            await producer.send_and_wait(
                SHIPMENTS_REGISTRY.name,
                booking(shipment, [device]).model_dump_json().encode(),
                key=shipment.encode(),
            )
            await producer.send_and_wait(
                FINANCE_FACILITIES.name,
                facility_sample(facility, shipment, bank, "shipper-trace")
                .model_dump_json()
                .encode(),
                key=facility.encode(),
            )
            for item in voyage(device)[:3]:  # at the origin, then away from it: departed
                info = publisher.publish(
                    readings_topic(device), item.reading.model_dump_json(), qos=1
                )
                await asyncio.to_thread(info.wait_for_publish, 10)
            await ledger.until(lambda rs: any(r.key == facility.encode() for r in rs), 60)
            await otlp.until(lambda: any(_is_entry(s, facility) for s in otlp.spans), 30)
            await otlp.until(lambda: bool(_drawdown(otlp.hooks)), 30)
    finally:
        stop_webhooks.set()
        await asyncio.wait_for(delivering, 30)
        publisher.loop_stop()
        publisher.disconnect()
        await producer.stop()

    bridge = [
        Seen(
            s.name,
            f"{s.context.trace_id:032x}",
            f"{s.context.span_id:016x}",
            f"{s.parent.span_id:016x}" if s.parent else None,
            dict(s.attributes or {}),
        )
        for s in bridge_spans.get_finished_spans()
    ]
    spans = {s.span_id: s for s in [*bridge, *otlp.spans]}
    [entry] = [s for s in otlp.spans if _is_entry(s, facility)]
    chain = _chain(spans, entry)
    assert [s.name for s in chain] == [LEDGER_ENTRY, PLEDGE_STEP, SHIPMENT_STEP, "mqtt receive"]
    assert {s.trace_id for s in chain} == {entry.trace_id}
    received = chain[-1]
    assert received.parent_id is None  # the trace starts at the MQTT message
    assert received.attributes["messaging.destination.name"] == readings_topic(device)
    assert received.attributes["tradelane.kafka.key"] == device
    assert chain[2].attributes["messaging.kafka.message.key"] == shipment
    assert chain[1].attributes["messaging.kafka.message.key"] == facility
    assert entry.attributes["tradelane.ledger.kind"] == "drawdown"
    assert entry.attributes["tradelane.ledger.currency"] == "USD"
    assert Decimal(entry.attributes["tradelane.ledger.amount"]) > 0
    [record] = [r for r in ledger.records if r.key == facility.encode()]
    assert (
        LedgerEntry.model_validate_json(record.value).entry_id
        == (entry.attributes["tradelane.ledger.entry_id"])
    )
    carried = tracing.traceparent(record.headers)
    assert carried is not None
    assert carried.split("-")[1:3] == [entry.trace_id, entry.span_id]

    pledge_step = chain[1]
    [(event, header)] = _drawdown(otlp.hooks)
    assert event["subject"] == facility
    assert event["traceparent"].split("-")[1:3] == [entry.trace_id, pledge_step.span_id]
    [delivery] = [  # one attempt: the receiver answers 204 at once
        s
        for s in bridge
        if s.name == DELIVERY_SPAN and s.attributes["cloudevents.event_id"] == event["id"]
    ]
    assert (delivery.trace_id, delivery.parent_id) == (entry.trace_id, pledge_step.span_id)
    assert header.split("-")[1:3] == [delivery.trace_id, delivery.span_id]
