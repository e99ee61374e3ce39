"""The parties' roles, written once for the API keys, webhook subscriptions and tenant views.

``operator`` runs the platform and sees everything; ``bank`` (party: its bank id) lends;
``insurer`` (party: its insurer id) insures cargo; ``borrower`` (party: the seller's id, the
``borrower_id`` of its facilities) is the seller whose goods are financed. What each may see is
:mod:`tradelane.tenancy`.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OPERATOR = "operator"
    BANK = "bank"
    INSURER = "insurer"
    BORROWER = "borrower"


PARTY_ROLES = (Role.BANK, Role.INSURER, Role.BORROWER)
"""Roles that act for one party and see only that party's things."""
