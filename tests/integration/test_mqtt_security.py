"""Per-device security with the production-like Mosquitto config (config/mosquitto/secure.conf
and config/mosquitto/acl): anonymous clients are refused, a device can publish only as itself,
and the bridge principal can read every tracker but publish nothing."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from tradelane.services.base import CONFIG_DIR, render
from tradelane.services.mosquitto import mosquitto_binary
from tradelane.services.probes import free_port, port_open
from tradelane.services.process import wait_until
from tradelane.settings import MqttSettings
from tradelane.topics import READINGS_FILTER, readings_topic

pytestmark = pytest.mark.integration

USERS = {"dev-a": "pw-a", "dev-b": "pw-b", "tradelane-bridge": "pw-bridge"}


@pytest.fixture
def secure_broker(tmp_path: Path, mqtt_settings: MqttSettings) -> Iterator[int]:
    """A second Mosquitto with authentication and ACLs, on a free loopback port."""
    binary = mosquitto_binary()
    passwd = shutil.which("mosquitto_passwd")
    assert binary is not None
    assert passwd is not None
    passwords = tmp_path / "passwords"
    passwords.touch()
    for user, password in USERS.items():
        subprocess.run([passwd, "-b", str(passwords), user, password], check=True)
    passwords.chmod(0o600)
    port = free_port()
    conf = render(
        CONFIG_DIR / "mosquitto" / "secure.conf",
        tmp_path / "secure.conf",
        port=port,
        data_dir=tmp_path,
        password_file=passwords,
        acl_file=CONFIG_DIR / "mosquitto" / "acl",
    )
    with (tmp_path / "mosquitto.log").open("wb") as log:
        proc = subprocess.Popen([binary, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(
            lambda: port_open("127.0.0.1", port),
            15,
            "secure mosquitto",
            alive=lambda: proc.poll() is None,
        )
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def connect(port: int, user: str | None, password: str | None) -> tuple[mqtt.Client, ReasonCode]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sec-{user}", protocol=mqtt.MQTTv5)
    if user is not None:
        client.username_pw_set(user, password)
    result: list[ReasonCode] = []
    done = threading.Event()

    def on_connect(_c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
        result.append(rc)
        done.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert done.wait(10), "no CONNACK"
    return client, result[0]


def publish_reason(client: mqtt.Client, topic: str) -> int:
    """Publish QoS 1 and return the PUBACK reason code (MQTT 5 reports ACL refusals)."""
    codes: list[int] = []
    done = threading.Event()

    def on_publish(_c: mqtt.Client, _u: object, _mid: int, rc: ReasonCode, _p: object) -> None:
        codes.append(rc.value)
        done.set()

    client.on_publish = on_publish
    client.publish(topic, b'{"probe": true}', qos=1)
    assert done.wait(10), "no PUBACK"
    return codes[0]


def test_anonymous_and_wrong_password_are_refused(secure_broker: int) -> None:
    for user, password in [(None, None), ("dev-a", "wrong"), ("nobody", "pw-a")]:
        client, rc = connect(secure_broker, user, password)
        client.loop_stop()
        client.disconnect()
        assert rc.is_failure, f"{user} was let in"
        assert rc.getName() in {"Not authorized", "Bad user name or password"}


def test_a_device_publishes_only_as_itself(secure_broker: int) -> None:
    bridge, rc = connect(secure_broker, "tradelane-bridge", "pw-bridge")
    assert not rc.is_failure
    received: list[str] = []
    got = threading.Event()
    subscribed = threading.Event()
    bridge.on_message = lambda _c, _u, msg: (received.append(msg.topic), got.set())
    bridge.on_subscribe = lambda *_a: subscribed.set()
    bridge.subscribe(READINGS_FILTER, qos=1)
    assert subscribed.wait(10)

    device_a, rc = connect(secure_broker, "dev-a", "pw-a")
    assert not rc.is_failure
    try:
        assert publish_reason(device_a, readings_topic("dev-b")) == 135  # not authorized
        assert publish_reason(device_a, "tradelane/v1/trackers/dev-a/other") == 135
        assert publish_reason(device_a, readings_topic("dev-a")) == 0
        assert got.wait(10)
        # The authorised message arrives; the impersonation never reached a subscriber.
        assert received == [readings_topic("dev-a")]
        # The bridge is read-only.
        assert publish_reason(bridge, readings_topic("dev-a")) == 135
    finally:
        for client in (device_a, bridge):
            client.loop_stop()
            client.disconnect()
