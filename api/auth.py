"""API keys → principals with a role, and where the keys come from.

Three roles: ``operator`` sees everything; ``bank`` (with its bank id as ``party``) sees only
its facilities, the shipments pledged to them and their events; ``insurer`` (with its insurer
id) sees only its policies and their claims. Keys are read from the YAML or JSON file named by
``TRADELANE_API_KEYS_FILE``::

    keys:
      - {key: "s3cret-ops", role: operator, name: "ops desk"}
      - {key: "s3cret-bank", role: bank, party: "demo-bank"}

Without a file the demo key set (:data:`DEMO_KEYS`) applies: fine on loopback for the demo,
never for anything exposed. Keys are compared in constant time.
"""

from __future__ import annotations

import hmac
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator


class Role(StrEnum):
    OPERATOR = "operator"
    BANK = "bank"
    INSURER = "insurer"


class Principal(BaseModel):
    """Who is calling: a name for logs, a role, and the party (bank or insurer id) it acts for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)]
    role: Role
    party: Annotated[str | None, Field(max_length=64)] = None

    @model_validator(mode="after")
    def _party_for_bank_and_insurer(self) -> Principal:
        if self.role is not Role.OPERATOR and not self.party:
            raise ValueError(f"a {self.role.value} key needs a party (bank or insurer id)")
        return self


class KeyEntry(Principal):
    key: Annotated[str, Field(min_length=8, max_length=256)]


class KeyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: list[KeyEntry]


DEMO_KEYS: dict[str, Principal] = {
    "demo-operator-key": Principal(name="demo operator", role=Role.OPERATOR),
    "demo-bank-key": Principal(name="demo bank", role=Role.BANK, party="demo-bank"),
    "demo-insurer-key": Principal(name="demo insurer", role=Role.INSURER, party="demo-insurer"),
}
"""Keys that work when no key file is configured: one per role, for the demo parties."""


class KeyRing:
    """The configured keys; :meth:`lookup` maps a presented key to its principal."""

    def __init__(self, keys: dict[str, Principal]) -> None:
        self._keys = [(key.encode(), principal) for key, principal in keys.items()]

    def lookup(self, presented: str | None) -> Principal | None:
        if not presented:
            return None
        raw = presented.encode()
        found = None
        for key, principal in self._keys:  # no early exit: timing says nothing about which key
            if hmac.compare_digest(key, raw):
                found = principal
        return found


def load_keys(path: Path | None) -> KeyRing:
    """The keys in ``path`` (YAML or JSON, see the module doc), or the demo keys for ``None``."""
    if path is None:
        return KeyRing(DEMO_KEYS)
    parsed = KeyFile.model_validate(yaml.safe_load(path.read_text()))
    keys: dict[str, Principal] = {}
    for entry in parsed.keys:
        if entry.key in keys:
            raise ValueError(f"{path}: a key is listed twice (names {entry.name!r})")
        keys[entry.key] = Principal(name=entry.name, role=entry.role, party=entry.party)
    return KeyRing(keys)
