"""The bridge bench's short profile on the real services: it runs to the end and reports a
rate (it once hung for 400 s on a fresh setup, its publisher waiting for acknowledgements)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.helpers import run_tradelane
from tradelane.settings import KafkaSettings, MqttSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_short_bridge_bench_drains_its_backlog(
    mqtt_settings: MqttSettings, kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    figures = tmp_path / "bridge.json"
    done = run_tradelane(
        *("bench", "bridge", "--readings", "6000", "--devices", "100", "--json", str(figures)),
        timeout_s=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(figures.read_text())
    assert result["items"] == 6000
    assert result["rate_per_s"] > 0
    assert result["extra"]["publishers_rate_per_s"] > 0
