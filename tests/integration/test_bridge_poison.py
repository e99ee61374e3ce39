"""Payloads that once escaped the bridge, against the real Mosquitto and Kafka: an OwnTracks
course of "x", a 5,000-digit number, JSON nested deeper than the parser recurses, and payloads
near and above the size limit. Each becomes a bounded dead letter (a 4 KiB prefix, the hash and
the size) and its message is acknowledged: after a restart of the bridge on the same persistent
session, none of them comes back (an escape left the message unacknowledged, redelivered after
every restart, and the bridge never got past it)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time

import pytest

from ingest.bridge import Bridge, BridgeConfig
from tests.integration.helpers import Tail
from tradelane.contracts import DeadLetter, DeadLetterReason, read_dead_letter
from tradelane.contracts.deadletter import PAYLOAD_PREFIX_BYTES
from tradelane.settings import KafkaSettings, MqttSettings
from tradelane.topics import TRACKER_DEADLETTER, TRACKER_READINGS, readings_topic
from transport.mqtt import forget_session, make_client

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _poison(unique: str) -> list[tuple[str, bytes, DeadLetterReason]]:
    owntracks = f"owntracks/{unique}/phone"
    native = readings_topic(f"bp-{unique}")
    ttn = f"v3/app-{unique}@ttn/devices/dev/up"
    tst = int(time.time()) - 60
    location = {"_type": "location", "lat": 51.9, "lon": 4.1, "tst": tst}
    near_limit = b'{"pad": "' + b"x" * (64 * 1024 - 200) + unique.encode() + b'"}'
    return [
        (
            owntracks,
            json.dumps({**location, "cog": "x"}).encode(),
            DeadLetterReason.SCHEMA_VIOLATION,
        ),
        (
            native,
            b'{"device_id": "x", "seq": ' + b"9" * 5000 + b"}",
            DeadLetterReason.MALFORMED_JSON,
        ),
        (owntracks, b'{"tst": ' + b"7" * 5000 + b"}", DeadLetterReason.MALFORMED_JSON),
        (ttn, b'{"uplink_message": ' * 3000 + b"{}" + b"}" * 3000, DeadLetterReason.MALFORMED_JSON),
        (native, b"[" * 50_000 + unique.encode(), DeadLetterReason.MALFORMED_JSON),
        (native, near_limit, DeadLetterReason.SCHEMA_VIOLATION),
        (native, b"{" + b"x" * 250_000 + unique.encode() + b"}", DeadLetterReason.OVERSIZED),
    ]


async def _read_to_end(tail: Tail, timeout_s: float = 30.0) -> None:
    """Read ``tail`` up to the topic's current end."""
    ends = await tail.consumer.end_offsets(list(tail.consumer.assignment()))
    deadline = time.monotonic() + timeout_s
    while any([await tail.consumer.position(tp) < end for tp, end in ends.items()]):
        assert time.monotonic() < deadline, "the dead-letter topic was not read to its end"
        for batch in (await tail.consumer.getmany(timeout_ms=300)).values():
            tail.records.extend(batch)


async def _run_bridge(
    mqtt: MqttSettings, kafka: KafkaSettings, config: BridgeConfig
) -> tuple[Bridge, asyncio.Event, asyncio.Task[None]]:
    bridge = Bridge(mqtt, kafka, config)
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    await asyncio.wait_for(bridge.subscribed.wait(), 30)
    return bridge, stop, task


async def test_poison_payloads_are_dead_lettered_bounded_and_acknowledged(
    mqtt_settings: MqttSettings, kafka_settings: KafkaSettings, unique: str
) -> None:
    poison = _poison(unique)
    digests = {hashlib.sha256(p).hexdigest(): (t, p, r) for t, p, r in poison}
    config = BridgeConfig(
        client_id=f"bp-{unique}",
        share_group=f"bp-{unique}",
        session_expiry_s=300,
        metrics_port=None,
    )
    publisher = make_client(mqtt_settings, f"bp-pub-{unique}")
    publisher.connect(mqtt_settings.host, mqtt_settings.port)
    publisher.loop_start()

    def mine(records: list[object]) -> list[DeadLetter]:
        letters = (read_dead_letter(r.value) for r in records)  # type: ignore[attr-defined]
        return [d for d in letters if isinstance(d, DeadLetter) and d.payload_sha256 in digests]

    try:
        async with Tail(kafka_settings, TRACKER_DEADLETTER.name) as dead:
            bridge, stop, task = await _run_bridge(mqtt_settings, kafka_settings, config)
            try:
                for topic, payload, _reason in poison:
                    publisher.publish(topic, payload, qos=1).wait_for_publish(10)
                await dead.until(lambda rs: len(mine(rs)) >= len(poison), timeout_s=60)
                assert bridge.metrics.inflight == 0
            finally:
                stop.set()
                await asyncio.wait_for(task, 30)  # a clean stop: it did not fail on any of them
            first = mine(dead.records)

            # the same session again: what was not acknowledged would come back before the sentinel
            device = f"bp-{unique}"
            reading = {"device_id": device, "seq": 1, "ts": "2026-11-24T10:00:00Z"}
            async with Tail(kafka_settings, TRACKER_READINGS.name) as good:
                bridge, stop, task = await _run_bridge(mqtt_settings, kafka_settings, config)
                try:
                    publisher.publish(
                        readings_topic(device), json.dumps(reading).encode(), qos=1
                    ).wait_for_publish(10)
                    await good.until(
                        lambda rs: any(r.key == device.encode() for r in rs), timeout_s=60
                    )
                finally:
                    stop.set()
                    await asyncio.wait_for(task, 30)
                assert any(r.key == device.encode() for r in good.records)
            await _read_to_end(dead)  # everything the restarted bridge wrote (it flushed)
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        forget_session(mqtt_settings, config.client_id)

    assert len(first) == len(poison), [d.message for d in first]
    assert mine(dead.records) == first, "a poison message came back after the restart"
    for letter in first:
        topic, payload, reason = digests[letter.payload_sha256]
        assert letter.reason is reason, (letter.reason, letter.message)
        assert letter.mqtt_topic == topic
        assert letter.payload_size == len(payload)
        assert letter.payload_truncated is (len(payload) > PAYLOAD_PREFIX_BYTES)
        assert len(letter.model_dump_json()) < 12_000
