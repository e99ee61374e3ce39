"""The bridge's Kafka side on the in-memory double: an MQTT message in, a Kafka record out
(keyed by device, on the device's partition), a malformed one a dead letter; the MQTT ack
only after Kafka confirmed, and never after a failed send."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from aiokafka.errors import KafkaTimeoutError

from ingest.bridge import Bridge, BridgeConfig
from tests.doubles.kafka import FakeProducer, partition_for
from tests.unit.shells.kafka_topics import broker
from tradelane.contracts import DeadLetter, DeadLetterReason, IngestedReading
from tradelane.settings import KafkaSettings, MqttSettings
from tradelane.topics import TRACKER_DEADLETTER, TRACKER_READINGS

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
TOPIC = "tradelane/v1/trackers/trk-1/readings"
READING = json.dumps(
    {"device_id": "trk-1", "seq": 7, "ts": "2026-11-24T11:59:00Z", "temperature_c": 4.5}
).encode()


class FakeMqtt:
    """Records the acks the bridge gives the MQTT client."""

    def __init__(self) -> None:
        self.acked: list[tuple[int, int]] = []

    def ack(self, mid: int, qos: int) -> None:
        self.acked.append((mid, qos))


async def _bridge() -> tuple[Bridge, FakeProducer, FakeMqtt]:
    kafka = broker()
    bridge = Bridge(MqttSettings(), KafkaSettings(), make_producer=kafka.producer)
    producer = await bridge._start_producer()
    mqtt = FakeMqtt()
    bridge._client = mqtt  # type: ignore[assignment]
    assert isinstance(producer, FakeProducer)
    return bridge, producer, mqtt


async def _forward(bridge: Bridge, producer: FakeProducer, payload: bytes, mid: int) -> None:
    """One message through the bridge, and one turn of the loop for the send's callbacks
    (the double settles the send at once; the callbacks run on the next turn)."""
    await bridge._forward(producer, TOPIC, payload, mid, 1, NOW)
    await asyncio.sleep(0)


async def test_a_reading_becomes_one_record_keyed_by_device_and_is_acked() -> None:
    bridge, producer, mqtt = await _bridge()
    await _forward(bridge, producer, READING, 11)
    [record] = producer.broker.records(TRACKER_READINGS.name)
    assert record.key == b"trk-1"
    assert record.partition == partition_for(b"trk-1", TRACKER_READINGS.partitions)
    stored = IngestedReading.model_validate_json(record.value or b"")
    assert (stored.reading.seq, stored.received_at, stored.mqtt_topic) == (7, NOW, TOPIC)
    assert mqtt.acked == [(11, 1)]
    assert bridge.metrics.forwarded == 1


async def test_a_malformed_message_becomes_a_dead_letter_and_is_acked() -> None:
    bridge, producer, mqtt = await _bridge()
    await _forward(bridge, producer, b"{not json", 12)
    assert producer.broker.records(TRACKER_READINGS.name) == []
    [record] = producer.broker.records(TRACKER_DEADLETTER.name)
    letter = DeadLetter.model_validate_json(record.value or b"")
    assert letter.reason is DeadLetterReason.MALFORMED_JSON
    assert record.key == TOPIC.encode()
    assert mqtt.acked == [(12, 1)]


async def test_a_failed_send_is_never_acked_and_fails_the_bridge() -> None:
    bridge, producer, mqtt = await _bridge()
    producer.fail_with = RuntimeError("not leader")
    await _forward(bridge, producer, READING, 13)
    assert mqtt.acked == []
    assert isinstance(bridge._failure, RuntimeError)
    assert bridge.metrics.send_failures == 1


async def test_a_failed_send_ends_the_run_without_waiting_for_another_message() -> None:
    """Once Kafka refused a record the bridge acks nothing more, so the MQTT broker sends no
    more once its in-flight window is full: the run must end on the failure itself, with the
    status a supervisor restarts on, not wait for a message that never comes."""
    kafka = broker()
    bridge = Bridge(
        MqttSettings(),
        KafkaSettings(),
        BridgeConfig(metrics_port=None),
        make_producer=kafka.producer,
    )
    producer = await bridge._start_producer()
    assert isinstance(producer, FakeProducer)
    producer.fail_with = RuntimeError("leader not available")
    bridge._client = FakeMqtt()  # type: ignore[assignment]
    await _forward(bridge, producer, READING, 14)
    assert bridge._wakeup.is_set()


async def test_a_send_that_cannot_be_queued_fails_the_bridge_instead_of_raising() -> None:
    """aiokafka raises from ``send`` itself when its buffer stays full or the topic's metadata
    does not come within the send timeout: that is a failed send (never acked), not a crash
    with a traceback."""
    bridge, producer, mqtt = await _bridge()

    async def refuse(*_args: object, **_kwargs: object) -> None:
        raise KafkaTimeoutError()

    producer.send = refuse  # type: ignore[method-assign,assignment]
    await _forward(bridge, producer, READING, 15)
    assert mqtt.acked == []
    assert isinstance(bridge._failure, KafkaTimeoutError)
    assert bridge._wakeup.is_set()
    assert bridge.metrics.send_failures == 1


def test_the_producer_waits_the_configured_send_timeout() -> None:
    seen: dict[str, object] = {}

    def factory(settings: KafkaSettings, **options: object) -> FakeProducer:
        seen.update(options)
        return broker().producer(settings)

    bridge = Bridge(
        MqttSettings(), KafkaSettings(), BridgeConfig(send_timeout_s=90), make_producer=factory
    )
    producer = asyncio.run(bridge._start_producer())
    assert isinstance(producer, FakeProducer)
    assert seen["request_timeout_ms"] == 90_000
