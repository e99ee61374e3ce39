"""The pipeline bench's short profile: bridge, worker (both engines) and sink started fresh on
the real services, readings published over MQTT, events timed on all three output topics. Two
workers share the group (`--workers 2`: the scale-out figures' option; one worker is the
default every other run measures)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.helpers import run_tradelane
from tradelane.settings import InfluxSettings, KafkaSettings, MqttSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_short_pipeline_bench_times_every_output_topic(
    mqtt_settings: MqttSettings,
    kafka_settings: KafkaSettings,
    influx_settings: InfluxSettings,
    tmp_path: Path,
) -> None:
    figures = tmp_path / "pipeline.json"
    done = run_tradelane(
        *("bench", "pipeline", "--rates", "200", "--step-seconds", "6"),
        *("--shipments-per-step", "20", "--baseline-readings", "2000", "--json", str(figures)),
        *("--workers", "2"),
        timeout_s=420,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "highest sustained rate" in done.stdout
    result = json.loads(figures.read_text())
    assert result["baseline_per_s"] > 0
    (step,) = result["steps"]
    assert step["published"] == 1200
    latency = step["latency_ms"]
    # every shipment's first reading departs (a drawdown), every tenth is a shock (an event,
    # and the first a claim): all three output topics were reached and timed
    assert latency["finance.events"]["n"] == 20
    assert latency["insurance.claims"]["n"] == 20
    assert latency["shipments.events"]["n"] >= 100
    assert {"worker", "bridge", "sink", "kafka", "bench"} <= set(step["cpu_percent"])
    # both members of the group ran the step, each as its shipments and pledge processes
    assert result["workers"] == 2
    assert {"worker-2", "pledge", "pledge-2"} <= set(step["cpu_percent"])
    assert step["cpu_percent"]["worker-2"] > 0
