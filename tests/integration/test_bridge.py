"""The bridge against real Mosquitto and Kafka: every valid reading reaches tracker.readings
exactly as sent, every bad payload reaches tracker.deadletter with its reason, the bridge keeps
forwarding good ones, and its metrics count what it did."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from collections import Counter

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ingest.bridge import Bridge, BridgeConfig
from tests.integration.helpers import Tail
from tradelane.contracts import (
    DeadLetter,
    IngestedReading,
    SourceFormat,
    TrackerReading,
    read_dead_letter,
)
from tradelane.settings import KafkaSettings, MqttSettings
from tradelane.topics import TRACKER_DEADLETTER, TRACKER_READINGS, readings_topic
from transport.mqtt import forget_session, make_client

pytestmark = pytest.mark.integration


def _bad_corpus(device: str) -> list[tuple[str, bytes, str]]:
    topic = readings_topic(device)
    good = {"device_id": device, "seq": 1, "ts": "2026-11-24T10:00:00Z"}
    return [
        (topic, b"{this is not json", "malformed_json"),
        (topic, json.dumps({**good, "seq": "one"}).encode(), "schema_violation"),
        (topic, json.dumps({"device_id": device}).encode(), "schema_violation"),
        (topic, json.dumps({**good, "gps": {"lat": 999, "lon": 0}}).encode(), "out_of_range"),
        (topic, json.dumps({**good, "battery_pct": 150}).encode(), "out_of_range"),
        (topic, json.dumps({**good, "temperature_c": float("nan")}).encode(), "out_of_range"),
        (topic, json.dumps({**good, "ts": "2099-01-01T00:00:00Z"}).encode(), "future_timestamp"),
        (topic, json.dumps({**good, "device_id": device + "x"}).encode(), "device_mismatch"),
        (topic, b"{" + b" " * 70_000 + b"}", "oversized"),
        (f"owntracks/{device}/phone", b'{"_type":"lwt","tst":1}', "unsupported_format"),
    ]


async def test_readings_and_dead_letters_reach_kafka(
    mqtt_settings: MqttSettings, kafka_settings: KafkaSettings, unique: str
) -> None:
    devices = [f"it-{unique}-{i}" for i in range(5)]
    readings = [
        TrackerReading(
            device_id=d,
            seq=s,
            ts=f"2026-11-24T10:{s:02d}:00Z",
            battery_pct=90,
            temperature_c=4.0 + s / 10,
        )
        for d in devices
        for s in range(40)
    ]
    bad = _bad_corpus(devices[0])
    tst = int(time.time()) - 60
    owntracks = json.dumps({"_type": "location", "lat": 51.9, "lon": 4.1, "tst": tst}).encode()
    config = BridgeConfig(
        client_id=f"it-bridge-{unique}",
        share_group=f"it-{unique}",
        session_expiry_s=300,
        metrics_port=0,
    )
    bridge = Bridge(mqtt_settings, kafka_settings, config)
    stop = asyncio.Event()
    async with (
        Tail(kafka_settings, TRACKER_READINGS.name) as good_tail,
        Tail(kafka_settings, TRACKER_DEADLETTER.name) as dead_tail,
    ):
        task = asyncio.create_task(bridge.run(stop))
        await asyncio.wait_for(bridge.subscribed.wait(), 15)
        publisher = make_client(mqtt_settings, f"it-pub-{unique}")
        publisher.connect(mqtt_settings.host, mqtt_settings.port)
        publisher.loop_start()
        try:
            infos = []
            for i, r in enumerate(readings):
                infos.append(
                    publisher.publish(readings_topic(r.device_id), r.model_dump_json(), qos=1)
                )
                if i % 40 == 0 and bad:  # interleave the bad corpus with good traffic
                    topic, payload, _ = bad[(i // 40) % len(bad)]
                    infos.append(publisher.publish(topic, payload, qos=1))
            for topic, payload, _ in bad[len(devices) :]:
                infos.append(publisher.publish(topic, payload, qos=1))
            infos.append(publisher.publish(f"owntracks/{devices[0]}/phone", owntracks, qos=1))
            for info in infos:
                info.wait_for_publish(10)

            def mine(records: list[object]) -> list[IngestedReading]:
                out = []
                for rec in records:
                    value = IngestedReading.model_validate_json(rec.value)  # type: ignore[attr-defined]
                    if (
                        value.reading.device_id.split(":")[-2:][0] in devices
                        or value.reading.device_id in devices
                    ):
                        out.append(value)
                return out

            got = await good_tail.until(lambda rs: len(mine(rs)) >= len(readings) + 1)
            dead = await dead_tail.until(
                lambda rs: (
                    sum(devices[0] in (read_dead_letter(r.value).mqtt_topic or "") for r in rs)
                    >= len(bad)
                )
            )
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"http://127.0.0.1:{bridge.metrics_port}/metrics") as resp,
            ):
                metrics = await resp.text()
        finally:
            publisher.loop_stop()
            publisher.disconnect()
            stop.set()
            await asyncio.wait_for(task, 30)
            forget_session(mqtt_settings, config.client_id)

    ingested = mine(got)
    native = [r for r in ingested if r.source_format is SourceFormat.NATIVE]
    assert sorted((r.reading.device_id, r.reading.seq) for r in native) == sorted(
        (r.device_id, r.seq) for r in readings
    )
    assert {r.reading for r in native} == set(readings)
    assert any(r.source_format is SourceFormat.OWNTRACKS for r in ingested)
    # Kafka keys are device ids, so each device's readings stay on one partition, in order.
    by_key = {rec.key for rec in got}
    assert {d.encode() for d in devices} <= by_key

    letters = [
        d for d in map(read_dead_letter, (r.value for r in dead)) if isinstance(d, DeadLetter)
    ]
    letters = [d for d in letters if devices[0] in (d.mqtt_topic or "")]
    assert Counter(d.reason.value for d in letters) == Counter(reason for *_, reason in bad)
    for letter in letters:
        prefix = base64.b64decode(letter.payload_prefix_b64)
        sent = {(t, hashlib.sha256(p).hexdigest()): p for t, p, _ in bad}
        payload = sent[(letter.mqtt_topic or "", letter.payload_sha256)]
        assert prefix == payload[: len(prefix)]
        assert letter.payload_truncated is (len(prefix) < len(payload))

    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics)
        for s in family.samples
    }
    assert samples[("tradelane_bridge_forwarded_total", ())] == len(readings) + 1
    reason = (("reason", "out_of_range"),)
    assert samples[("tradelane_bridge_deadlettered_total", reason)] == 3
    assert samples[("tradelane_bridge_inflight", ())] == 0
    assert samples[("tradelane_bridge_mqtt_connected", ())] == 1
