"""``tradelane demo`` end to end, as a newcomer runs it: embedded brokers from pip packages
(Tansu + amqtt, and Tansu + Mosquitto), the configured real services, and Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tradelane.settings import InfluxSettings, KafkaSettings, MqttSettings
from tradelane.topics import KAFKA_TOPICS

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DEMO = [sys.executable, "-m", "cli.main", "demo"]


def run_demo(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DEMO, "--heartbeats", "3", "--interval", "2.5", "--trackers", "6", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=env or dict(os.environ),
        check=False,
    )


def check_pipeline_ran(out: str) -> None:
    assert "Bridge subscribed" in out
    assert "Worker started" in out
    assert re.search(r"Dashboard http://127\.0\.0\.1:\d+/\?key=demo-operator-key", out), out
    assert re.search(r"Finance: \d+ shipments pledged to credit line demo-line-\w+", out), out
    assert "Fleet: 6 trackers, scenario nominal" in out
    crossed = re.findall(r"heartbeat (\d+): seq (\d+) on tracker\.readings", out)
    assert [int(n) for n, _ in crossed] == [1, 2, 3]
    seqs = [int(s) for _, s in crossed]
    assert seqs == sorted(set(seqs))
    status = re.findall(r"fleet (\d+)/6 online.*?(\d[\d,]*) sent.*bridge (\d[\d,]*) forwarded", out)
    assert status, out
    online, sent, forwarded = (int(x.replace(",", "")) for x in status[-1])
    assert online == 6
    assert sent > 0
    assert forwarded > 0
    check_fleet_waited_for_the_worker(out)
    check_events_in_event_time_order(out)
    check_summary(out)


def check_fleet_waited_for_the_worker(out: str) -> None:
    ready = out.index("Worker ready after")
    assert ready < out.index("Fleet: 6 trackers"), out
    assert "Waiting for the worker to join its consumer groups" in out[:ready]


def check_events_in_event_time_order(out: str) -> None:
    """Event lines (``  YYYY-MM-DD HH:MM subject: what``) come oldest first; one that came
    after a later one was already shown says so ([late])."""
    shown = re.findall(r"^  (\d{4}-\d\d-\d\d \d\d:\d\d) \S+: (.*)$", out, re.MULTILINE)
    in_order = [when for when, what in shown if not what.endswith("[late]")]
    assert in_order == sorted(in_order), out


def check_summary(out: str) -> None:
    """The closing summary, read back from Kafka, with the demo facility's ledger verified."""
    summary = out[out.index("Summary (from finance.ledger") :]
    for figure in (
        "drawdowns",
        "rejected tranches",
        "haircuts",
        "margin calls",
        "interest booked",
        "claims",
        "tamper",
    ):
        assert f"\n  {figure} " in summary, summary
    ledger = r"ledger demo-line-\w+: \d+ entries(, [^\n]*)?, verified OK\n"
    assert re.search(ledger, summary), summary
    assert re.search(
        r"clean run: 0 claims, 0 tamper, 0 rejected tranches|NOT a clean run:", summary
    )


@pytest.mark.parametrize("mqtt_broker", ["amqtt", "mosquitto"])
def test_demo_on_embedded_brokers(mqtt_broker: str, influx_settings: InfluxSettings) -> None:
    result = run_demo("--brokers", "embedded", "--embedded-mqtt", mqtt_broker)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"({mqtt_broker} (embedded" in result.stdout
    assert "tansu (embedded" in result.stdout
    assert f"Topics {len(KAFKA_TOPICS)} created" in result.stdout
    assert f"Sink writing telemetry to InfluxDB {influx_settings.url}" in result.stdout
    check_pipeline_ran(result.stdout)


def test_demo_on_the_configured_real_services(
    mqtt_settings: MqttSettings, kafka_settings: KafkaSettings
) -> None:
    result = run_demo("--brokers", "configured")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"MQTT   {mqtt_settings.url} (configured)" in result.stdout
    assert f"Kafka  {kafka_settings.bootstrap_servers} (configured)" in result.stdout
    check_pipeline_ran(result.stdout)


def test_demo_says_when_the_sink_is_off(
    mqtt_settings: MqttSettings, kafka_settings: KafkaSettings
) -> None:
    # on the real services: an embedded Tansu's consumer-group joins cost a minute a run, and
    # the embedded path is exercised by test_demo_on_embedded_brokers
    env = {**os.environ, "TRADELANE_INFLUX_URL": "http://127.0.0.1:1"}
    result = run_demo("--brokers", "configured", "--trackers", "0", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Sink off: no InfluxDB answers at http://127.0.0.1:1" in result.stdout
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


def test_ctrl_c_stops_everything_cleanly(
    mqtt_settings: MqttSettings, kafka_settings: KafkaSettings
) -> None:
    proc = subprocess.Popen(
        [*DEMO, "--brokers", "configured", "--trackers", "3", "--interval", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while not any("heartbeat 1:" in line for line in lines):
        assert time.monotonic() < deadline, "".join(lines)
        assert proc.poll() is None, "".join(lines)
        lines.append(proc.stdout.readline())
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0, "".join(lines) + out
    assert "Demo stopped after" in out
    assert "stopped with an error" not in out
    check_summary(out)
