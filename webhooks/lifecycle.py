"""A subscription's life as pure functions: created, changed, rotated, disabled.

Each takes the current subscription and the time (and a fresh secret where one is needed) and
returns the next version; the API and the worker do the I/O. Secrets whose overlap ended are
pruned on every change, and :func:`active_secrets` is what the worker signs with.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tradelane.contracts.webhooks import (
    SubscriberRole,
    SubscriptionStatus,
    WebhookSecret,
    WebhookSubscription,
)


def created(
    subscription_id: str,
    role: SubscriberRole,
    party: str | None,
    secret: str,
    now: datetime,
    **fields: object,
) -> WebhookSubscription:
    return WebhookSubscription.model_validate(
        {
            **fields,
            "subscription_id": subscription_id,
            "owner_role": role,
            "owner_party": None if role is SubscriberRole.OPERATOR else party,
            "secrets": [WebhookSecret(secret=secret, created_at=now)],
            "created_at": now,
            "updated_at": now,
        }
    )


def active_secrets(sub: WebhookSubscription, now: datetime) -> list[str]:
    """Secrets to sign with at ``now``: the current one, and the previous one while its
    rotation overlap lasts."""
    return [s.secret for s in sub.secrets if s.expires_at is None or s.expires_at > now]


def changed(sub: WebhookSubscription, now: datetime, **fields: object) -> WebhookSubscription:
    """``sub`` with ``fields`` replaced (validated again), expired secrets pruned."""
    data = sub.model_dump()
    data.update(fields)
    if fields.get("status") == SubscriptionStatus.ACTIVE:
        data["disabled_reason"] = None
    data["secrets"] = [
        s for s in sub.secrets if s.expires_at is None or s.expires_at > now
    ] or sub.secrets[-1:]
    data["updated_at"] = max(now, sub.updated_at)
    return WebhookSubscription.model_validate(data)


def rotated(
    sub: WebhookSubscription, new_secret: str, now: datetime, overlap: timedelta
) -> WebhookSubscription:
    """A new current secret; the one it replaces stays valid for ``overlap`` (signatures carry
    both), older ones are dropped."""
    current = next((s for s in reversed(sub.secrets) if s.expires_at is None), sub.secrets[-1])
    previous = [current.model_copy(update={"expires_at": now + overlap})] if overlap else []
    data = sub.model_dump()
    data["secrets"] = [*previous, WebhookSecret(secret=new_secret, created_at=now)]
    data["updated_at"] = max(now, sub.updated_at)
    return WebhookSubscription.model_validate(data)


def disabled(sub: WebhookSubscription, reason: str, now: datetime) -> WebhookSubscription:
    return changed(sub, now, status=SubscriptionStatus.DISABLED, disabled_reason=reason[:500])
