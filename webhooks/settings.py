"""Settings of the webhook worker, read from ``TRADELANE_WEBHOOKS_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from webhooks.address import AddressPolicy
from webhooks.retry import Breaker, RetryPolicy


class WebhookSettings(BaseSettings):
    """How the worker retries, how long it waits, and how much it holds in memory."""

    model_config = SettingsConfigDict(env_prefix="TRADELANE_WEBHOOKS_", frozen=True, extra="ignore")

    group_id: Annotated[str, Field(min_length=1)] = "tradelane-webhooks"
    start: Annotated[
        Literal["latest", "earliest"],
        Field(description="Where a new consumer group starts (older events: replay)"),
    ] = "latest"
    retry_base_s: Annotated[float, Field(gt=0)] = 5.0
    retry_cap_s: Annotated[float, Field(gt=0)] = 3600.0
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 14
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    concurrency: Annotated[int, Field(ge=1, le=1000)] = 32
    max_pending: Annotated[
        int, Field(ge=1, description="Undelivered deliveries held before reading pauses")
    ] = 10_000

    allow_hosts: Annotated[
        str,
        Field(
            description="Comma-separated host names, addresses or CIDRs that may receive "
            "webhooks although not public (and over plain http): dev and test receivers only"
        ),
    ] = ""
    secret_keys: Annotated[
        SecretStr | None,
        Field(
            description="Comma-separated Fernet keys encrypting subscription secrets at rest; "
            "the first encrypts, all decrypt (rotation)"
        ),
    ] = None
    key_file: Annotated[
        Path | None,
        Field(
            description="Where a local setup keeps its generated key when SECRET_KEYS is unset "
            "(default TRADELANE_HOME/secrets/webhooks.keys)"
        ),
    ] = None
    max_subscriptions_per_tenant: Annotated[
        int, Field(ge=1, description="Subscriptions one bank, insurer or the operators may hold")
    ] = 20
    max_pending_per_tenant: Annotated[
        int,
        Field(
            ge=1,
            description="Undelivered deliveries one tenant may have queued; past it the "
            "subscription holding most is disabled",
        ),
    ] = 1000
    max_in_flight_per_subscription: Annotated[
        int, Field(ge=1, description="Requests in flight at once to one subscription")
    ] = 4
    breaker_failures: Annotated[
        int,
        Field(ge=1, description="Consecutive failed attempts that pause a subscription"),
    ] = 5
    breaker_pause_s: Annotated[
        float,
        Field(gt=0, description="First pause of a failing subscription, doubled up to RETRY_CAP_S"),
    ] = 30.0

    tenant_views: Annotated[
        bool,
        Field(description="Also copy each event to its bank's or insurer's tenants.* topic"),
    ] = False

    @field_validator("allow_hosts")
    @classmethod
    def _allow_list_parses(cls, value: str) -> str:
        AddressPolicy.parse(value.split(","))
        return value

    @model_validator(mode="after")
    def _cap_not_below_base(self) -> WebhookSettings:
        if self.retry_cap_s < self.retry_base_s:
            raise ValueError("TRADELANE_WEBHOOKS_RETRY_CAP_S must be >= RETRY_BASE_S")
        return self

    def policy(self) -> RetryPolicy:
        return RetryPolicy(self.retry_base_s, self.retry_cap_s, self.max_attempts)

    def address_policy(self) -> AddressPolicy:
        return AddressPolicy.parse(self.allow_hosts.split(","))

    def breaker(self) -> Breaker:
        return Breaker(
            self.breaker_failures, self.breaker_pause_s, max(self.retry_cap_s, self.breaker_pause_s)
        )
