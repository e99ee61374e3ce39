"""Give a simulated fleet its own MQTT identities on the local broker.

On a machine where `tradelane services up` runs Mosquitto, every simulated tracker logs in as
itself (user name = device id, password derived from the machine's fleet secret), so the
broker's per-device ACL applies to the simulator exactly as to real devices. Provisioning adds
the fleet's devices to the broker's password file and waits until the broker accepts one of
them: the reload that follows a SIGHUP is asynchronous.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import paho.mqtt.client as mqtt
from pydantic import SecretStr

from devtools.services.mosquitto import Mosquitto
from devtools.services.mosquitto_access import keyring
from tradelane import credentials
from tradelane.errors import ServiceError
from tradelane.settings import MqttSettings, ServicesSettings
from transport.mqtt import make_client

log = logging.getLogger(__name__)

ACCEPT_WAIT_S = 45.0
"""How long the broker may take to accept a fleet after its password file changed: the reload
is asynchronous, and on a loaded machine (a fault run's workers, a test suite beside it) one
was seen to take longer than 15 s. A deadline, not a pause: a quick broker answers at once."""


def _accepted(settings: MqttSettings, user: str, password: str) -> bool:
    """Whether the broker accepts this login now (a CONNACK with success)."""
    as_device = settings.model_copy(update={"username": user, "password": SecretStr(password)})
    client = make_client(as_device, f"{user}-provision-probe", mqtt5=False)
    try:
        client.connect(settings.host, settings.port, keepalive=5)
    except OSError:
        return False
    deadline = time.monotonic() + 3.0
    while not client.is_connected() and time.monotonic() < deadline:
        if client.loop(timeout=0.1) != mqtt.MQTT_ERR_SUCCESS:
            break
    ok = client.is_connected()
    client.disconnect()
    return ok


def _provision(settings: MqttSettings, device_ids: Sequence[str]) -> str:
    services = ServicesSettings()
    secret = keyring(services.home.resolve())[credentials.FLEET_SECRET]
    broker = Mosquitto(services)
    added = broker.add_devices(device_ids)
    if not device_ids:
        return secret
    probe = device_ids[-1]
    password = credentials.device_password(secret, probe)
    deadline = time.monotonic() + ACCEPT_WAIT_S
    while not _accepted(settings, probe, password):
        if time.monotonic() > deadline:
            raise ServiceError(
                f"the MQTT broker at {settings.url} does not accept device {probe!r} after "
                f"provisioning it into {broker.password_file}: is it the broker that "
                "`tradelane services up` started on this machine?"
            )
        time.sleep(0.1)  # polling interval of a deadline-bounded wait for the reload
    if added:
        log.info("provisioned %d devices into %s", added, broker.password_file)
    return secret


async def provision_local_fleet(settings: MqttSettings, device_ids: Sequence[str]) -> str:
    """Let the local broker accept ``device_ids``; returns the fleet secret their passwords
    derive from."""
    return await asyncio.to_thread(_provision, settings, list(device_ids))
