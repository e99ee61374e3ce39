"""Who may receive an event, and which subscriptions want it: pure, from the registries.

The webhook worker follows ``finance.facilities`` and ``insurance.policies`` whole and folds
them into a :class:`Directory`; :func:`recipients` then applies the same tenancy rules as the
REST API and the live feed (``api/access.py``): a bank receives its facilities' finance events
and the shipment events of shipments pledged to its facilities; an insurer receives its
policies' claims; an operator receives everything. Filters a subscription declares (event
types, subjects) only ever narrow that.

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
from tradelane.topics import FINANCE_EVENTS, INSURANCE_CLAIMS, SHIPMENTS_EVENTS

DELIVERED_TOPICS = (FINANCE_EVENTS.name, INSURANCE_CLAIMS.name, SHIPMENTS_EVENTS.name)


@dataclass(slots=True)
class Directory:
    """Facility → bank, shipment → banks (through pledges), policy → insurer."""

    facility_bank: dict[str, str] = field(default_factory=dict)
    facility_shipments: dict[str, frozenset[str]] = field(default_factory=dict)
    policy_insurer: dict[str, str] = field(default_factory=dict)

    def add_facility(self, facility: Facility) -> None:
        self.facility_bank[facility.facility_id] = facility.bank_id
        self.facility_shipments[facility.facility_id] = frozenset(facility.pledged_shipments)

    def add_policy(self, policy: Policy) -> None:
        self.policy_insurer[policy.policy_id] = policy.insurer_id

    def banks_of_shipment(self, shipment_id: str) -> set[str]:
        return {
            self.facility_bank[facility_id]
            for facility_id, shipments in self.facility_shipments.items()
            if shipment_id in shipments and facility_id in self.facility_bank
        }

    def parties(self, topic: str, subject: str) -> tuple[SubscriberRole, set[str]]:
        """The role and parties (besides operators) allowed to see an event of ``topic`` about
        ``subject`` (facility, policy or shipment id)."""
        if topic == FINANCE_EVENTS.name:
            bank = self.facility_bank.get(subject)
            return SubscriberRole.BANK, {bank} if bank else set()
        if topic == INSURANCE_CLAIMS.name:
            insurer = self.policy_insurer.get(subject)
            return SubscriberRole.INSURER, {insurer} if insurer else set()
        if topic == SHIPMENTS_EVENTS.name:
            return SubscriberRole.BANK, self.banks_of_shipment(subject)
        return SubscriberRole.OPERATOR, set()


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
    role, parties = directory.parties(topic, subject)
    return subscription.owner_role is role and subscription.owner_party in parties


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
