"""MQTT refuses what a client may not do, on the broker `tradelane services up` runs.

The dev/CI Mosquitto is the secure one: no anonymous clients, per-device users (added by
provisioning, passwords derived from the machine's fleet secret), the ACLs of
``config/mosquitto/acl``, a TLS listener signed by the local CA and a mutual-TLS listener where
the certificate's common name is the user. Each refusal is tried on the real broker.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from devtools.provisioning import provision_local_fleet
from devtools.services import tls
from devtools.services.mosquitto import Mosquitto
from devtools.services.mosquitto_access import ADMIN, BRIDGE, GATEWAY, keyring
from tradelane import credentials
from tradelane.settings import MqttSettings, ServicesSettings
from tradelane.topics import READINGS_FILTER, readings_topic

pytestmark = pytest.mark.integration

NOT_AUTHORIZED = 135
ACCEPTED = {0, 16}
"""PUBACK reasons of an accepted publish: success, or "no matching subscribers"."""


class Client:
    """A paho client driven by its own thread, with the CONNACK, SUBACK and PUBACK codes."""

    def __init__(self, name: str) -> None:
        self.paho = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
        self.connack: list[ReasonCode] = []
        self.connected = threading.Event()
        self.received: list[str] = []
        self.got = threading.Event()
        self.paho.on_connect = self._on_connect
        self.paho.on_message = self._on_message

    def _on_connect(
        self, _c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object
    ) -> None:
        self.connack.append(rc)
        self.connected.set()

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        self.received.append(msg.topic)
        self.got.set()

    def connect(self, port: int) -> ReasonCode:
        self.paho.connect("127.0.0.1", port)
        self.paho.loop_start()
        assert self.connected.wait(10), "no CONNACK"
        return self.connack[0]

    def publish(self, topic: str) -> int:
        """Publish QoS 1 and return the PUBACK reason (MQTT 5 reports an ACL refusal)."""
        codes: list[int] = []
        done = threading.Event()

        def on_publish(_c: mqtt.Client, _u: object, _m: int, rc: ReasonCode, _p: object) -> None:
            codes.append(rc.value)
            done.set()

        self.paho.on_publish = on_publish
        self.paho.publish(topic, b'{"probe": true}', qos=1)
        assert done.wait(10), "no PUBACK"
        return codes[0]

    def subscribe(self, topic: str) -> int:
        """Subscribe and return the SUBACK reason code of the one filter."""
        codes: list[int] = []
        done = threading.Event()

        def on_subscribe(
            _c: mqtt.Client, _u: object, _m: int, rcs: list[ReasonCode], _p: object
        ) -> None:
            codes.extend(rc.value for rc in rcs)
            done.set()

        self.paho.on_subscribe = on_subscribe
        self.paho.subscribe(topic, qos=1)
        assert done.wait(10), "no SUBACK"
        return codes[0]

    def close(self) -> None:
        self.paho.loop_stop()
        self.paho.disconnect()


def _login(name: str, user: str | None, password: str | None) -> Client:
    client = Client(name)
    if user is not None:
        client.paho.username_pw_set(user, password)
    return client


@pytest.fixture
def fleet(mqtt_settings: MqttSettings, unique: str) -> dict[str, str]:
    """Two provisioned devices: id → password."""
    ids = [f"sec-a-{unique}", f"sec-b-{unique}"]
    secret = asyncio.run(provision_local_fleet(mqtt_settings, ids))
    return {d: credentials.device_password(secret, d) for d in ids}


def _ring() -> dict[str, str]:
    return keyring(ServicesSettings().home)


def test_anonymous_wrong_and_unknown_logins_are_refused(
    mqtt_settings: MqttSettings, fleet: dict[str, str]
) -> None:
    device = next(iter(fleet))
    for user, password in [(None, None), (device, "wrong"), ("nobody", fleet[device])]:
        client = _login(f"sec-refused-{user}", user, password)
        rc = client.connect(mqtt_settings.port)
        client.close()
        assert rc.is_failure, f"{user} was let in"
        assert rc.getName() in {"Not authorized", "Bad user name or password"}


def test_a_device_publishes_only_as_itself(
    mqtt_settings: MqttSettings, fleet: dict[str, str]
) -> None:
    a, b = fleet
    bridge = _login("sec-bridge", BRIDGE, _ring()[BRIDGE])
    device_a = _login(a, a, fleet[a])
    try:
        assert not bridge.connect(mqtt_settings.port).is_failure
        assert bridge.subscribe(readings_topic(a)) == 1  # granted QoS 1
        assert not device_a.connect(mqtt_settings.port).is_failure
        assert device_a.publish(readings_topic(b)) == NOT_AUTHORIZED
        assert device_a.publish(f"tradelane/v1/trackers/{a}/other") == NOT_AUTHORIZED
        assert device_a.publish(readings_topic(a)) in ACCEPTED
        assert bridge.got.wait(10)
        assert bridge.received == [readings_topic(a)]  # the impersonation never arrived
        assert bridge.publish(readings_topic(a)) == NOT_AUTHORIZED  # the bridge is read-only
    finally:
        bridge.close()
        device_a.close()


def test_a_device_reads_nothing_of_another(
    mqtt_settings: MqttSettings, fleet: dict[str, str]
) -> None:
    """Mosquitto grants the subscription but never delivers what the ACL forbids: A listens
    on B's readings and its own command topic; B publishes, then A gets a command. Messages
    to one client keep their order, so A's first message must be its command."""
    a, b = fleet
    device_a, device_b = _login(a, a, fleet[a]), _login(b, b, fleet[b])
    admin = _login("sec-admin", ADMIN, _ring()[ADMIN])
    try:
        for client in (device_a, device_b, admin):
            assert not client.connect(mqtt_settings.port).is_failure
        device_a.subscribe(readings_topic(b))
        device_a.subscribe(READINGS_FILTER)
        device_a.subscribe(f"tradelane/v1/trackers/{a}/cmd")
        assert device_b.publish(readings_topic(b)) in ACCEPTED
        assert admin.publish(f"tradelane/v1/trackers/{a}/cmd") in ACCEPTED
        assert device_a.got.wait(10)
        assert device_a.received == [f"tradelane/v1/trackers/{a}/cmd"]
    finally:
        for client in (device_a, device_b, admin):
            client.close()


