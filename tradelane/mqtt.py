"""paho-mqtt client construction shared by the simulator, the bridge and the demo.

One place decides protocol version, credentials, TLS and reconnect back-off, so every client
in the system behaves the same towards the broker.
"""

from __future__ import annotations

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tradelane.settings import MqttSettings


def make_client(
    settings: MqttSettings,
    client_id: str,
    *,
    mqtt5: bool = True,
    manual_ack: bool = False,
    persistent_session: bool = False,
) -> mqtt.Client:
    """A configured, not yet connected paho client (callback API v2).

    ``persistent_session`` matters for MQTT 3.1.1 only (clean session off); MQTT 5 clients
    choose clean start and session expiry when they connect.
    """
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5 if mqtt5 else mqtt.MQTTv311,
        manual_ack=manual_ack,
        clean_session=None if mqtt5 else not persistent_session,
    )
    if settings.username is not None:
        password = settings.password.get_secret_value() if settings.password else None
        client.username_pw_set(settings.username, password)
    if settings.tls:
        client.tls_set()
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client
