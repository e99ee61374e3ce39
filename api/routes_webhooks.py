"""``/api/v1/webhooks``: a tenant creates and manages its own webhook subscriptions.

The owner of a subscription is the key that created it (role and party); a bank, insurer or
borrower sees and changes only its own subscriptions, an operator all of them. What a
subscription can receive is decided at delivery time by the same tenancy rules as the rest of
the API (:mod:`tradelane.tenancy`), so a filter naming another party's facility gets nothing.

A URL must pass the destination policy (:mod:`webhooks.address`: public addresses, https)
when it is set, and again at every delivery; a tenant holds at most
``TRADELANE_WEBHOOKS_MAX_SUBSCRIPTIONS_PER_TENANT`` subscriptions.
"""

from __future__ import annotations

import secrets as _random
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, HTTPException, Response
from pydantic import ValidationError

from api.auth import Principal, Role
from api.deps import PrincipalDep, StateDep
from api.problems import problem_responses
from api.service import ApiState
from tradelane.contracts.webhooks import SubscriberRole, WebhookSubscription
from webhooks.address import DestinationRefusedError
from webhooks.lifecycle import changed, created, rotated
from webhooks.models import (
    DeliveryList,
    RotateIn,
    SubscriptionIn,
    SubscriptionList,
    SubscriptionOut,
    SubscriptionPatch,
    SubscriptionWithSecret,
)
from webhooks.signing import new_secret
from webhooks.store import CapReachedError, SubscriptionStore

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])
ERRORS = problem_responses(400, 401, 404, 422, 503)
CREATE_ERRORS = problem_responses(400, 401, 404, 409, 422, 503)


def _store(api: ApiState) -> SubscriptionStore:
    if api.webhooks is None:
        raise HTTPException(503, "webhook subscriptions are not configured on this server")
    return api.webhooks


def _owns(principal: Principal, sub: WebhookSubscription) -> bool:
    if principal.role is Role.OPERATOR:
        return True
    return sub.owner_role.value == principal.role.value and sub.owner_party == principal.party


def _owned(api: ApiState, principal: Principal, subscription_id: str) -> WebhookSubscription:
    sub = _store(api).get(subscription_id)
    if sub is None or not _owns(principal, sub):
        raise HTTPException(404, f"no webhook subscription {subscription_id!r} for this key")
    return sub


def _now() -> datetime:
    return datetime.now(UTC)


async def _allowed(store: SubscriptionStore, url: str) -> None:
    try:
        await store.check_destination(url)
    except DestinationRefusedError as exc:
        raise HTTPException(422, f"url refused: {exc}") from exc


@router.post("", status_code=201, response_model=SubscriptionWithSecret, responses=CREATE_ERRORS)
async def create_subscription(
    body: SubscriptionIn, api: StateDep, principal: PrincipalDep
) -> SubscriptionWithSecret:
    """Subscribe a URL to the events this key may see; the answer holds the signing secret,
    shown only this once. 422 if the URL is not an allowed destination (public addresses over
    https), 409 if the tenant already holds its maximum of subscriptions."""
    store = _store(api)
    role = SubscriberRole(principal.role.value)
    try:
        store.check_cap(role, None if role is SubscriberRole.OPERATOR else principal.party)
    except CapReachedError as exc:
        raise HTTPException(409, str(exc)) from exc
    await _allowed(store, body.url)
    secret = new_secret()
    sub = created(
        "wh_" + _random.token_urlsafe(16),
        role,
        principal.party,
        secret,
        _now(),
        **body.model_dump(),
    )
    await store.save(sub)
    return SubscriptionWithSecret(**SubscriptionOut.of(sub).model_dump(), secret=secret)


@router.get("", response_model=SubscriptionList, responses=ERRORS)
def list_subscriptions(api: StateDep, principal: PrincipalDep) -> SubscriptionList:
    """This key's subscriptions (an operator's: all)."""
    subs = [s for s in _store(api).all() if _owns(principal, s)]
    return SubscriptionList(items=[SubscriptionOut.of(s) for s in subs])


@router.get("/{subscription_id}", response_model=SubscriptionOut, responses=ERRORS)
def get_subscription(
    subscription_id: str, api: StateDep, principal: PrincipalDep
) -> SubscriptionOut:
    return SubscriptionOut.of(_owned(api, principal, subscription_id))


@router.patch("/{subscription_id}", response_model=SubscriptionOut, responses=ERRORS)
async def update_subscription(
    subscription_id: str, body: SubscriptionPatch, api: StateDep, principal: PrincipalDep
) -> SubscriptionOut:
    """Change the URL, filters, description or status (``active`` re-enables a subscription
    disabled after its retry limit; replay what it missed with ``tradelane webhooks
    --replay``)."""
    sub = _owned(api, principal, subscription_id)
    if body.url is not None:
        await _allowed(_store(api), body.url)
    try:
        new = changed(sub, _now(), **body.model_dump(exclude_none=True))
    except ValidationError as exc:
        raise HTTPException(422, str(exc)) from exc
    await _store(api).save(new)
    return SubscriptionOut.of(new)


@router.delete("/{subscription_id}", status_code=204, responses=ERRORS)
async def delete_subscription(
    subscription_id: str, api: StateDep, principal: PrincipalDep
) -> Response:
    _owned(api, principal, subscription_id)
    await _store(api).remove(subscription_id)
    return Response(status_code=204)


@router.post(
    "/{subscription_id}/rotate-secret", response_model=SubscriptionWithSecret, responses=ERRORS
)
async def rotate_secret(
    subscription_id: str, body: RotateIn, api: StateDep, principal: PrincipalDep
) -> SubscriptionWithSecret:
    """A new signing secret; deliveries are signed with both the old and the new one for
    ``overlap_s`` seconds (default a day), so the receiver can switch without losing any."""
    sub = _owned(api, principal, subscription_id)
    secret = new_secret()
    new = rotated(sub, secret, _now(), timedelta(seconds=body.overlap_s))
    await _store(api).save(new)
    return SubscriptionWithSecret(**SubscriptionOut.of(new).model_dump(), secret=secret)


@router.get("/{subscription_id}/deliveries", response_model=DeliveryList, responses=ERRORS)
def list_deliveries(subscription_id: str, api: StateDep, principal: PrincipalDep) -> DeliveryList:
    """The delivery log: the latest attempts (up to 200), oldest first."""
    _owned(api, principal, subscription_id)
    return DeliveryList(items=_store(api).deliveries(subscription_id))
