"""Subscription secrets encrypted at rest on ``webhooks.subscriptions``.

Whoever can read that topic would otherwise hold every tenant's signing secret, and with it
the power to forge deliveries any receiver would accept. So the store writes each secret as a
Fernet token (AES-128-CBC with HMAC-SHA256, from ``cryptography``) under a key that lives in
the environment, never in Kafka. The token's plaintext names the subscription it belongs to, so
a sealed secret copied into another subscription's record does not open.

Record versions on the topic (``schema_version``):

- ``1``: the ``WebhookSubscription`` contract with plaintext secrets (written before sealing
  existed). Still read, and sealed at the next write of that subscription or by
  ``tradelane webhooks --reencrypt``.
- ``2``: the same fields, each secret ``{"sealed": <Fernet token>, "created_at", "expires_at"}``
  instead of ``{"secret": …}``.

Keys rotate without loss through ``MultiFernet``: the first key seals, every key opens, and
``--reencrypt`` rewrites every record under the first key, after which the old key can go.

:func:`seal` and :func:`unseal` are pure given a :class:`SecretBox`; :func:`load_box` is the
edge that reads the key from the settings or, on a local setup, a generated key file.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from tradelane.contracts.webhooks import WebhookSubscription
from tradelane.errors import ContractError, ServiceError
from tradelane.settings import KafkaSettings, ServicesSettings
from webhooks.settings import WebhookSettings

SEALED_VERSION = 2
PLAIN_VERSION = 1
KEY_FILE_NAME = "webhooks.keys"


class SealingError(ContractError):
    """A record could not be opened (wrong key, tampered, or not a subscription)."""


class MissingKeyError(ServiceError):
    """A production process has no encryption key configured (a ``ServiceError``, so every
    command that meets it, the API's and the worker's, exits 2 with the message)."""

    retriable = False  # configuration, not a service that may come up: retrying cannot help


@dataclass(frozen=True)
class SecretBox:
    """Seals with the first key, opens with any of them."""

    keys: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("a secret box needs at least one key")
        for key in self.keys:
            Fernet(key)  # raises ValueError on a malformed key

    @classmethod
    def parse(cls, text: str) -> SecretBox:
        """``"KEY1,KEY2"`` (Fernet keys, urlsafe base64 of 32 bytes) → a box; the first seals."""
        keys = tuple(k.strip().encode() for k in text.replace("\n", ",").split(",") if k.strip())
        try:
            return cls(keys)
        except ValueError as exc:
            raise ValueError(
                "webhook secret keys must be Fernet keys (urlsafe base64 of 32 bytes), "
                "comma-separated; generate one with `tradelane webhooks --generate-key`"
            ) from exc

    @property
    def _fernet(self) -> MultiFernet:
        return MultiFernet([Fernet(k) for k in self.keys])

    def encrypt(self, plaintext: bytes) -> str:
        return self._fernet.encrypt(plaintext).decode()

    def decrypt(self, token: str) -> bytes:
        try:
            return self._fernet.decrypt(token.encode())
        except InvalidToken as exc:
            raise SealingError("a sealed secret does not open with the configured keys") from exc

    def sealed_with_current(self, token: str) -> bool:
        """Whether ``token`` opens with the first key (``--reencrypt`` skips such records)."""
        try:
            Fernet(self.keys[0]).decrypt(token.encode())
        except InvalidToken:
            return False
        return True


def new_key() -> str:
    return Fernet.generate_key().decode()


def seal(sub: WebhookSubscription, box: SecretBox) -> bytes:
    """The record written to ``webhooks.subscriptions``: version 2, secrets sealed."""
    data: dict[str, Any] = json.loads(sub.model_dump_json())
    data["schema_version"] = SEALED_VERSION
    data["secrets"] = [
        {
            "sealed": box.encrypt(
                json.dumps({"subscription_id": sub.subscription_id, "secret": s["secret"]}).encode()
            ),
            "created_at": s["created_at"],
            "expires_at": s["expires_at"],
        }
        for s in data["secrets"]
    ]
    return json.dumps(data, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Opened:
    """A record read back: the subscription, and whether it needs writing again to be sealed
    under the current key (a version 1 record, or one sealed with an older key)."""

    subscription: WebhookSubscription
    stale: bool


def unseal(value: bytes, box: SecretBox | None) -> Opened:
    """Read a version 1 or 2 record. Without a box only version 1 opens."""
    try:
        data = json.loads(value)
    except ValueError as exc:
        raise SealingError("not JSON") from exc
    if not isinstance(data, dict):
        raise SealingError("not a subscription record")
    version = data.get("schema_version", PLAIN_VERSION)
    if version == PLAIN_VERSION:
        return Opened(WebhookSubscription.model_validate(data), stale=True)
    if version != SEALED_VERSION:
        raise SealingError(f"unknown subscription record version {version!r}")
    if box is None:
        raise SealingError("a sealed record needs the webhook secret keys")
    stale = False
    opened: list[dict[str, Any]] = []
    entries = data.get("secrets")
    if not isinstance(entries, list):
        raise SealingError("a sealed record's secrets are not a list")
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("sealed"), str):
            raise SealingError("a sealed secret entry is malformed")
        token = entry["sealed"]
        inner = json.loads(box.decrypt(token))
        if not isinstance(inner, dict) or not isinstance(inner.get("secret"), str):
            raise SealingError("a sealed secret entry is malformed")
        if inner.get("subscription_id") != data.get("subscription_id"):
            raise SealingError("a sealed secret belongs to another subscription")
        stale = stale or not box.sealed_with_current(token)
        opened.append(
            {
                "secret": inner["secret"],
                "created_at": entry.get("created_at"),
                "expires_at": entry.get("expires_at"),
            }
        )
    data["secrets"] = opened
    data["schema_version"] = PLAIN_VERSION
    return Opened(WebhookSubscription.model_validate(data), stale=stale)


def is_local(bootstrap_servers: str) -> bool:
    """Whether every Kafka broker is on loopback: a developer's or CI's machine, where a
    generated key file is an acceptable default."""
    hosts = [s.strip().rsplit(":", 1)[0].strip("[]").lower() for s in bootstrap_servers.split(",")]
    return all(h in {"localhost", "::1"} or h.startswith("127.") for h in hosts if h)


def load_box(keys: str | None, key_file: Path, bootstrap_servers: str) -> SecretBox:
    """The box from configured keys; else, on a local setup, from ``key_file`` (created with a
    fresh key, mode 0600, the first time). A process whose Kafka is not on loopback refuses to
    start without configured keys: a generated key on one machine would leave every other
    process unable to read the secrets, and would sit next to the data it protects."""
    if keys:
        return SecretBox.parse(keys)
    if not is_local(bootstrap_servers):
        raise MissingKeyError(
            "TRADELANE_WEBHOOKS_SECRET_KEYS is not set: webhook secrets are encrypted at rest "
            f"and Kafka ({bootstrap_servers}) is not local, so a key must be configured. "
            "Generate one with `tradelane webhooks --generate-key` and give the same value to "
            "the API and the webhook worker."
        )
    return SecretBox.parse(_local_key(key_file))


def _local_key(path: Path) -> str:
    """Read the key file, or create it atomically (written aside, then linked into place, so
    a process starting at the same moment never reads a half-written file)."""
    if path.exists():
        return path.read_text()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(new_key() + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(aside, path)
    finally:
        aside.unlink()
    return path.read_text()


def box_from_settings(settings: WebhookSettings, kafka: KafkaSettings) -> SecretBox:
    """:func:`load_box` with the key file defaulting to ``TRADELANE_HOME/secrets/``."""
    key_file = settings.key_file or ServicesSettings().home / "secrets" / KEY_FILE_NAME
    keys = settings.secret_keys.get_secret_value() if settings.secret_keys else None
    return load_box(keys, key_file, kafka.bootstrap_servers)
