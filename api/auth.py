"""API keys → principals with a role, and where the keys come from.

Four roles (:mod:`tradelane.roles`; what each sees is :mod:`tradelane.tenancy`): ``operator``
sees everything; ``bank`` (with its bank id as ``party``) sees only its facilities, the
shipments pledged to them and their events; ``borrower`` (the seller, with its borrower id)
sees its own facilities, their ledger and calendar, its pledged shipments and the claims on
them; ``insurer`` (with its insurer id) sees only its policies and their claims.

A key looks like ``tl_<id>_<secret>``: the id (12 hex digits) is not secret and names the one
stored hash to check, so a request never tries every hash. The key file named by
``TRADELANE_API_KEYS_FILE`` holds only argon2id hashes, written by ``tradelane api keys add``
(which prints the key once)::

    keys:
      - {id: 3f9a2c1d0b7e, hash: "$argon2id$v=19$m=19456,t=2,p=1$...", role: operator,
         name: "ops desk"}

argon2 is slow by design (tens of milliseconds), so a key that verified once is remembered in
memory under an HMAC of the presented key with a per-process random pepper: later requests
cost one HMAC and one constant-time comparison. Only successes are remembered, so the memory
is bounded by the number of keys in the file. Without a file the public demo key set
(:data:`DEMO_KEYS`) applies, which the server accepts only on a loopback address
(:func:`demo_keys_allowed`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tradelane.roles import Role as Role  # re-exported: the API names roles through auth
from tradelane.tenancy import Tenant

MAX_KEY_LENGTH = 256
KEY_ID_LENGTH = 12
_KEY = re.compile(r"tl_(?P<id>[0-9a-f]{12})_[A-Za-z0-9_-]{32,200}")
HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
"""argon2id with the OWASP minimum (19 MiB, 2 passes): the keys are 256-bit random secrets, so
the hash guards a leaked key file, not a guessable password; these costs keep one check in the
tens of milliseconds and bound the memory of concurrent checks."""
_VERIFYING = threading.BoundedSemaphore(2)
"""At most two argon2 checks at once: each takes 19 MiB, and wrong secrets must not exhaust
memory (the per-address rate limit bounds how often they come)."""


class Principal(BaseModel):
    """Who is calling: a name for logs, a role, and the party (bank, insurer or borrower id)
    it acts for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)]
    role: Role
    party: Annotated[str | None, Field(max_length=64)] = None

    @model_validator(mode="after")
    def _party_for_bank_and_insurer(self) -> Principal:
        if self.role is not Role.OPERATOR and not self.party:
            raise ValueError(
                f"a {self.role.value} key needs a party (its bank, insurer or borrower id)"
            )
        return self

    @property
    def tenant(self) -> Tenant | None:
        """The party this key acts for (``None``: an operator, who sees everything)."""
        if self.role is Role.OPERATOR or self.party is None:
            return None
        return Tenant(self.role, self.party)


class KeyEntry(Principal):
    """One line of the key file: the key's id and its argon2 hash, never the key itself."""

    id: Annotated[str, Field(pattern=r"^[0-9a-f]{12}$")]
    hash: Annotated[str, Field(pattern=r"^\$argon2id\$", max_length=512)]


class KeyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: list[KeyEntry]

    @model_validator(mode="before")
    @classmethod
    def _no_plain_keys(cls, data: object) -> object:
        entries = data.get("keys") if isinstance(data, dict) else None
        if isinstance(entries, list) and any(isinstance(e, dict) and "key" in e for e in entries):
            raise ValueError(
                "the key file holds a plain-text key: store hashes only; create keys with "
                "`tradelane api keys add` (docs/api.md)"
            )
        return data


DEMO_KEYS: dict[str, Principal] = {
    "demo-operator-key": Principal(name="demo operator", role=Role.OPERATOR),
    "demo-bank-key": Principal(name="demo bank", role=Role.BANK, party="demo-bank"),
    "demo-insurer-key": Principal(name="demo insurer", role=Role.INSURER, party="demo-insurer"),
    "demo-borrower-key": Principal(name="demo seller", role=Role.BORROWER, party="demo-shipper"),
}
"""Keys that work when no key file is configured and the server binds loopback: one per role,
for the demo parties. They are public."""


