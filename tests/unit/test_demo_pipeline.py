"""``tradelane demo``'s pipeline without brokers: which records are this run's, how a
heartbeat is recognised on the readings feed, and the status line the printer shows."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from cli.demo_pipeline import HEARTBEAT_DEVICE, Pipeline, RunIds
from cli.demo_printer import Printer, status_text
from ingest.bridge_metrics import BridgeMetrics
from ingest.sink import SinkStats
from tradelane.contracts import IngestedReading, TrackerReading
from tradelane.settings import KafkaSettings, MqttSettings
from tradelane.topics import TRACKER_READINGS

AT = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_a_record_is_ours_by_the_run_in_its_key() -> None:
    ids = RunIds("4e9d12")
    assert ids.ours(b"demo4e9d12-shp00001")
    assert ids.ours(b"pol-demo4e9d12-shp00001")
    assert ids.ours(b"demo-line-4e9d12")
    assert not ids.ours(b"demo777777-shp00001")
    assert not ids.ours(b"demo-line-777777")
    assert not ids.ours(None)


def _reading(device: str, seq: int) -> bytes:
    reading = TrackerReading(device_id=device, seq=seq, ts=AT, battery_pct=100.0)
    record = IngestedReading(
        reading=reading, received_at=AT, mqtt_topic=f"tradelane/v1/trackers/{device}/readings"
    )
    return record.model_dump_json().encode()


async def test_a_heartbeat_crosses_when_the_readings_feed_sees_its_seq() -> None:
    stop = asyncio.Event()
    pipeline = Pipeline((MqttSettings(), True, KafkaSettings()), stop, Printer(0.0))
    pipeline._on_record(TRACKER_READINGS.name, _reading("trk-1", 7))  # not a heartbeat
    pipeline._on_record(TRACKER_READINGS.name, _reading(HEARTBEAT_DEVICE, 6))  # an earlier one
    pipeline._on_record(TRACKER_READINGS.name, _reading(HEARTBEAT_DEVICE, 7))
    assert await pipeline.heartbeat_crossed(7, deadline_s=5)
    assert not await pipeline.heartbeat_crossed(8, deadline_s=0.3)
    stop.set()
    assert not await pipeline.heartbeat_crossed(8, deadline_s=60)  # returns at once on stop


def test_the_status_line_names_each_running_stage() -> None:
    bridge = BridgeMetrics()
    bridge.forwarded_total.inc(1394)
    bridge.deadlettered_total.labels("invalid").inc(2)
    assert status_text(bridge, None, None, 38) == (
        "bridge 1,394 forwarded, 2 dead-lettered | worker 38 events"
    )
    sink = SinkStats(points_written=12_000)
    assert status_text(bridge, None, sink, 0) == (
        "bridge 1,394 forwarded, 2 dead-lettered | sink 12,000 points | worker 0 events"
    )
