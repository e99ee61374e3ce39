"""paho-mqtt against the real Mosquitto: QoS 1 publish reaches an independent subscriber."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
import pytest

from tradelane.contracts import TrackerReading
from tradelane.settings import MqttSettings
from tradelane.topics import readings_topic
from transport.mqtt import make_client

pytestmark = pytest.mark.integration


def test_qos1_publish_reaches_a_second_client(mqtt_settings: MqttSettings, unique: str) -> None:
    device = f"itest-{unique}"
    topic = readings_topic(device)
    expected = [
        TrackerReading(device_id=device, seq=i, ts="2026-11-24T10:00:00Z", battery_pct=90)
        for i in range(20)
    ]
    received: list[TrackerReading] = []
    subscribed = threading.Event()
    all_in = threading.Event()

    subscriber = make_client(mqtt_settings, f"sub-{unique}")

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        assert msg.qos == 1
        received.append(TrackerReading.model_validate_json(msg.payload))
        if len(received) == len(expected):
            all_in.set()

    subscriber.on_message = on_message
    subscriber.on_subscribe = lambda *_a: subscribed.set()
    subscriber.connect(mqtt_settings.host, mqtt_settings.port)
    subscriber.subscribe(topic, qos=1)
    subscriber.loop_start()
    publisher = make_client(mqtt_settings, f"pub-{unique}")
    publisher.connect(mqtt_settings.host, mqtt_settings.port)
    publisher.loop_start()
    try:
        assert subscribed.wait(10), "SUBACK not received"
        infos = [publisher.publish(topic, r.model_dump_json(), qos=1) for r in expected]
        for info in infos:
            info.wait_for_publish(timeout=10)
            assert info.is_published(), "PUBACK not received"
        assert all_in.wait(10), f"only {len(received)} of {len(expected)} arrived"
    finally:
        for client in (publisher, subscriber):
            client.loop_stop()
            client.disconnect()
    assert received == expected
