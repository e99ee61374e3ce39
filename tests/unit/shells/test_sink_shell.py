"""The telemetry sink on the in-memory double with a fake InfluxDB: readings become points
tagged with their shipment (from the registry read first), an unreadable record a dead
letter, a failed write is retried, and offsets are committed only once written."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import TopicPartition

from ingest.sink import Sink, SinkConfig
from tests.samples import booking
from tests.unit.api.records import reading
from tests.unit.shells.kafka_topics import broker
from tradelane.contracts import DeadLetter
from tradelane.settings import InfluxSettings, KafkaSettings
from tradelane.topics import SHIPMENTS_REGISTRY, TRACKER_DEADLETTER, TRACKER_READINGS


class FakeInflux:
    """The write API of ``InfluxDBClientAsync``: accepts lines after ``failures`` refusals."""

    def __init__(self, failures: int = 0, want: int = 1) -> None:
        self.failures = failures
        self.want = want
        self.lines: list[str] = []
        self.written = asyncio.Event()
        self.closed = False

    def write_api(self) -> FakeInflux:
        return self

    async def write(self, bucket: str, record: list[str], **_: Any) -> bool:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("influxdb unavailable")
        self.lines += record
        if len(self.lines) >= self.want:
            self.written.set()
        return True

    async def close(self) -> None:
        self.closed = True


async def test_readings_become_tagged_points_and_offsets_follow_the_writes() -> None:
    kafka = broker()
    kafka.append(
        SHIPMENTS_REGISTRY.name,
        booking("shp-a", ["dev-a"]).model_dump_json().encode(),
        key=b"shp-a",
    )
    _, value = reading("dev-a", 1, 0, 31.0, 121.0)
    kafka.append(TRACKER_READINGS.name, value, key=b"dev-a")
    kafka.append(TRACKER_READINGS.name, b"{garbage", key=b"dev-a")
    influx = FakeInflux(failures=1)
    sink = Sink(
        KafkaSettings(),
        InfluxSettings(),
        SinkConfig(retry_initial_s=0.01, poll_timeout_ms=10),
        make_consumer=kafka.consumer,
        make_producer=kafka.producer,
        make_influx=lambda: influx,  # type: ignore[arg-type,return-value]
    )
    stop = asyncio.Event()
    task = asyncio.create_task(sink.run(stop))
    await asyncio.wait_for(influx.written.wait(), 5)
    stop.set()
    await asyncio.wait_for(task, 5)
    [line] = influx.lines
    assert line.startswith("reading,")
    assert "shipment_id=shp-a" in line
    assert "device_id=dev-a" in line
    [letter] = kafka.records(TRACKER_DEADLETTER.name)
    assert DeadLetter.model_validate_json(letter.value or b"").kafka_topic == TRACKER_READINGS.name
    assert sink.stats.write_retries == 1
    assert sink.stats.bad_records == 1
    partition = kafka.records(TRACKER_READINGS.name)[0].partition
    assert (
        kafka.committed[("tradelane-sink", TopicPartition(TRACKER_READINGS.name, partition))] == 2
    )
    assert influx.closed


async def test_nothing_is_committed_while_influxdb_refuses() -> None:
    kafka = broker()
    _, value = reading("dev-a", 1, 0, 31.0, 121.0)
    kafka.append(TRACKER_READINGS.name, value, key=b"dev-a")
    influx = FakeInflux(failures=10**6)
    sink = Sink(
        KafkaSettings(),
        InfluxSettings(),
        SinkConfig(retry_initial_s=0.01, retry_max_s=0.01, poll_timeout_ms=10),
        make_consumer=kafka.consumer,
        make_producer=kafka.producer,
        make_influx=lambda: influx,  # type: ignore[arg-type,return-value]
    )
    stop = asyncio.Event()
    task = asyncio.create_task(sink.run(stop))
    await asyncio.wait_for(sink.ready.wait(), 5)
    for _ in range(1000):  # turns for the sink, each bounded by the double's wait
        if sink.stats.write_retries >= 3:
            break
        await kafka.wait_for_append(1000)
    assert sink.stats.write_retries >= 3
    stop.set()
    await asyncio.wait_for(task, 5)
    assert influx.lines == []
    assert kafka.committed == {}
