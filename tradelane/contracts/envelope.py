"""The event envelope for ``shipments.events``, ``finance.events`` and ``insurance.claims``.

Field names follow CloudEvents 1.0 (``specversion``, ``id``, ``source``, ``type``, ``subject``,
``time``, ``datacontenttype``, ``dataschema``, ``data``), so a bank or insurer can hand our
events to any CloudEvents SDK unchanged. ``schemaversion`` is a CloudEvents extension attribute
carrying the version of ``data``'s contract; ``type`` names the event kind and ends in that
version (``tradelane.shipment.milestone.v1``).

``id`` is derived from the event's cause (see :mod:`tradelane.ids`), never random, so processing
the same input twice yields the same id and consumers can de-duplicate on it.
"""

from __future__ import annotations

from typing import Annotated, Generic, Literal, TypeVar

from pydantic import Field, JsonValue

from tradelane.contracts.base import Contract, UtcDatetime

DataT = TypeVar("DataT")

EVENT_TYPE_PATTERN = r"^tradelane(\.[a-z][a-z0-9_]*)+\.v[1-9][0-9]*$"


class Envelope(Contract, Generic[DataT]):
    """A CloudEvents 1.0 structured-mode event with typed ``data``."""

    specversion: Literal["1.0"] = "1.0"
    id: Annotated[str, Field(min_length=1, max_length=128)]
    source: Annotated[str, Field(min_length=1, description="URI-reference of the producer")]
    type: Annotated[str, Field(pattern=EVENT_TYPE_PATTERN)]
    subject: Annotated[str, Field(min_length=1, description="Shipment, facility or policy id")]
    time: Annotated[UtcDatetime, Field(description="Event time, taken from the cause")]
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = None
    schemaversion: Annotated[int, Field(ge=1)] = 1
    data: DataT


EventEnvelope = Envelope[dict[str, JsonValue]]
"""The envelope with untyped data: what a generic consumer (live feed, webhooks) reads."""
