"""Webhook subscriptions (``webhooks.subscriptions``, compacted) and their delivery log
(``webhooks.deliveries``).

A subscription belongs to the tenant that created it: ``owner_role`` and ``owner_party`` are
taken from the API key at creation, never from the request body, and decide which events the
subscription can ever receive (a bank: its facilities' events and its pledged shipments'
events; an insurer: its policies' claims; an operator: everything). Deleting a subscription
writes a tombstone (a null value) under its id.

Secrets are stored because the delivery worker signs with them; the topic must be readable by
the API and the webhook worker only (docs/webhooks.md).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from tradelane.contracts.base import Contract, UtcDatetime
from tradelane.contracts.registries import PartyId
from tradelane.roles import Role

SubscriptionId = Annotated[str, Field(pattern=r"^wh_[A-Za-z0-9_-]{8,64}$")]
WebhookSecretText = Annotated[
    str, Field(pattern=r"^whsec_[A-Za-z0-9+/]+={0,2}$", min_length=38, max_length=100)
]
EventTypePattern = Annotated[
    str,
    Field(
        pattern=r"^tradelane(\.[a-z][a-z0-9_]*)*(\.\*|\.v[1-9][0-9]*)$",
        description="An event type (tradelane.finance.drawdown_executed.v1) or a prefix "
        "ending in .* (tradelane.finance.*)",
    ),
]


SubscriberRole = Role
"""A subscription's owner role: the API roles (:mod:`tradelane.roles`)."""


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"
    """Stopped after the retry limit (or by its owner); re-enabled through the API."""


class WebhookSecret(Contract):
    """One signing secret; ``expires_at`` set on the old secret during a rotation overlap."""

    secret: WebhookSecretText
    created_at: UtcDatetime
    expires_at: UtcDatetime | None = None


class WebhookSubscription(Contract):
    """A tenant's webhook: where to POST which events, and the secrets to sign them with."""

    schema_version: Literal[1] = 1
    subscription_id: SubscriptionId
    owner_role: SubscriberRole
    owner_party: PartyId | None = None
    url: Annotated[str, Field(pattern=r"^https?://[^\s/]+(/[^\s]*)?$", max_length=2000)]
    event_types: Annotated[
        list[EventTypePattern],
        Field(max_length=50, description="Empty: every event type the owner may see"),
    ] = []
    subjects: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=128)]],
        Field(max_length=500, description="Empty: every subject; else only these ids"),
    ] = []
    camt054: Annotated[
        bool, Field(description="Also render drawdowns and claim payouts as camt.054 XML")
    ] = False
    secrets: Annotated[list[WebhookSecret], Field(min_length=1, max_length=2)]
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE
    disabled_reason: Annotated[str | None, Field(max_length=500)] = None
    description: Annotated[str, Field(max_length=500)] = ""
    created_at: UtcDatetime
    updated_at: UtcDatetime


class DeliveryOutcome(StrEnum):
    DELIVERED = "delivered"
    """The receiver answered 2xx."""
    FAILED = "failed"
    """This attempt failed; another is scheduled (``next_attempt_at``)."""
    GAVE_UP = "gave_up"
    """The retry limit was reached; the subscription was disabled and an alert raised."""


class WebhookDelivery(Contract):
    """One delivery attempt of one event to one subscription: the delivery log."""

    schema_version: Literal[1] = 1
    subscription_id: SubscriptionId
    delivery_id: Annotated[
        str, Field(min_length=1, max_length=128, description="webhook-id: event x subscription")
    ]
    event_id: Annotated[str, Field(min_length=1, max_length=128)]
    event_type: Annotated[str, Field(min_length=1, max_length=200)]
    subject: Annotated[str, Field(min_length=1, max_length=128)]
    topic: Annotated[str, Field(min_length=1, max_length=249)]
    partition: Annotated[int, Field(ge=0)]
    offset: Annotated[int, Field(ge=0)]
    attempt: Annotated[int, Field(ge=1)]
    outcome: DeliveryOutcome
    status_code: Annotated[int | None, Field(ge=100, le=599)] = None
    error: Annotated[str | None, Field(max_length=500)] = None
    at: Annotated[UtcDatetime, Field(description="When the attempt finished (wall clock)")]
    next_attempt_at: UtcDatetime | None = None
