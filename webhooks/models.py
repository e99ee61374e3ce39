"""Request and response bodies of ``/api/v1/webhooks``.

A secret is returned exactly twice in its life: when the subscription is created and when it
is rotated. Every other response describes secrets by age and expiry only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from tradelane.contracts.webhooks import (
    EventTypePattern,
    SubscriptionStatus,
    WebhookDelivery,
    WebhookSubscription,
)

Url = Annotated[
    str,
    Field(
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        max_length=2000,
        examples=["https://bank.example/tradelane/hooks"],
    ),
]
Subjects = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=128)]], Field(max_length=500)
]
EventTypes = Annotated[list[EventTypePattern], Field(max_length=50)]


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url
    event_types: EventTypes = Field(
        default=[], description="Types or `prefix.*` patterns; empty: every visible type"
    )
    subjects: Subjects = Field(default=[], description="Facility, policy or shipment ids")
    camt054: bool = False
    description: Annotated[str, Field(max_length=500)] = ""


class SubscriptionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    event_types: EventTypes | None = None
    subjects: Subjects | None = None
    camt054: bool | None = None
    description: Annotated[str | None, Field(max_length=500)] = None
    status: SubscriptionStatus | None = Field(
        default=None, description="`active` re-enables a subscription the worker disabled"
    )


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_s: Annotated[int, Field(ge=0, le=7 * 24 * 3600)] = 24 * 3600


class SecretOut(BaseModel):
    created_at: datetime
    expires_at: datetime | None


class SubscriptionOut(BaseModel):
    subscription_id: str
    owner_role: str
    owner_party: str | None
    url: str
    event_types: list[str]
    subjects: list[str]
    camt054: bool
    status: SubscriptionStatus
    disabled_reason: str | None
    description: str
    secrets: list[SecretOut]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, sub: WebhookSubscription) -> SubscriptionOut:
        return cls(
            **sub.model_dump(
                include={
                    "subscription_id",
                    "owner_party",
                    "url",
                    "event_types",
                    "subjects",
                    "camt054",
                    "status",
                    "disabled_reason",
                    "description",
                    "created_at",
                    "updated_at",
                }
            ),
            owner_role=sub.owner_role.value,
            secrets=[
                SecretOut(created_at=s.created_at, expires_at=s.expires_at) for s in sub.secrets
            ],
        )


class SubscriptionWithSecret(SubscriptionOut):
    secret: str = Field(description="The new signing secret (whsec_…); shown only this once")


class SubscriptionList(BaseModel):
    items: list[SubscriptionOut]


class DeliveryList(BaseModel):
    items: list[WebhookDelivery]
