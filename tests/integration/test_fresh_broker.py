"""Every long-lived process started before its Kafka is up waits for it and then works.

A brand-new, empty Kafka of the test's own (a second broker on a free loopback port, its data
in a temporary home, launched by the project's own service code) is launched only once the
worker, the bridge, the sink, the API and the webhook worker, all pointed at it, have said
they are waiting for it. Then each must end up working: the worker's groups stable with
partitions (it also creates the topics the others wait for), the bridge, sink and webhook
worker announced, the API ready; a reading published over MQTT reaches the new broker through
the bridge and the sink writes it to InfluxDB; every process is still alive, and each stops cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync

from devtools.services.kafka import Kafka
from streams.app import pledge_group
from tests.integration.api_helpers import wait_until
from tests.integration.helpers import Tail, stop_process, wait_for_output
from tradelane.contracts import IngestedReading, TrackerReading
from tradelane.settings import InfluxSettings, KafkaSettings, MqttSettings, ServicesSettings
from tradelane.topics import TRACKER_READINGS, readings_topic
from transport.admin import wait_for_group
from transport.mqtt import forget_session, make_client
from transport.probes import free_port, http_json

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

WAITING = "waiting for Kafka"
"""What every process logs while its broker is not there (transport.kafka.retrying)."""


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def _free_port_pair() -> int:
    """A loopback port whose next port is free too (the broker's controller listens there)."""
    for _ in range(100):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise AssertionError("no two adjacent free ports on 127.0.0.1")


@contextlib.contextmanager
def fresh_broker(tmp_path: Path) -> Iterator[Kafka]:
    """A second Kafka (not launched yet) with its own port and data dir; stopped by pid and
    its data dir removed on exit."""
    home = tmp_path / "fresh-kafka"
    port = _free_port_pair()
    broker = Kafka(
        ServicesSettings().model_copy(update={"home": home}),
        kafka=KafkaSettings(bootstrap_servers=f"127.0.0.1:{port}"),
    )
    try:
        yield broker
    finally:
        broker.down()  # by the pid it recorded: SIGTERM, SIGKILL after 30 s
        shutil.rmtree(home, ignore_errors=True)


def _start(name: str, args: list[str], env: dict[str, str], tmp_path: Path) -> Child:
    log = tmp_path / f"{name}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    return Child(name, proc, log)


def _wait_alive(child: Child, text: str, timeout_s: float) -> None:
    try:
        wait_for_output(child.log, text, child.proc, timeout_s)
    except AssertionError as exc:
        raise AssertionError(f"{child.name}: {exc}\n{child.text()[-3000:]}") from exc


async def _reading_through_the_bridge(
    mqtt: MqttSettings, kafka: KafkaSettings, device: str
) -> None:
    """Publish one reading over MQTT and see the bridge write it to the new broker."""
    async with Tail(kafka, TRACKER_READINGS.name) as tail:
        reading = TrackerReading(device_id=device, seq=0, ts=datetime.now(UTC), battery_pct=80)
        publisher = make_client(mqtt, f"{device}-pub")
        publisher.connect(mqtt.host, mqtt.port, mqtt.keepalive_s)
        publisher.loop_start()
        try:
            publisher.publish(readings_topic(device), reading.model_dump_json(), qos=1)
            records = await tail.until(
                lambda rs: any(r.key == device.encode() for r in rs), timeout_s=60
            )
        finally:
            publisher.loop_stop()
            publisher.disconnect()
    [record] = [r for r in records if r.key == device.encode()]
    assert IngestedReading.model_validate_json(record.value).reading == reading


async def _points(influx: InfluxSettings, device: str) -> int:
    """How many points of ``device`` InfluxDB holds from the last day."""
    flux = f"""
        from(bucket: "{influx.bucket}")
          |> range(start: -1d)
          |> filter(fn: (r) => r._measurement == "reading" and r._field == "seq")
          |> filter(fn: (r) => r.device_id == "{device}")
          |> count()
    """
    async with InfluxDBClientAsync(
        url=influx.url, token=influx.token.get_secret_value(), org=influx.org
    ) as client:
        tables = await client.query_api().query(flux)
    return sum(int(rec.get_value()) for table in tables for rec in table.records)


def test_every_process_waits_for_a_fresh_broker_then_works(
    mqtt_settings: MqttSettings, influx_settings: InfluxSettings, unique: str, tmp_path: Path
) -> None:
    app_id, bridge_id = f"tradelane-streams-fresh-{unique}", f"fresh-bridge-{unique}"
    sink_group, hooks_group = f"tradelane-sink-fresh-{unique}", f"tradelane-webhooks-fresh-{unique}"
    api_port = free_port()
    with fresh_broker(tmp_path) as broker:
        kafka = broker.kafka
        broker.passwords()  # the keyring exists before the broker does, as after `services up`
        env = {
            **os.environ,
            "TRADELANE_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "TRADELANE_KAFKA_CREDENTIALS_FILE": str(broker.keyring),
        }
        commands = {
            "worker": ["worker", "--app-id", app_id],
            "bridge": [
                "bridge",
                "--client-id",
                bridge_id,
                "--group",
                bridge_id,
                "--metrics-port",
                "-1",
                "--session-expiry-s",
                "120",
                "--stats-interval",
                "0",
            ],
            "sink": ["sink", "--group", sink_group, "--stats-interval", "0"],
            "api": ["api", "--port", str(api_port)],
            "webhooks": ["webhooks", "--group", hooks_group, "--stats-interval", "0"],
        }
        children = [_start(name, args, env, tmp_path) for name, args in commands.items()]
        try:
            # 1. Every process is up and waiting for a broker that does not exist yet.
            for child in children:
                _wait_alive(child, WAITING, timeout_s=90)
            # 2. The broker comes: formatted and launched now, ready seconds later.
            broker.install()
            with warnings.catch_warnings():
                # the broker runs detached, remembered by pid: its Popen is dropped running
                warnings.simplefilter("ignore", ResourceWarning)
                broker.up()  # launch, wait until it answers, provision its users
            by_name = {c.name: c for c in children}
            # 3. Each process ends up working.
            _wait_alive(by_name["worker"], f"worker {app_id}: {kafka.bootstrap_servers}", 150)
            asyncio.run(wait_for_group(kafka, app_id, timeout_s=120))
            asyncio.run(wait_for_group(kafka, pledge_group(app_id), timeout_s=60))
            _wait_alive(by_name["bridge"], f"bridge {bridge_id}: ", 120)
            _wait_alive(by_name["sink"], f"sink {sink_group}: ", 120)
            _wait_alive(by_name["webhooks"], f"group {hooks_group}", 120)

            def api_ready() -> bool:
                assert by_name["api"].proc.poll() is None, by_name["api"].text()[-3000:]
                body = http_json(f"http://127.0.0.1:{api_port}/readyz")
                return body is not None and body.get("status") == "ready"

            wait_until(api_ready, 120, "ready API on the fresh broker")
            # 4. Work flows through the new broker: MQTT -> bridge -> Kafka -> sink.
            device = f"fresh-{unique}"
            asyncio.run(_reading_through_the_bridge(mqtt_settings, kafka, device))
            wait_until(
                lambda: asyncio.run(_points(influx_settings, device)) == 1,
                60,
                "point written by the sink",
            )
            # 5. Nobody gave up or crashed on the way.
            for child in children:
                assert child.proc.poll() is None, f"{child.name} exited:\n{child.text()[-3000:]}"
        finally:
            for child in children:
                if child.proc.poll() is None:
                    child.proc.terminate()
            statuses = {c.name: stop_process(c.proc, timeout_s=60) for c in children}
            with contextlib.suppress(OSError, TimeoutError):
                forget_session(mqtt_settings, bridge_id)
    assert not broker.data_dir.exists()
    # uvicorn ends a graceful shutdown by raising the signal it caught again
    clean = {name: {0, -signal.SIGTERM} if name == "api" else {0} for name in commands}
    unclean = {c.name: c.text()[-2000:] for c in children if statuses[c.name] not in clean[c.name]}
    assert not unclean, (statuses, unclean)
