"""N readings published over MQTT ⇒ exactly those N (device_id, seq) on tracker.readings, read
by an independent consumer, and N points in InfluxDB tagged with their shipment; writing them
again (a new sink group replaying the topic) leaves N points."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import TopicPartition
from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync

from ingest.bridge import Bridge, BridgeConfig
from ingest.sink import Sink, SinkConfig
from tests.integration.helpers import Tail
from tests.samples import booking as sample_booking
from tradelane.contracts import IngestedReading, TrackerReading
from tradelane.settings import InfluxSettings, KafkaSettings, MqttSettings
from tradelane.topics import SHIPMENTS_REGISTRY, TRACKER_READINGS, readings_topic
from transport import kafka as clients
from transport.mqtt import forget_session, make_client

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N_DEVICES = 4
PER_DEVICE = 150
START = datetime(2026, 11, 20, tzinfo=UTC)


async def count_points(influx: InfluxSettings, prefix: str) -> dict[str, int]:
    flux = f'''
        from(bucket: "{influx.bucket}")
          |> range(start: 2026-11-19T00:00:00Z, stop: 2026-11-22T00:00:00Z)
          |> filter(fn: (r) => r._measurement == "reading" and r._field == "seq")
          |> filter(fn: (r) => strings.hasPrefix(v: r.device_id, prefix: "{prefix}"))
          |> group(columns: ["shipment_id"])
          |> count()
    '''
    async with InfluxDBClientAsync(
        url=influx.url, token=influx.token.get_secret_value(), org=influx.org
    ) as client:
        tables = await client.query_api().query('import "strings"\n' + flux)
    return {
        str(rec.values.get("shipment_id")): int(rec.get_value())
        for table in tables
        for rec in table.records
    }


async def wait_points(
    influx: InfluxSettings, prefix: str, total: int, timeout_s: float = 60
) -> dict[str, int]:
    deadline = time.monotonic() + timeout_s
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        counts = await count_points(influx, prefix)
        if sum(counts.values()) >= total:
            return counts
        await asyncio.sleep(0.5)  # polling InfluxDB under a deadline
    return counts


async def test_mqtt_to_kafka_to_influxdb(
    mqtt_settings: MqttSettings,
    kafka_settings: KafkaSettings,
    influx_settings: InfluxSettings,
    unique: str,
) -> None:
    prefix = f"e2e-{unique}-"
    devices = [f"{prefix}{i}" for i in range(N_DEVICES)]
    shipment = f"shp-{unique}"
    booking = sample_booking(shipment, devices[:2])
    producer = clients.producer(kafka_settings)
    await producer.start()
    try:
        await producer.send_and_wait(
            SHIPMENTS_REGISTRY.name, booking.model_dump_json().encode(), key=shipment.encode()
        )
    finally:
        await producer.stop()

    readings = [
        TrackerReading(
            device_id=d, seq=s, ts=START + timedelta(minutes=s), battery_pct=70, temperature_c=5.0
        )
        for d in devices
        for s in range(PER_DEVICE)
    ]
    stop = asyncio.Event()
    bridge = Bridge(
        mqtt_settings,
        kafka_settings,
        BridgeConfig(
            client_id=f"e2e-{unique}",
            share_group=f"e2e-{unique}",
            session_expiry_s=300,
            metrics_port=None,
        ),
    )
    sink = Sink(
        kafka_settings,
        influx_settings,
        SinkConfig(group_id=f"e2e-sink-{unique}", from_beginning=False),
    )
    async with Tail(kafka_settings, TRACKER_READINGS.name) as tail:
        tasks = [asyncio.create_task(bridge.run(stop)), asyncio.create_task(sink.run(stop))]
        await asyncio.wait_for(bridge.subscribed.wait(), 15)
        await asyncio.wait_for(sink.ready.wait(), 30)
        await asyncio.sleep(0)
        publisher = make_client(mqtt_settings, f"e2e-pub-{unique}")
        publisher.connect(mqtt_settings.host, mqtt_settings.port)
        publisher.loop_start()
        try:
            for info in [
                publisher.publish(readings_topic(r.device_id), r.model_dump_json(), qos=1)
                for r in readings
            ]:
                info.wait_for_publish(10)

            def keys(records: list[object]) -> set[tuple[str, int]]:
                out = set()
                for rec in records:
                    r = IngestedReading.model_validate_json(rec.value).reading  # type: ignore[attr-defined]
                    if r.device_id.startswith(prefix):
                        out.add((r.device_id, r.seq))
                return out

            records = await tail.until(lambda rs: len(keys(rs)) >= len(readings))
            counts = await wait_points(influx_settings, prefix, len(readings))
        finally:
            publisher.loop_stop()
            publisher.disconnect()
            stop.set()
            await asyncio.gather(*tasks)
            forget_session(mqtt_settings, f"e2e-{unique}")

    assert keys(records) == {(r.device_id, r.seq) for r in readings}
    assert counts == {shipment: 2 * PER_DEVICE, "None": 2 * PER_DEVICE}

    # Replaying the same stretch of the topic through a fresh sink group writes the same
    # points again: InfluxDB still holds exactly one point per reading.
    replay_group = f"e2e-replay-{unique}"
    await _commit(kafka_settings, replay_group, tail.start_offsets)
    replay_stop = asyncio.Event()
    replay = Sink(kafka_settings, influx_settings, SinkConfig(group_id=replay_group))
    task = asyncio.create_task(replay.run(replay_stop))
    await asyncio.wait_for(replay.ready.wait(), 30)
    deadline = time.monotonic() + 60
    while replay.stats.points_written < len(readings) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.2)  # polling the replay's progress under a deadline
    replay_stop.set()
    await task
    assert replay.stats.points_written >= len(readings)
    assert await count_points(influx_settings, prefix) == counts


async def _commit(kafka: KafkaSettings, group: str, offsets: dict[TopicPartition, int]) -> None:
    """Give a new consumer group its starting offsets."""
    consumer = clients.consumer(kafka, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()
