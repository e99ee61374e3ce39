"""Who may see what: the role rules of :mod:`api.auth` applied to the read model.

Pure functions of (principal, read model, thing), used alike by REST handlers and by the live
feed, so the two can never disagree. Anything a principal may not see is reported as not
found by the handlers, so ids of other parties' facilities or claims do not leak.
"""

from __future__ import annotations

from api.auth import Principal, Role
from api.feed_item import FeedItem, ItemType
from api.projection import ReadModel


def can_see_shipment(principal: Principal, model: ReadModel, shipment_id: str) -> bool:
    """Operators: all. Banks: shipments pledged to one of their facilities. Insurers: none
    (they see their policies and claims, which carry the shipment id and the evidence)."""
    if principal.role is Role.OPERATOR:
        return True
    if principal.role is Role.BANK:
        return principal.party in model.banks_of(shipment_id)
    return False


def can_see_facility(principal: Principal, model: ReadModel, facility_id: str) -> bool:
    if principal.role is Role.OPERATOR:
        return True
    if principal.role is not Role.BANK:
        return False
    view = model.facilities.get(facility_id)
    return (
        view is not None
        and view.facility is not None
        and view.facility.bank_id == (principal.party)
    )


def can_see_policy(principal: Principal, model: ReadModel, policy_id: str) -> bool:
    if principal.role is Role.OPERATOR:
        return True
    return principal.role is Role.INSURER and model.insurer_of(policy_id) == principal.party


def can_see_item(principal: Principal, model: ReadModel, item: FeedItem) -> bool:
    """Whether a live-feed item may reach ``principal``."""
    if principal.role is Role.OPERATOR:
        return True
    if item.type is ItemType.FINANCE:
        return item.facility_id is not None and can_see_facility(principal, model, item.facility_id)
    if item.type is ItemType.CLAIM:
        return item.policy_id is not None and can_see_policy(principal, model, item.policy_id)
    return item.shipment_id is not None and can_see_shipment(principal, model, item.shipment_id)
