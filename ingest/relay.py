"""A minimal MQTT → Kafka relay: validate a tracker reading, append it to ``tracker.readings``.

It is the thinnest honest path from a device to Kafka, used by ``tradelane demo`` to prove the
plumbing end to end. It acknowledges nothing manually and has no dead-letter handling: it
counts and logs what it refuses. The production bridge (``tradelane bridge``) adds the no-loss
ack chain, dead letters and metrics.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from tradelane.contracts import IngestedReading, SourceFormat, TrackerReading
from tradelane.mqtt import make_client
from tradelane.settings import KafkaSettings, MqttSettings
from tradelane.topics import READINGS_FILTER, TRACKER_READINGS, MqttKind, parse_tracker_topic

log = logging.getLogger(__name__)


@dataclass
class RelayCounters:
    received: int = 0
    forwarded: int = 0
    refused: int = 0
    refused_reasons: dict[str, int] = field(default_factory=dict)


def to_ingested(topic: str, payload: bytes, received_at: datetime) -> IngestedReading:
    """Validate one MQTT message into the canonical record; raises ``ValueError`` if refused."""
    parsed = parse_tracker_topic(topic)
    if parsed is None or parsed[1] is not MqttKind.READINGS:
        raise ValueError(f"not a readings topic: {topic}")
    reading = TrackerReading.model_validate_json(payload)
    if reading.device_id != parsed[0]:
        raise ValueError(f"payload device_id {reading.device_id!r} does not match topic")
    return IngestedReading(
        reading=reading,
        received_at=received_at,
        mqtt_topic=topic,
        source_format=SourceFormat.NATIVE,
    )


class Relay:
    """Subscribe to readings, produce each valid one to Kafka keyed by device id."""

    def __init__(
        self,
        mqtt_settings: MqttSettings,
        kafka_settings: KafkaSettings,
        *,
        mqtt5: bool = True,
        client_id: str = "tradelane-relay",
    ) -> None:
        self.mqtt_settings = mqtt_settings
        self.kafka_settings = kafka_settings
        self.mqtt5 = mqtt5
        self.client_id = client_id
        self.counters = RelayCounters()
        self._queue: asyncio.Queue[tuple[str, bytes, datetime]] = asyncio.Queue()
        self._subscribed = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        producer = AIOKafkaProducer(
            bootstrap_servers=self.kafka_settings.bootstrap_servers,
            client_id=self.client_id,
            enable_idempotence=self.kafka_settings.idempotence,
            acks="all",
            linger_ms=5,
        )
        await producer.start()
        client = make_client(self.mqtt_settings, self.client_id, mqtt5=self.mqtt5)

        def on_connect(c: mqtt.Client, _u: object, _f: object, rc: object, _p: object) -> None:
            c.subscribe(READINGS_FILTER, qos=1)

        def on_subscribe(*_args: object) -> None:
            loop.call_soon_threadsafe(self._subscribed.set)

        def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
            item = (msg.topic, bytes(msg.payload), datetime.now(UTC))
            loop.call_soon_threadsafe(self._queue.put_nowait, item)

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_message = on_message
        client.connect(
            self.mqtt_settings.host, self.mqtt_settings.port, self.mqtt_settings.keepalive_s
        )
        client.loop_start()
        try:
            while not stop.is_set():
                try:
                    topic, payload, received_at = await asyncio.wait_for(self._queue.get(), 0.5)
                except TimeoutError:
                    continue
                self.counters.received += 1
                try:
                    record = to_ingested(topic, payload, received_at)
                except (ValidationError, ValueError) as exc:
                    reason = type(exc).__name__
                    self.counters.refused += 1
                    self.counters.refused_reasons[reason] = (
                        self.counters.refused_reasons.get(reason, 0) + 1
                    )
                    log.warning("refused message on %s: %s", topic, exc)
                    continue
                await producer.send(
                    TRACKER_READINGS.name,
                    record.model_dump_json().encode(),
                    key=record.reading.device_id.encode(),
                )
                self.counters.forwarded += 1
        finally:
            client.loop_stop()
            client.disconnect()
            await producer.stop()

    async def wait_subscribed(self, timeout_s: float) -> None:
        await asyncio.wait_for(self._subscribed.wait(), timeout_s)
