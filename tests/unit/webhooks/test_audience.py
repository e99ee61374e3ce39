"""Tenancy of webhook deliveries: the same rules as the API, one case a line."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradelane.contracts import Facility, Money
from tradelane.contracts.webhooks import (
    SubscriberRole,
    SubscriptionStatus,
    WebhookSecret,
    WebhookSubscription,
)
from tradelane.tenancy import Tenant
from webhooks.audience import Directory, recipients, type_matches

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
                borrower_id=f"seller-{fid[-1]}",
                limit=usd,
                advance_rates={},
                concentration_limit=Decimal(1),
                pledged_shipments=shipments,
            )
        )
    d.policies["pol-1"] = ("ins-a", "shp-1")
    return d


SUBS = [
    subscription("opsxxxxx", SubscriberRole.OPERATOR, None),
    subscription("bankaxxx", SubscriberRole.BANK, "bank-a"),
    subscription("bankbxxx", SubscriberRole.BANK, "bank-b"),
    subscription("insaxxxx", SubscriberRole.INSURER, "ins-a"),
    subscription("sellaxxx", SubscriberRole.BORROWER, "seller-a"),
    subscription("sellbxxx", SubscriberRole.BORROWER, "seller-b"),
    subscription("fakeaxxx", SubscriberRole.BORROWER, "bank-a"),
    subscription("bankclms", SubscriberRole.BANK, "bank-a", ("tradelane.claim.*",)),
    subscription("bankdoff", SubscriberRole.BANK, "bank-a", status=SubscriptionStatus.DISABLED),
    subscription("bankesub", SubscriberRole.BANK, "bank-a", subjects=("fac-x",)),
]


@pytest.mark.parametrize(
    ("topic", "event_type", "subject", "expected"),
    [
        (
            "finance.events",
            "tradelane.finance.drawdown_executed.v1",
            "fac-a",
            {"ops", "banka", "sella"},
        ),
        (
            "finance.events",
            "tradelane.finance.drawdown_executed.v1",
            "fac-b",
            {"ops", "bankb", "sellb"},
        ),
        ("finance.events", "tradelane.finance.drawdown_executed.v1", "fac-?", {"ops"}),
        ("insurance.claims", "tradelane.claim.claim_paid.v1", "pol-1", {"ops", "insa", "sella"}),
        ("insurance.claims", "tradelane.claim.claim_paid.v1", "pol-2", {"ops"}),
        ("shipments.events", "tradelane.shipment.milestone.v1", "shp-1", {"ops", "banka", "sella"}),
        ("shipments.events", "tradelane.shipment.milestone.v1", "shp-2", {"ops", "bankb", "sellb"}),
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
        d.facilities[f"fac-{n}"] = (bank, f"seller-{bank[-1]}")
        d.pledges[f"shp-{n}"] = {f"fac-{n}"}
    for n, insurer in enumerate(insurers):
        d.policies[f"pol-{n}"] = (insurer, f"shp-{n}")
    subs = [
        subscription(f"{party.replace('-', '')}xxxx", role, party)
        for role, parties in (
            (SubscriberRole.BANK, {"bank-a", "bank-b", "bank-c"}),
            (SubscriberRole.INSURER, {"ins-a", "ins-b"}),
            (SubscriberRole.BORROWER, {"seller-a", "seller-b", "seller-c", "bank-a"}),
        )
        for party in sorted(parties)
    ]
    found = recipients(d, subs, topic, "tradelane.x.v1", subject)
    tenants = d.tenants(topic, subject)
    for sub in found:
        assert sub.owner_party is not None
        assert Tenant(sub.owner_role, sub.owner_party) in tenants
    assert {Tenant(s.owner_role, s.owner_party or "") for s in found} == tenants
