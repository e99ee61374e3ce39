"""``tradelane services``: status reports every service, and ``up`` on running services is a
harmless no-op."""

from __future__ import annotations

import pytest

from cli.main import main
from tradelane.settings import InfluxSettings, KafkaSettings, MqttSettings

pytestmark = pytest.mark.integration


def test_up_again_is_harmless_and_status_is_green(
    mqtt_settings: MqttSettings,
    kafka_settings: KafkaSettings,
    influx_settings: InfluxSettings,
    prometheus_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["services", "up"]) == 0
    out = capsys.readouterr().out
    assert out.count("already running") == 4
    assert main(["services", "status"]) == 0
    status = capsys.readouterr().out
    for name, endpoint in [
        ("mosquitto", mqtt_settings.url),
        ("kafka", kafka_settings.bootstrap_servers),
        ("influxdb", influx_settings.url),
        ("prometheus", prometheus_url),
    ]:
        line = next(line for line in status.splitlines() if line.startswith(name))
        assert " ready " in line
        assert endpoint in line
