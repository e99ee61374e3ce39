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
