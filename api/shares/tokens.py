"""Share tokens: made, hashed for storage, and compared.

A token is ``tlshr_`` and 256 random bits (43 URL-safe characters). Only its SHA-256 is stored
(``ShipmentShare.token_sha256``). A plain, unsalted hash is enough here, unlike for
passwords: salts and slow hashes (argon2, as for API keys' file) exist to make guessing a
*low-entropy* secret from its hash expensive; a 256-bit random token cannot be guessed
whatever the hash costs, and no precomputed table covers 2**256 inputs. A fast hash also lets
every API process find a share from the presented token in one dictionary lookup, with no
secret pepper to distribute: a leaked ``api.shares`` topic gives hashes that open nothing.

The share id is derived from the hash (:func:`share_id_for`): stable for the share, and no
more revealing than the hash itself.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from tradelane.ids import derive_id

TOKEN_PREFIX = "tlshr_"  # noqa: S105 - a prefix naming the kind of secret, not a secret
TOKEN_BYTES = 32
"""256 bits of randomness per token."""
_TOKEN = re.compile(r"tlshr_[A-Za-z0-9_-]{43}")


def new_token() -> str:
    """A fresh token: ``tlshr_`` + 256 random bits, URL-safe (it travels in a link)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def well_formed(presented: str) -> bool:
    """Whether ``presented`` has a token's shape (checked before hashing, so an oversize or
    foreign string costs nothing)."""
    return _TOKEN.fullmatch(presented) is not None


def token_sha256(token: str) -> str:
    """The lowercase hex SHA-256 of ``token``: what is stored and looked up."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def share_id_for(token_hash: str) -> str:
    """The share's id, derived from its token's hash."""
    return "shr_" + derive_id("share", token_hash)


def matches(stored_hash: str, presented: str) -> bool:
    """Whether ``presented`` is the token whose hash is ``stored_hash``, compared in constant
    time (the lookup that found ``stored_hash`` was keyed by the presented token's own hash,
    which tells an attacker nothing; the comparison is constant-time all the same)."""
    if not well_formed(presented):
        return False
    return hmac.compare_digest(stored_hash.encode(), token_sha256(presented).encode())
