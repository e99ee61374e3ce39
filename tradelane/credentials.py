"""The local keyring of a dev or CI machine: one password per Kafka principal.

``tradelane services up`` writes ``<home>/secrets/kafka.json`` (mode 0600, random passwords)
before it starts Kafka, creates those SCRAM users on the broker, and every process started on
the same machine reads its own principal's password from there unless
``TRADELANE_KAFKA_USERNAME``/``TRADELANE_KAFKA_PASSWORD`` are set (as they are in production,
where no such file exists and each container gets its own secret).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tradelane.errors import ServiceError

SECRETS_DIR = "secrets"
KAFKA_FILE = "kafka.json"
MQTT_FILE = "mqtt.json"
LEDGER_KEY_FILE = "ledger-signing.key"
FLEET_SECRET = "fleet-secret"  # noqa: S105 - the name of an entry, not a secret
"""The MQTT keyring's entry from which every simulated device's password is derived."""


class CredentialsError(ServiceError):
    """No credentials for a principal: the message says where they were looked for."""

    retriable = False  # configuration, not a service that may come up: retrying cannot help


def kafka_file(home: Path) -> Path:
    return home / SECRETS_DIR / KAFKA_FILE


def mqtt_file(home: Path) -> Path:
    return home / SECRETS_DIR / MQTT_FILE


def ledger_key_file(home: Path) -> Path:
    """The ledger signing key a loopback setup generates (see ``finance.ledger_keys``)."""
    return home / SECRETS_DIR / LEDGER_KEY_FILE


def device_password(secret: str, device_id: str) -> str:
    """A device's MQTT password, derived from a fleet secret: whoever provisions the broker and
    the device itself compute the same one, so no per-device list needs distributing.

    >>> device_password("s3cret", "sim1-t00000") == device_password("s3cret", "sim1-t00000")
    True
    """
    return hmac.new(secret.encode(), device_id.encode(), hashlib.sha256).hexdigest()[:32]


def write_private(path: Path, data: str | bytes, *, exclusive: bool = False) -> None:
    """Write a secret readable by its owner only: created 0600 (never world-readable even for
    an instant) and swapped in atomically; ``exclusive`` refuses a file that exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    if exclusive:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(raw)
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # created 0600
    with os.fdopen(fd, "wb") as out:
        out.write(raw)
    os.replace(tmp, path)


def load(path: Path) -> dict[str, str]:
    """The principal → password map in ``path`` (empty when the file does not exist)."""
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise CredentialsError(f"{path}: expected a JSON object of principal -> password")
    return raw


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold ``path``'s lock file while reading and rewriting it: two processes (or threads)
    updating it at once would otherwise each write it without the other's change."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.with_name(f".{path.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure(path: Path, principals: tuple[str, ...]) -> dict[str, str]:
    """Every principal's password, generating (and saving) the missing ones. Existing
    passwords are kept, so running it again changes nothing."""
    known = load(path)
    if all(p in known for p in principals):
        return known
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    with locked(path):  # two processes creating it must agree on one secret
        known = load(path)
        missing = [p for p in principals if p not in known]
        if missing:
            known |= {p: secrets.token_urlsafe(24) for p in missing}
            write_private(path, json.dumps(known, indent=2, sort_keys=True))
    return known


def password(path: Path, principal: str, service: str = "KAFKA") -> str:
    """``principal``'s password from the keyring at ``path``, or a clear error."""
    found = load(path).get(principal)
    if found is None:
        raise CredentialsError(
            f"no {service.title()} password for principal {principal!r} in {path}: set "
            f"TRADELANE_{service}_USERNAME and TRADELANE_{service}_PASSWORD, or run "
            "`tradelane services up` on this machine (it provisions the local principals)"
        )
    return found
