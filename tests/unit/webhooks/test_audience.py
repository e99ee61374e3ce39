"""Tenancy of webhook deliveries: the same rules as the API, one case a line."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.webhooks.audience import Directory, recipients, type_matches
from tradelane.contracts import Facility, Money
from tradelane.contracts.webhooks import (
    SubscriberRole,
    SubscriptionStatus,
    WebhookSecret,
    WebhookSubscription,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SECRET = WebhookSecret(secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", created_at=T0)


def subscription(
    sid: str,
    role: SubscriberRole,
    party: str | None,
    types: tuple[str, ...] = (),
    subjects: tuple[str, ...] = (),
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE,
) -> WebhookSubscription:
    return WebhookSubscription(
        subscription_id=f"wh_{sid}",
        owner_role=role,
        owner_party=party,
        url="https://example.test/hook",
        event_types=list(types),
        subjects=list(subjects),
        secrets=[SECRET],
        status=status,
        created_at=T0,
        updated_at=T0,
    )


def directory() -> Directory:
    d = Directory()
    usd = Money(amount=Decimal(1000), currency="USD")
    for fid, bank, shipments in (("fac-a", "bank-a", ["shp-1"]), ("fac-b", "bank-b", ["shp-2"])):
        d.add_facility(
            Facility(
                facility_id=fid,
                bank_id=bank,
                borrower_id="b",
                limit=usd,
                advance_rates={},
                concentration_limit=Decimal(1),
                pledged_shipments=shipments,
            )
        )
    d.policy_insurer["pol-1"] = "ins-a"
    return d


SUBS = [
    subscription("opsxxxxx", SubscriberRole.OPERATOR, None),
    subscription("bankaxxx", SubscriberRole.BANK, "bank-a"),
    subscription("bankbxxx", SubscriberRole.BANK, "bank-b"),
    subscription("insaxxxx", SubscriberRole.INSURER, "ins-a"),
    subscription("bankclms", SubscriberRole.BANK, "bank-a", ("tradelane.claim.*",)),
    subscription("bankdoff", SubscriberRole.BANK, "bank-a", status=SubscriptionStatus.DISABLED),
    subscription("bankesub", SubscriberRole.BANK, "bank-a", subjects=("fac-x",)),
]


@pytest.mark.parametrize(
    ("topic", "event_type", "subject", "expected"),
    [
        ("finance.events", "tradelane.finance.drawdown_executed.v1", "fac-a", {"ops", "banka"}),
        ("finance.events", "tradelane.finance.drawdown_executed.v1", "fac-b", {"ops", "bankb"}),
        ("finance.events", "tradelane.finance.drawdown_executed.v1", "fac-?", {"ops"}),
        ("insurance.claims", "tradelane.claim.claim_paid.v1", "pol-1", {"ops", "insa"}),
        ("insurance.claims", "tradelane.claim.claim_paid.v1", "pol-2", {"ops"}),
        ("shipments.events", "tradelane.shipment.milestone.v1", "shp-1", {"ops", "banka"}),
        ("shipments.events", "tradelane.shipment.milestone.v1", "shp-2", {"ops", "bankb"}),
        ("shipments.events", "tradelane.shipment.milestone.v1", "shp-9", {"ops"}),
    ],
)
def test_recipients(topic: str, event_type: str, subject: str, expected: set[str]) -> None:
    found = recipients(directory(), SUBS, topic, event_type, subject)
    assert {s.subscription_id[3:8].rstrip("x") for s in found} == expected


def test_type_patterns() -> None:
    assert type_matches([], "tradelane.finance.x.v1")
    assert type_matches(["tradelane.finance.*"], "tradelane.finance.x.v1")
    assert not type_matches(["tradelane.finance.*"], "tradelane.claim.x.v1")
    assert type_matches(["tradelane.claim.claim_paid.v1"], "tradelane.claim.claim_paid.v1")
    assert not type_matches(["tradelane.claim.claim_paid.v1"], "tradelane.claim.claim_paid.v2")


@given(
    owners=st.lists(st.sampled_from(["bank-a", "bank-b", "bank-c"]), min_size=1, max_size=6),
    insurers=st.lists(st.sampled_from(["ins-a", "ins-b"]), min_size=1, max_size=4),
    topic=st.sampled_from(["finance.events", "insurance.claims", "shipments.events"]),
    subject=st.sampled_from(["fac-0", "fac-1", "pol-0", "pol-1", "shp-0", "shp-9"]),
)
def test_a_tenant_never_receives_what_it_may_not_see(
    owners: list[str], insurers: list[str], topic: str, subject: str
) -> None:
    """Whatever the ownership, every non-operator recipient is a party of the event."""
    d = Directory()
    for n, bank in enumerate(owners):
        d.facility_bank[f"fac-{n}"] = bank
        d.facility_shipments[f"fac-{n}"] = frozenset({f"shp-{n}"})
    for n, insurer in enumerate(insurers):
        d.policy_insurer[f"pol-{n}"] = insurer
    subs = [
        subscription(f"{party.replace('-', '')}xxxx", role, party)
        for role, parties in (
            (SubscriberRole.BANK, {"bank-a", "bank-b", "bank-c"}),
            (SubscriberRole.INSURER, {"ins-a", "ins-b"}),
        )
        for party in sorted(parties)
    ]
    found = recipients(d, subs, topic, "tradelane.x.v1", subject)
    role, parties = d.parties(topic, subject)
    for sub in found:
        assert sub.owner_role is role
        assert sub.owner_party in parties
    assert {s.owner_party for s in found} == parties
