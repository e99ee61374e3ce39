"""Settings of the webhook worker, read from ``TRADELANE_WEBHOOKS_*`` environment variables."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.webhooks.retry import RetryPolicy


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

    tenant_views: Annotated[
        bool,
        Field(description="Also copy each event to its bank's or insurer's tenants.* topic"),
    ] = False

    @model_validator(mode="after")
    def _cap_not_below_base(self) -> WebhookSettings:
        if self.retry_cap_s < self.retry_base_s:
            raise ValueError("TRADELANE_WEBHOOKS_RETRY_CAP_S must be >= RETRY_BASE_S")
        return self

    def policy(self) -> RetryPolicy:
        return RetryPolicy(self.retry_base_s, self.retry_cap_s, self.max_attempts)
