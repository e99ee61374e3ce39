"""Who may receive an event, and which subscriptions want it: pure, from the registries.

The webhook worker follows ``finance.facilities`` and ``insurance.policies`` whole and folds
them into a :class:`Directory`; :func:`recipients` then applies the tenancy rules of
:mod:`tradelane.tenancy`, the same the REST API and the live feed apply (``api/access.py``):
a bank and a borrower receive their facilities' finance events and the shipment events of
the shipments pledged to those facilities; an insurer receives its policies' claims, and a
borrower the claims on its pledged goods; an operator receives everything. Filters a
subscription declares (event types, subjects) only ever narrow that.

Until a facility or policy is known, its events reach operators only: the worker reads the
registries to their end before it delivers anything, so this matters only for a registry
record that arrives after the event it governs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tradelane.contracts import Facility, Policy
from tradelane.contracts.webhooks import (
    SubscriberRole,
    SubscriptionStatus,
    WebhookSubscription,
)
from tradelane.tenancy import Tenant, claim_tenants, facility_tenants, shipment_tenants
from tradelane.topics import FINANCE_EVENTS, INSURANCE_CLAIMS, SHIPMENTS_EVENTS

DELIVERED_TOPICS = (FINANCE_EVENTS.name, INSURANCE_CLAIMS.name, SHIPMENTS_EVENTS.name)


@dataclass(slots=True)
class Directory:
    """Facility → (bank, borrower), shipment → facilities (through pledges), policy →
    (insurer, shipment): the :class:`tradelane.tenancy.Parties` of the webhook worker."""

    facilities: dict[str, tuple[str, str]] = field(default_factory=dict)
    pledges: dict[str, set[str]] = field(default_factory=dict)
    policies: dict[str, tuple[str, str]] = field(default_factory=dict)

    def add_facility(self, facility: Facility) -> None:
        for shipments in self.pledges.values():
            shipments.discard(facility.facility_id)
        self.facilities[facility.facility_id] = (facility.bank_id, facility.borrower_id)
        for shipment_id in facility.pledged_shipments:
            self.pledges.setdefault(shipment_id, set()).add(facility.facility_id)

    def add_policy(self, policy: Policy) -> None:
        self.policies[policy.policy_id] = (policy.insurer_id, policy.shipment_id)

    def facility_owners(self, facility_id: str) -> tuple[str, str] | None:
        return self.facilities.get(facility_id)

    def facilities_of(self, shipment_id: str) -> Iterable[str]:
        return self.pledges.get(shipment_id, ())

    def policy_parties(self, policy_id: str) -> tuple[str, str] | None:
        return self.policies.get(policy_id)

    def tenants(self, topic: str, subject: str) -> set[Tenant]:
        """The parties (besides operators) allowed to see an event of ``topic`` about
        ``subject`` (facility, policy or shipment id)."""
        if topic == FINANCE_EVENTS.name:
            return facility_tenants(self, subject)
        if topic == INSURANCE_CLAIMS.name:
            return claim_tenants(self, subject)
        if topic == SHIPMENTS_EVENTS.name:
            return shipment_tenants(self, subject)
        return set()


def type_matches(patterns: Iterable[str], event_type: str) -> bool:
    """An empty list matches every type; ``a.b.*`` matches every type under ``a.b.``."""
    patterns = list(patterns)
    if not patterns:
        return True
    return any(
        event_type.startswith(p[:-1]) if p.endswith(".*") else event_type == p for p in patterns
    )


def may_see(
    directory: Directory, subscription: WebhookSubscription, topic: str, subject: str
) -> bool:
    """Tenancy alone: whether the subscription's owner may see this event at all."""
    if subscription.owner_role is SubscriberRole.OPERATOR:
        return True
    if subscription.owner_party is None:
        return False
    tenant = Tenant(subscription.owner_role, subscription.owner_party)
    return tenant in directory.tenants(topic, subject)


def wants(
    directory: Directory,
    subscription: WebhookSubscription,
    topic: str,
    event_type: str,
    subject: str,
) -> bool:
    """Tenancy, then the subscription's own filters. Disabled subscriptions want nothing."""
    return (
        subscription.status is SubscriptionStatus.ACTIVE
        and may_see(directory, subscription, topic, subject)
        and type_matches(subscription.event_types, event_type)
        and (not subscription.subjects or subject in subscription.subjects)
    )


def recipients(
    directory: Directory,
    subscriptions: Iterable[WebhookSubscription],
    topic: str,
    event_type: str,
    subject: str,
) -> list[WebhookSubscription]:
    """Every subscription that receives this event, ordered by id (deterministic)."""
    found = [s for s in subscriptions if wants(directory, s, topic, event_type, subject)]
    return sorted(found, key=lambda s: s.subscription_id)
