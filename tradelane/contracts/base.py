"""Common base for every wire contract.

Contracts are frozen and reject unknown fields: a producer that drifts from the schema is caught
at the first hop instead of silently losing data downstream. NaN and infinities are refused
because no sensor or amount can honestly be either.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict


class Contract(BaseModel):
    """A versioned, immutable payload that crosses a process boundary."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        allow_inf_nan=False,
        ser_json_inf_nan="strings",
        populate_by_name=True,
    )


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a timezone (e.g. '2026-01-01T00:00:00Z')")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
"""An aware timestamp, normalised to UTC so equal instants compare and serialise equal."""
