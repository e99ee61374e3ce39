"""Who may see what, as pure rules over a directory of the parties' registries.

The REST API and live feed (``api/access.py``, over the read model) and the webhook worker
(``webhooks/audience.py``, over its own directory) ask the same questions of different
stores, so the rules live here once and each store answers :class:`Parties`:

* an **operator** sees everything;
* a **bank** sees its facilities (``Facility.bank_id``), the shipments pledged to them and
  their events;
* a **borrower** sees its facilities (``Facility.borrower_id``): their ledger, calendar and
  events, the shipments pledged to them, and the claims on those shipments (paid to its lender
  when the policy names the lender as loss payee);
* an **insurer** sees its policies and their claims, and no shipment or facility.

Anything not known yet (a facility record that has not arrived) is visible to operators only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

from tradelane.contracts.registries import Facility
from tradelane.contracts.seller import Requester
from tradelane.roles import Role


@dataclass(frozen=True, slots=True)
class Tenant:
    """A party acting in a role: ``(bank, demo-bank)``, ``(borrower, acme-exports)``."""

    role: Role
    party: str


class Parties(Protocol):
    """What the rules need to know of the registries (facilities, pledges, policies)."""

    def facility_owners(self, facility_id: str) -> tuple[str, str] | None:
        """(bank id, borrower id) of a known facility."""
        ...

    def facilities_of(self, shipment_id: str) -> Iterable[str]:
        """Facilities that hold the shipment as collateral."""
        ...

    def policy_parties(self, policy_id: str) -> tuple[str, str] | None:
        """(insurer id, insured shipment id) of a known policy."""
        ...


def facility_tenants(parties: Parties, facility_id: str) -> set[Tenant]:
    owners = parties.facility_owners(facility_id)
    if owners is None:
        return set()
    return {Tenant(Role.BANK, owners[0]), Tenant(Role.BORROWER, owners[1])}


def shipment_tenants(parties: Parties, shipment_id: str) -> set[Tenant]:
    """The banks and borrowers of every facility the shipment is pledged to."""
    out: set[Tenant] = set()
    for facility_id in parties.facilities_of(shipment_id):
        out |= facility_tenants(parties, facility_id)
    return out


def claim_tenants(parties: Parties, policy_id: str, shipment_id: str | None = None) -> set[Tenant]:
    """The policy's insurer, and the borrowers whose pledged goods the claim is about."""
    found = parties.policy_parties(policy_id)
    out: set[Tenant] = set()
    if found is not None:
        out.add(Tenant(Role.INSURER, found[0]))
        shipment_id = shipment_id or found[1]
    if shipment_id:
        out |= {t for t in shipment_tenants(parties, shipment_id) if t.role is Role.BORROWER}
    return out


def allowed(tenant: Tenant | None, tenants: set[Tenant]) -> bool:
    """Whether ``tenant`` (``None``: an operator) is among ``tenants``."""
    return tenant is None or tenant.role is Role.OPERATOR or tenant in tenants


def acts_for(terms: Facility | None, by: Requester, role: Literal["borrower", "bank"]) -> bool:
    """Whether a request's requester may act as the facility's ``role`` (its borrower or its
    bank, as the terms name them); an operator may act for either. What the API checked is
    checked again by the engine with this."""
    if by.role == "operator":
        return True
    if terms is None or by.role != role:
        return False
    return by.party == (terms.borrower_id if role == "borrower" else terms.bank_id)
