"""The ledger signing key: where the worker gets it, and how keys are read and written.

The worker signs ledger checkpoints (:mod:`finance.checkpoints`) with one Ed25519 key:

1. ``TRADELANE_LEDGER_SIGNING_KEY``: a PKCS#8 PEM, or the raw 32-byte seed in base64 (what
   ``tradelane ledger generate-key`` prints and ``tradelane access compose-secrets`` writes);
2. else ``TRADELANE_LEDGER_SIGNING_KEY_FILE`` when it is set and exists (a mounted secret);
3. else, when every Kafka broker is on loopback (a developer's or CI's machine), the key file
   ``TRADELANE_HOME/secrets/ledger-signing.key``, generated on first use (PEM, mode 0600,
   created atomically so two processes starting together agree on one key);
4. else the process refuses to start (:class:`MissingSigningKeyError`): a key generated on one
   production host would sign with a key no bank was given, and would differ on the next.

Every process that needs the key (the worker, ``tradelane ledger verify`` without
``--public-key``, ``tradelane ledger public-key``) resolves it the same way, so on one machine
they agree without configuration.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from finance.checkpoints import CheckpointSigner
from tradelane.credentials import write_private
from tradelane.errors import ServiceError
from tradelane.settings import LedgerSettings, is_loopback_only


class MissingSigningKeyError(ServiceError):
    """A process whose Kafka is not on loopback has no ledger signing key configured (a
    ``ServiceError``: the command exits 2 with the message, before anything connects)."""

    retriable = False  # configuration, not a service that may come up: retrying cannot help


class KeyFormatError(ServiceError, ValueError):
    """A key that is not an Ed25519 key in a format read here."""

    retriable = False  # configuration, not a service that may come up: retrying cannot help


def _b64(text: str) -> bytes:
    compact = "".join(text.split())
    try:
        if "-" in compact or "_" in compact:
            return base64.urlsafe_b64decode(compact)
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyFormatError("not base64") from exc


K = TypeVar("K", Ed25519PrivateKey, Ed25519PublicKey)


@dataclass(frozen=True, slots=True)
class _Format(Generic[K]):
    """How one kind of Ed25519 key is read: its PEM loader, its raw form and their names in
    error messages (private keys and public keys differ in nothing else)."""

    key_type: type
    """The abstract key class (a loaded PEM of another algorithm is refused)."""
    load_pem: Callable[[bytes], object]
    from_raw: Callable[[bytes], K]
    kind: str
    pem_name: str
    raw_name: str


_PRIVATE = _Format(
    Ed25519PrivateKey,
    lambda data: load_pem_private_key(data, password=None),
    Ed25519PrivateKey.from_private_bytes,
    "private",
    "unencrypted PEM private key",
    "an Ed25519 seed",
)
_PUBLIC = _Format(
    Ed25519PublicKey,
    load_pem_public_key,
    Ed25519PublicKey.from_public_bytes,
    "public",
    "PEM public key",
    "an Ed25519 public key",
)


def _parse(text: str, form: _Format[K]) -> K:
    """A PEM of ``form``'s kind or the base64 of its raw 32 bytes, or a reason why not."""
    if text.startswith("-----BEGIN"):
        try:
            key = form.load_pem(text.encode())
        except (ValueError, TypeError) as exc:
            raise KeyFormatError(f"not a readable {form.pem_name} ({exc})") from exc
        if not isinstance(key, form.key_type):
            raise KeyFormatError(f"a {type(key).__name__}, not an Ed25519 {form.kind} key")
        return cast(K, key)
    raw = _b64(text)
    if len(raw) != 32:
        raise KeyFormatError(f"{form.raw_name} is 32 bytes, this is {len(raw)}")
    return form.from_raw(raw)


def parse_private_key(text: str) -> Ed25519PrivateKey:
    """A PKCS#8 PEM (``-----BEGIN PRIVATE KEY-----``) or the base64 of the 32-byte seed."""
    return _parse(text.strip(), _PRIVATE)


def parse_public_key(text: str) -> Ed25519PublicKey:
    """A PEM public key (``-----BEGIN PUBLIC KEY-----``) or the base64 of the raw 32 bytes."""
    text = text.strip()
    if "PRIVATE KEY-----" in text:
        raise KeyFormatError(
            "this is a private key: give the public key (`tradelane ledger public-key`)"
        )
    return _parse(text, _PUBLIC)


def private_pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def seed_b64(key: Ed25519PrivateKey) -> str:
    """The key as ``TRADELANE_LEDGER_SIGNING_KEY`` takes it on one line: base64 of the seed."""
    return base64.b64encode(
        key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    ).decode()


def new_seed_b64() -> str:
    return seed_b64(Ed25519PrivateKey.generate())


def load_signer(settings: LedgerSettings, bootstrap_servers: str) -> CheckpointSigner:
    """The worker's signer, resolved as the module docstring says."""
    configured = settings.signing_key.get_secret_value() if settings.signing_key else ""
    if configured.strip():
        try:
            return CheckpointSigner(parse_private_key(configured))
        except KeyFormatError as exc:
            raise KeyFormatError(f"TRADELANE_LEDGER_SIGNING_KEY: {exc}") from exc
    path = settings.key_file()
    if settings.signing_key_file is not None and path.exists():
        return CheckpointSigner(_read_private(path))
    if not is_loopback_only(bootstrap_servers):
        raise MissingSigningKeyError(
            "TRADELANE_LEDGER_SIGNING_KEY is not set: the worker signs every facility's ledger "
            f"head, and Kafka ({bootstrap_servers}) is not local, so the key must be "
            "configured (a key generated here would be one no bank was given). Generate one "
            "with `tradelane ledger generate-key`, give it to the worker, and give banks its "
            "public key (`tradelane ledger public-key`)."
        )
    return CheckpointSigner(local_key(path))


def _read_private(path: Path) -> Ed25519PrivateKey:
    try:
        return parse_private_key(path.read_text())
    except KeyFormatError as exc:
        raise KeyFormatError(f"{path}: {exc}") from exc
    except OSError as exc:
        raise ServiceError(f"cannot read the ledger signing key {path}: {exc.strerror}") from exc


def local_key(path: Path) -> Ed25519PrivateKey:
    """Read the key file, or create it with a fresh key: written aside (mode 0600), then
    linked into place, so a process starting at the same moment never reads a half-written
    file and both end up with the key that was linked first."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        write_private(aside, private_pem(Ed25519PrivateKey.generate()), exclusive=True)
        try:
            with contextlib.suppress(FileExistsError):
                os.link(aside, path)
        finally:
            aside.unlink()
    return _read_private(path)


def read_public_keys(paths: Iterable[Path]) -> list[Ed25519PublicKey]:
    """Public keys from files (PEM or base64 raw), a clear error naming a bad one."""
    keys: list[Ed25519PublicKey] = []
    for path in paths:
        try:
            keys.append(parse_public_key(path.read_text()))
        except KeyFormatError as exc:
            raise KeyFormatError(f"{path}: {exc}") from exc
        except OSError as exc:
            raise ServiceError(f"cannot read public key {path}: {exc.strerror}") from exc
    return keys