@dataclass(frozen=True, slots=True)
class Caller:
    """A verified key: its principal, and an id naming the key (for its rate limit)."""

    principal: Principal
    key_id: str


@dataclass(frozen=True, slots=True)
class _Verified:
    tag: bytes
    caller: Caller


def key_id_of(presented: str) -> str | None:
    """The id part of a well-formed ``tl_<id>_<secret>`` key, else ``None``."""
    found = _KEY.fullmatch(presented)
    return found.group("id") if found else None


def new_key() -> tuple[str, str]:
    """A fresh key id and the full key ``tl_<id>_<secret>`` (256 random bits of secret)."""
    key_id = secrets.token_hex(KEY_ID_LENGTH // 2)
    return key_id, f"tl_{key_id}_{secrets.token_urlsafe(32)}"


def hash_key(key: str) -> str:
    """The argon2id hash stored for ``key``."""
    return HASHER.hash(key)


class KeyRing:
    """The configured keys; :meth:`authenticate` maps a presented key to its caller.

    ``hashed`` are key-file entries (argon2); ``plain`` are in-memory keys (the demo set and
    tests) which are only ever held as HMAC tags.
    """

    def __init__(
        self,
        plain: dict[str, Principal] | None = None,
        hashed: list[KeyEntry] | None = None,
        *,
        demo: bool = False,
    ) -> None:
        self.demo = demo
        self._pepper = secrets.token_bytes(32)
        self._verified: dict[bytes, _Verified] = {}
        self._lock = threading.Lock()
        for n, (key, principal) in enumerate((plain or {}).items()):
            tag = self._tag(key)
            self._verified[tag] = _Verified(tag, Caller(principal, f"plain-{n}"))
        self._hashed = {entry.id: entry for entry in hashed or []}

    def _tag(self, presented: str) -> bytes:
        return hmac.new(self._pepper, presented.encode(), hashlib.sha256).digest()

    def remembered(self, presented: str | None) -> Caller | None:
        """The caller of a key verified before (or an in-memory key): one HMAC, no argon2."""
        if not presented or len(presented) > MAX_KEY_LENGTH:
            return None
        tag = self._tag(presented)
        known = self._verified.get(tag)
        # the dict is indexed by a keyed hash the caller cannot predict, so its timing tells
        # nothing; the comparison itself is constant-time all the same
        if known is not None and hmac.compare_digest(known.tag, tag):
            return known.caller
        return None

    def authenticate(self, presented: str | None) -> Caller | None:
        """The caller ``presented`` belongs to, or ``None``. A remembered key costs one HMAC;
        a new one one argon2 check (call from a thread, not the event loop)."""
        known = self.remembered(presented)
        if known is not None or not presented or len(presented) > MAX_KEY_LENGTH:
            return known
        key_id = key_id_of(presented)
        entry = self._hashed.get(key_id) if key_id else None
        if entry is None or key_id is None:
            return None
        with _VERIFYING:
            try:
                HASHER.verify(entry.hash, presented)
            except (VerificationError, InvalidHashError):
                return None
        caller = Caller(Principal(name=entry.name, role=entry.role, party=entry.party), key_id)
        tag = self._tag(presented)
        with self._lock:
            self._verified[tag] = _Verified(tag, caller)
        return caller

    def lookup(self, presented: str | None) -> Principal | None:
        found = self.authenticate(presented)
        return None if found is None else found.principal


def read_key_file(path: Path) -> KeyFile:
    """The parsed key file (YAML or JSON); an empty or missing list is an empty file."""
    if not path.exists():
        return KeyFile(keys=[])
    data = yaml.safe_load(path.read_text()) or {"keys": []}
    parsed = KeyFile.model_validate(data)
    seen: set[str] = set()
    for entry in parsed.keys:
        if entry.id in seen:
            raise ValueError(f"{path}: key id {entry.id} is listed twice")
        seen.add(entry.id)
    return parsed


def load_keys(path: Path | None) -> KeyRing:
    """The keys in ``path`` (see the module doc), or the demo keys for ``None``."""
    if path is None:
        return KeyRing(DEMO_KEYS, demo=True)
    if not path.exists():
        raise ValueError(f"the key file {path} does not exist")
    return KeyRing(hashed=read_key_file(path).keys)


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def demo_keys_allowed(host: str) -> bool:
    """The public demo keys are refused unless the server binds a loopback address."""
    return is_loopback(host)
