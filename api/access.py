"""Who may see what: the tenancy rules (:mod:`tradelane.tenancy`) applied to the read model.

Pure functions of (principal, read model, thing), used alike by REST handlers and by the live
feed, so the two can never disagree; the webhook worker applies the same rules to its own
directory. Anything a principal may not see is reported as not found by the handlers, so ids
of other parties' facilities or claims do not leak.
"""

from __future__ import annotations

from api.auth import Principal
from api.feed_item import FeedItem, ItemType
from api.projection import ReadModel
from tradelane.roles import Role
from tradelane.tenancy import allowed, claim_tenants, facility_tenants, shipment_tenants


def can_see_shipment(principal: Principal, model: ReadModel, shipment_id: str) -> bool:
    """Operators: all. Banks and borrowers: shipments pledged to one of their facilities.
    Insurers: none (they see their policies and claims, which carry the shipment id and the
    evidence)."""
    return allowed(principal.tenant, shipment_tenants(model, shipment_id))


def can_see_facility(principal: Principal, model: ReadModel, facility_id: str) -> bool:
    """Operators: all. A bank or a borrower: the facilities it lends on or borrows from."""
    return allowed(principal.tenant, facility_tenants(model, facility_id))


def can_see_claim(
    principal: Principal, model: ReadModel, policy_id: str, shipment_id: str | None = None
) -> bool:
    """Operators: all. Insurers: their policies' claims. Borrowers: claims on their pledged
    goods."""
    return allowed(principal.tenant, claim_tenants(model, policy_id, shipment_id))


def can_see_policy(principal: Principal, model: ReadModel, policy_id: str) -> bool:
    """The policy itself (its terms): operators and its insurer."""
    tenants = {t for t in claim_tenants(model, policy_id) if t.role is Role.INSURER}
    return allowed(principal.tenant, tenants)


def can_see_item(principal: Principal, model: ReadModel, item: FeedItem) -> bool:
    """Whether a live-feed item may reach ``principal``."""
    if principal.tenant is None:
        return True
    if item.type is ItemType.FINANCE:
        return item.facility_id is not None and can_see_facility(principal, model, item.facility_id)
    if item.type is ItemType.CLAIM:
        return item.policy_id is not None and can_see_claim(
            principal, model, item.policy_id, item.shipment_id
        )
    return item.shipment_id is not None and can_see_shipment(principal, model, item.shipment_id)
