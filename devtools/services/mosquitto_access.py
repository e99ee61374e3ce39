"""Who may connect to the local Mosquitto, and as what: its password file, kept by us.

Principals (``config/mosquitto/acl`` says what each may do):

- a **device** logs in with its device id as user name and may publish only under its own
  topic tree (``tradelane/v1/trackers/<its id>/…``) and read its own commands;
- ``tradelane-bridge`` reads every tracker's topics and may publish nothing;
- ``tradelane-gateway`` publishes for many trackers over a few connections (the simulator's
  shared mode, fleet gateways), never reads;
- ``tradelane-admin`` may do anything (tests and tools on this machine).

Passwords live in the local keyring ``<home>/secrets/mqtt.json`` (mode 0600); devices' are
derived from its fleet secret (:func:`tradelane.credentials.device_password`). The broker
reads a password file of salted PBKDF2-SHA512 hashes (Mosquitto's ``$7$`` format, the one
``mosquitto_passwd`` writes); adding devices appends to it and asks the broker to reload
(SIGHUP), which keeps existing connections.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import signal
from collections.abc import Iterable
from pathlib import Path

from tradelane import credentials
from tradelane.principals import MQTT_ADMIN as ADMIN
from tradelane.principals import MQTT_BRIDGE as BRIDGE
from tradelane.principals import MQTT_GATEWAY as GATEWAY

SERVICE_USERS = (ADMIN, BRIDGE, GATEWAY)
ITERATIONS = 101
"""Mosquitto 2.0's own default for ``$7$`` hashes."""


def password_hash(password: str, salt: bytes | None = None) -> str:
    """A Mosquitto ``$7$`` password-file hash (PBKDF2-HMAC-SHA512, 12-byte salt)."""
    salt = secrets.token_bytes(12) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS)
    return f"$7${ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify(password: str, hashed: str) -> bool:
    """Whether ``password`` matches a ``$7$`` hash (what the broker checks)."""
    _, kind, rounds, salt, digest = hashed.split("$")
    if kind != "7":
        return False
    again = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt), int(rounds))
    return secrets.compare_digest(base64.b64encode(again).decode(), digest)


def keyring(home: Path) -> dict[str, str]:
    """The local MQTT keyring: a password per service user and the fleet secret (made once)."""
    return credentials.ensure(
        credentials.mqtt_file(home), (*SERVICE_USERS, credentials.FLEET_SECRET)
    )


def _read(path: Path) -> dict[str, str]:
    users: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            user, sep, hashed = line.partition(":")
            if sep:
                users[user] = hashed
    return users


def _write(path: Path, users: dict[str, str]) -> None:
    lines = "".join(f"{user}:{hashed}\n" for user, hashed in sorted(users.items()))
    credentials.write_private(path, lines)


def write_service_users(path: Path, home: Path) -> None:
    """Make the password file hold the service users' current passwords (devices kept)."""
    ring = keyring(home)
    with credentials.locked(path):
        _update_service_users(path, ring)


def _update_service_users(path: Path, ring: dict[str, str]) -> None:
    users = _read(path)
    for user in SERVICE_USERS:
        if user not in users or not verify(ring[user], users[user]):
            users[user] = password_hash(ring[user])
    _write(path, users)


def add_devices(path: Path, home: Path, device_ids: Iterable[str]) -> int:
    """Add devices (password derived from the fleet secret) missing from the password file;
    returns how many were added. The broker sees them after :func:`reload`."""
    secret = keyring(home)[credentials.FLEET_SECRET]
    for device in device_ids:
        if device in SERVICE_USERS or ":" in device:
            raise ValueError(f"{device!r} cannot be a device's user name")
    with credentials.locked(path):
        users = _read(path)
        new = [d for d in dict.fromkeys(device_ids) if d not in users]
        for device in new:
            users[device] = password_hash(credentials.device_password(secret, device))
        if new:
            _write(path, users)
    return len(new)


def reload(pid: int) -> bool:
    """Ask Mosquitto to re-read its password and ACL files (connections stay up). Only a
    process that is Mosquitto gets the signal: a stale pid file may name a reused pid, and a
    SIGHUP ends most other processes."""
    try:
        name = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return False
    if name != "mosquitto":
        return False
    os.kill(pid, signal.SIGHUP)
    return True
