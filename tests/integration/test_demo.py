"""``tradelane demo`` end to end, as a newcomer runs it: embedded brokers from pip packages
(Tansu + amqtt, and Tansu + Mosquitto), and the configured real services."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tradelane.settings import KafkaSettings, MqttSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def run_demo(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tradelane.cli.main",
            "demo",
            "--heartbeats",
            "3",
            "--interval",
            "0.2",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env or dict(os.environ),
        check=False,
    )


@pytest.mark.parametrize("mqtt_broker", ["amqtt", "mosquitto"])
def test_demo_on_embedded_brokers(mqtt_broker: str) -> None:
    result = run_demo("--brokers", "embedded", "--embedded-mqtt", mqtt_broker)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"({mqtt_broker} (embedded" in result.stdout
    assert "tansu (embedded" in result.stdout
    assert "Topics 9 created" in result.stdout
    crossed = re.findall(r"heartbeat (\d+): seq (\d+) on tracker\.readings", result.stdout)
    assert [int(n) for n, _ in crossed] == [1, 2, 3]
    seqs = [int(s) for _, s in crossed]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 3


def test_demo_on_the_configured_real_services(
    mqtt_settings: MqttSettings, kafka_settings: KafkaSettings
) -> None:
    result = run_demo("--brokers", "configured")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"MQTT   {mqtt_settings.url} (configured)" in result.stdout
    assert f"Kafka  {kafka_settings.bootstrap_servers} (configured)" in result.stdout
    assert "heartbeat 3:" in result.stdout


def test_demo_configured_without_brokers_fails_clearly() -> None:
    env = {
        **os.environ,
        "TRADELANE_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "TRADELANE_MQTT_URL": "mqtt://127.0.0.1:1",
    }
    result = run_demo("--brokers", "configured", env=env)
    assert result.returncode == 2
    assert "no MQTT broker answers at mqtt://127.0.0.1:1" in result.stderr
