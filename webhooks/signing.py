"""Standard Webhooks signatures (https://www.standardwebhooks.com/), pure and I/O-free.

A delivery carries three headers: ``webhook-id`` (the delivery id), ``webhook-timestamp`` (Unix
seconds of this attempt) and ``webhook-signature``: space-separated ``v1,<base64>`` entries,
each the HMAC-SHA256 of ``{id}.{timestamp}.{body}`` under one secret. Secrets are 24 to 64
random bytes written ``whsec_<base64>``. During a secret rotation the sender signs with both the
old and the new secret, so a receiver holding either accepts the delivery; when the overlap
ends the old secret is dropped.

Exceptions (all :class:`SignatureError`, a ``ValueError``)::

    SignatureError
    ├── BadSecretError            the secret is not whsec_ + base64 of 24..64 bytes
    ├── MissingHeadersError       one of the three headers is absent or empty
    ├── StaleTimestampError       the timestamp is not a number or outside the tolerance
    └── NoMatchingSignatureError  no v1 entry matches any of the receiver's secrets
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _random
from collections.abc import Iterable, Mapping

from tradelane.errors import ContractError

SECRET_PREFIX = "whsec_"  # noqa: S105 (a format prefix, not a secret)
SECRET_BYTES = 32
SECRET_BYTES_MIN = 24
SECRET_BYTES_MAX = 64
TOLERANCE_S = 5 * 60
"""How far a delivery's timestamp may be from the receiver's clock (the spec's 5 minutes)."""
HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"


class SignatureError(ContractError):
    """A delivery or a secret failed verification."""


class BadSecretError(SignatureError):
    pass


class MissingHeadersError(SignatureError):
    pass


class StaleTimestampError(SignatureError):
    pass


class NoMatchingSignatureError(SignatureError):
    pass


def new_secret() -> str:
    """A fresh random secret, ``whsec_`` + base64 of 32 bytes (shown to its owner once)."""
    return SECRET_PREFIX + base64.b64encode(_random.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret; :class:`BadSecretError` if it is malformed."""
    if not secret.startswith(SECRET_PREFIX):
        raise BadSecretError(f"a webhook secret starts with {SECRET_PREFIX!r}")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadSecretError("a webhook secret is whsec_ followed by standard base64") from exc
    if not SECRET_BYTES_MIN <= len(key) <= SECRET_BYTES_MAX:
        raise BadSecretError(
            f"a webhook secret holds {SECRET_BYTES_MIN} to {SECRET_BYTES_MAX} bytes, not {len(key)}"
        )
    return key


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64 HMAC-SHA256>`` entry over ``{msg_id}.{timestamp}.{body}``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def sign_headers(
    secrets: Iterable[str], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers, with one signature per active secret."""
    entries = [signature(s, msg_id, timestamp, body) for s in secrets]
    if not entries:
        raise BadSecretError("at least one secret is needed to sign")
    return {
        HEADER_ID: msg_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: " ".join(entries),
    }


def verify(
    secrets: Iterable[str],
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    tolerance_s: int = TOLERANCE_S,
) -> str:
    """Check a delivery as a receiver would; return its ``webhook-id`` or raise a
    :class:`SignatureError` saying why it is refused."""
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get(HEADER_ID, "")
    stamp = lowered.get(HEADER_TIMESTAMP, "")
    header = lowered.get(HEADER_SIGNATURE, "")
    if not (msg_id and stamp and header):
        raise MissingHeadersError(
            f"{HEADER_ID}, {HEADER_TIMESTAMP} and {HEADER_SIGNATURE} required"
        )
    if not stamp.isdigit():
        raise StaleTimestampError(f"{HEADER_TIMESTAMP} is not Unix seconds: {stamp!r}")
    timestamp = int(stamp)
    if abs(now - timestamp) > tolerance_s:
        raise StaleTimestampError(f"{HEADER_TIMESTAMP} is more than {tolerance_s} s from now")
    offered = {
        entry.removeprefix("v1,").encode() for entry in header.split(" ") if entry.startswith("v1,")
    }
    for secret in secrets:
        expected = signature(secret, msg_id, timestamp, body).removeprefix("v1,").encode()
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return msg_id
    raise NoMatchingSignatureError("no v1 signature matches the receiver's secrets")