def test_a_gateway_publishes_for_any_tracker_only(mqtt_settings: MqttSettings, unique: str) -> None:
    gateway = _login(f"sec-gw-{unique}", GATEWAY, _ring()[GATEWAY])
    try:
        assert not gateway.connect(mqtt_settings.port).is_failure
        assert gateway.publish(readings_topic(f"any-{unique}")) in ACCEPTED
        assert gateway.publish(f"finance/{unique}") == NOT_AUTHORIZED
    finally:
        gateway.close()


def _tls_context(ca: Path, cert: tls.Pair | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    if cert is not None:
        context.load_cert_chain(str(cert.cert), str(cert.key))
    return context


def test_tls_listener_serves_the_local_ca_and_refuses_strangers(
    mqtt_settings: MqttSettings, fleet: dict[str, str]
) -> None:
    services = ServicesSettings()
    ca = Mosquitto(services).tls_dir / "ca.pem"
    a = next(iter(fleet))
    trusted = _login(f"{a}-tls", a, fleet[a])
    trusted.paho.tls_set_context(_tls_context(ca))
    try:
        assert not trusted.connect(services.mqtt_tls_port).is_failure
        assert trusted.publish(readings_topic(a)) in ACCEPTED
    finally:
        trusted.close()
    system_cas_only = ssl.create_default_context()
    with (
        pytest.raises(ssl.SSLCertVerificationError),
        socket.create_connection(("127.0.0.1", services.mqtt_tls_port), timeout=10) as raw,
    ):
        system_cas_only.wrap_socket(raw, server_hostname="localhost").close()


def test_mutual_tls_takes_the_identity_from_the_certificate(
    mqtt_settings: MqttSettings, unique: str, tmp_path: Path
) -> None:
    services = ServicesSettings()
    broker = Mosquitto(services)
    ca = tls.ensure_ca(broker.tls_dir)
    device, other = f"mtls-{unique}", f"mtls-other-{unique}"
    cert = tls.issue(ca, tmp_path, device, server=False)
    client = Client(device)
    client.paho.tls_set_context(_tls_context(ca.cert, cert))
    try:
        assert not client.connect(services.mqtt_mtls_port).is_failure
        assert client.publish(readings_topic(device)) in ACCEPTED
        assert client.publish(readings_topic(other)) == NOT_AUTHORIZED
    finally:
        client.close()
    assert _refused_without_certificate(_tls_context(ca.cert), services.mqtt_mtls_port)


def _refused_without_certificate(context: ssl.SSLContext, port: int) -> bool:
    """Whether the server ends a TLS connection that shows no client certificate: at the
    handshake (TLS 1.2) or at the first read after it (TLS 1.3 sends its alert then)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        try:
            with context.wrap_socket(raw, server_hostname="localhost") as conn:
                return conn.recv(1) == b""
        except (ssl.SSLError, ConnectionResetError):
            return True
