"""The bridge's span per MQTT message, on the in-memory Kafka double: it starts at the
message's arrival, its context rides in the record's headers, it ends when Kafka confirmed;
without a tracer provider the record carries no headers at all."""

from __future__ import annotations

import asyncio

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from ingest.bridge import Bridge
from tests.doubles.kafka import FakeProducer
from tests.unit.shells.kafka_topics import broker
from tests.unit.shells.test_bridge_shell import NOW, READING, TOPIC, FakeMqtt
from tradelane.settings import KafkaSettings, MqttSettings
from tradelane.topics import TRACKER_DEADLETTER, TRACKER_READINGS
from transport import tracing


async def _bridge(provider: TracerProvider | None) -> tuple[Bridge, FakeProducer]:
    bridge = Bridge(
        MqttSettings(), KafkaSettings(), make_producer=broker().producer, tracer_provider=provider
    )
    producer = await bridge._start_producer()
    bridge._client = FakeMqtt()  # type: ignore[assignment]
    assert isinstance(producer, FakeProducer)
    return bridge, producer


async def test_a_message_s_span_is_carried_by_its_record_and_ends_when_kafka_confirms() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    bridge, producer = await _bridge(provider)
    await bridge._forward(producer, TOPIC, READING, 1, 1, NOW)
    await bridge._forward(producer, TOPIC, b"{not json", 2, 1, NOW)
    await asyncio.sleep(0)  # the sends' callbacks
    reading, letter = sorted(exporter.get_finished_spans(), key=lambda s: s.start_time or 0)
    assert reading.name == "mqtt receive"
    assert reading.kind is SpanKind.CONSUMER
    assert reading.start_time == int(NOW.timestamp() * 1e9)
    assert reading.attributes is not None
    assert reading.attributes["messaging.destination.name"] == TOPIC
    assert reading.attributes["tradelane.kafka.topic"] == TRACKER_READINGS.name
    assert reading.status.status_code is StatusCode.UNSET
    [record] = producer.broker.records(TRACKER_READINGS.name)
    carried = tracing.traceparent(record.headers)
    assert carried is not None
    assert carried.startswith(f"00-{reading.context.trace_id:032x}-{reading.context.span_id:016x}-")
    [dead] = producer.broker.records(TRACKER_DEADLETTER.name)
    assert tracing.traceparent(dead.headers) is not None
    assert letter.context.trace_id != reading.context.trace_id  # a trace per message


async def test_a_failed_send_fails_its_span() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    bridge, producer = await _bridge(provider)
    producer.fail_with = RuntimeError("not leader")
    await bridge._forward(producer, TOPIC, READING, 1, 1, NOW)
    await asyncio.sleep(0)
    [span] = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR


async def test_without_a_tracer_provider_records_carry_no_headers() -> None:
    bridge, producer = await _bridge(None)
    assert bridge.tracing is None
    await bridge._forward(producer, TOPIC, READING, 1, 1, NOW)
    [record] = producer.broker.records(TRACKER_READINGS.name)
    assert record.headers == ()
