"""Settings of the HTTP service, read from ``TRADELANE_API_*`` environment variables.

They live here rather than in the kernel's settings module because only the API reads them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    """What the API needs beyond the broker settings the kernel already has."""

    model_config = SettingsConfigDict(env_prefix="TRADELANE_API_", frozen=True, extra="ignore")

    keys_file: Annotated[
        Path | None,
        Field(description="YAML/JSON file of API keys; none: the demo key set (docs/api.md)"),
    ] = None
    client_queue_max: Annotated[
        int, Field(ge=10, le=100_000, description="Live-feed items buffered per client")
    ] = 1000
    readings_lookback_s: Annotated[
        int,
        Field(ge=0, description="On start, replay tracker.readings this far back for positions"),
    ] = 900
    events_kept: Annotated[
        int, Field(ge=10, le=10_000, description="Recent events kept in memory per shipment")
    ] = 200
    max_body_bytes: Annotated[
        int,
        Field(
            ge=1024,
            le=1 << 30,
            description="Largest request body (and WebSocket message) accepted, bytes; larger: 413",
        ),
    ] = 1 << 20
    rate_per_key: Annotated[
        float, Field(gt=0, description="Requests per second each key may sustain; more: 429")
    ] = 20.0
    burst_per_key: Annotated[
        int, Field(ge=1, description="Requests a key may make at once before its rate applies")
    ] = 100
    rate_unauthenticated: Annotated[
        float,
        Field(gt=0, description="Requests without a valid key per second per client address"),
    ] = 1.0
    burst_unauthenticated: Annotated[
        int, Field(ge=1, description="Requests without a valid key at once per client address")
    ] = 20
    read_workers: Annotated[
        int,
        Field(ge=1, le=16, description="Processes computing ledgers and calendars off the loop"),
    ] = 1
    read_pending_max: Annotated[
        int,
        Field(
            ge=1, le=1000, description="Ledger/calendar computations queued or running; more: 503"
        ),
    ] = 8
    read_timeout_s: Annotated[
        float,
        Field(gt=0, description="A ledger/calendar request waits this long, then 503 (it goes on)"),
    ] = 20.0
    calendar_max_shipments: Annotated[
        int,
        Field(ge=0, description="Largest facility (pledged shipments) whose calendar is served"),
    ] = 5000
    ledger_max_entries: Annotated[
        int, Field(ge=0, description="Largest ledger (entries) served over REST; larger: 422")
    ] = 20_000
