"""Signed ledger checkpoints: a facility's chain head, signed with Ed25519 (pure, no I/O).

A :class:`~tradelane.contracts.finance.LedgerCheckpoint` says "facility F's chain has
``seq + 1`` entries and its head hash is H", signed by the worker's ledger key. Since every
entry's hash covers the one before it, one verified checkpoint vouches for the whole chain up
to its ``seq``; someone who can write ``finance.ledger`` but does not hold the key can neither
re-forge that part of the chain nor extend it with entries a verifier will accept.

The signed bytes, reproducible in any language (docs/finance.md)::

    message   = "tradelane-ledger-checkpoint\\n" + canonical_json(checkpoint without "signature")
    canonical_json = JSON, keys sorted, separators (",", ":"), UTF-8 (non-ASCII unescaped)
    signature = base64( Ed25519-sign(private_key, message) )          (standard, padded)
    key_id    = hex( sha256(raw 32-byte public key) )[:16]

Ed25519 signatures are deterministic and every field derives from the chain (``at`` is the head
entry's event time, ``checkpoint_id`` derives from facility and seq), so signing the same head
twice gives byte-identical records: a re-run step's checkpoint is a harmless duplicate.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tradelane.contracts.finance import CHECKPOINT_ALGORITHM, LedgerCheckpoint, LedgerEntry
from tradelane.ids import derive_id

DOMAIN = b"tradelane-ledger-checkpoint\n"
"""Prefix of every signed message: a checkpoint signature can never pass for anything else."""


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """First 16 hex digits of SHA-256 over the raw 32-byte public key."""
    return hashlib.sha256(raw_public(key)).hexdigest()[:16]


def checkpoint_id(facility_id: str, seq: int) -> str:
    return derive_id("ledger_checkpoint", facility_id, seq)


def signed_bytes(checkpoint: LedgerCheckpoint) -> bytes:
    """What the signature covers: the domain prefix and every field but ``signature``."""
    body = checkpoint.model_dump(mode="json", exclude={"signature"})
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return DOMAIN + text.encode()


@dataclass(frozen=True)
class CheckpointSigner:
    """Signs facility heads with one private key (pure: the key is loaded elsewhere,
    :mod:`finance.ledger_keys`)."""

    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    def sign(self, head: LedgerEntry) -> LedgerCheckpoint:
        """The checkpoint of a chain whose last entry is ``head``."""
        unsigned = LedgerCheckpoint(
            checkpoint_id=checkpoint_id(head.facility_id, head.seq),
            facility_id=head.facility_id,
            seq=head.seq,
            head_hash=head.hash,
            entry_count=head.seq + 1,
            at=head.at,
            algorithm=CHECKPOINT_ALGORITHM,
            key_id=self.key_id,
            signature="A" * 86 + "==",  # placeholder: the signature does not cover itself
        )
        signature = self.private_key.sign(signed_bytes(unsigned))
        return unsigned.model_copy(update={"signature": base64.b64encode(signature).decode()})


def signature_ok(checkpoint: LedgerCheckpoint, key: Ed25519PublicKey) -> bool:
    """Whether ``checkpoint``'s signature verifies with ``key`` over its signed bytes."""
    try:
        signature = base64.b64decode(checkpoint.signature, validate=True)
        key.verify(signature, signed_bytes(checkpoint))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def trusted(keys: Iterable[Ed25519PublicKey]) -> dict[str, Ed25519PublicKey]:
    """Public keys by key id (several during a key rotation)."""
    return {key_id(k): k for k in keys}
