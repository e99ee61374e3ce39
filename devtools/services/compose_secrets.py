"""The secrets a docker-compose stack needs, made once on the operator's machine.

``tradelane access compose-secrets --out secrets`` writes (every file mode 0600, the folder 0700):

- ``compose.env``: random passwords for the Kafka admin, controller and each service user, the
  MQTT bridge and gateway, InfluxDB, the Grafana admin, the webhook secrets' Fernet key and the
  worker's ledger signing key (Ed25519; with it set, ``tradelane ledger public-key`` prints what
  banks get) —
  the variables that ``docker-compose.yml`` requires
  (``docker compose --env-file secrets/compose.env up``);
- ``mosquitto/passwords``: the bridge's and the gateway's password hashes (add devices with
  ``mosquitto_passwd``);
- ``mosquitto/tls/``: a CA and the broker's certificate for the names ``mosquitto`` and
  ``localhost``.

Existing files are never overwritten: a second run refuses, so a stack's secrets are not
replaced by accident.
"""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

from devtools.services import tls
from devtools.services.kafka_access import password_variable
from devtools.services.mosquitto_access import password_hash
from tradelane.credentials import write_private
from tradelane.errors import ServiceError
from tradelane.principals import MQTT_BRIDGE as BRIDGE
from tradelane.principals import MQTT_GATEWAY as GATEWAY
from tradelane.principals import SERVICE_PRINCIPALS

MQTT_VARIABLES = {BRIDGE: "MQTT_BRIDGE_PASSWORD", GATEWAY: "MQTT_GATEWAY_PASSWORD"}
BROKER_NAMES = ("mosquitto", "localhost")


def environment() -> dict[str, str]:
    """Fresh values for every variable docker-compose.yml requires."""
    values = {
        "KAFKA_ADMIN_PASSWORD": secrets.token_urlsafe(24),
        "KAFKA_CONTROLLER_PASSWORD": secrets.token_urlsafe(24),
        "TRADELANE_INFLUX_TOKEN": secrets.token_urlsafe(32),
        "INFLUXDB_ADMIN_PASSWORD": secrets.token_urlsafe(24),
        "GRAFANA_ADMIN_PASSWORD": secrets.token_urlsafe(24),
        "TRADELANE_WEBHOOKS_SECRET_KEYS": Fernet.generate_key().decode(),
        # an Ed25519 seed, base64: `tradelane ledger generate-key` prints the same form
        "TRADELANE_LEDGER_SIGNING_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    values |= {password_variable(p): secrets.token_urlsafe(24) for p in SERVICE_PRINCIPALS}
    values |= {var: secrets.token_urlsafe(24) for var in MQTT_VARIABLES.values()}
    return values


def write(out: Path) -> list[Path]:
    """Write the secrets under ``out``; refuses when any of them exists already."""
    env_file = out / "compose.env"
    passwords = out / "mosquitto" / "passwords"
    tls_dir = out / "mosquitto" / "tls"
    for existing in (env_file, passwords, tls_dir / "ca.pem"):
        if existing.exists():
            raise ServiceError(f"{existing} exists: keep the stack's secrets, or move them away")
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o700)
    values = environment()
    write_private(env_file, "".join(f"{k}={v}\n" for k, v in values.items()), exclusive=True)
    hashes = [f"{user}:{password_hash(values[var])}\n" for user, var in MQTT_VARIABLES.items()]
    write_private(passwords, "".join(hashes), exclusive=True)
    ca = tls.ensure_ca(tls_dir)
    server = tls.issue(ca, tls_dir, "mosquitto", server=True, names=BROKER_NAMES)
    return [env_file, passwords, ca.cert, server.cert]
