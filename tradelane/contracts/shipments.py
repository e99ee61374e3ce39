"""Shipment bookings: the value of the compacted ``shipments.registry`` topic.

The registry is keyed by ``shipment_id``; the latest record wins, so a booking update (a new
tracker, a changed plan, customs clearance) is simply the whole booking published again.
Every worker rebuilds its device→shipment map from this topic alone.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from tradelane.contracts.base import Contract, UtcDatetime
from tradelane.contracts.money import Money
from tradelane.contracts.readings import DeviceId

Locode = Annotated[
    str, Field(pattern=r"^[A-Z]{2}[A-Z2-9]{3}$", description="UN/LOCODE, e.g. 'CNSHA'")
]
ShipmentId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]


class PlaceKind(StrEnum):
    SEAPORT = "seaport"
    AIRPORT = "airport"
    WAREHOUSE = "warehouse"
    BONDED_ZONE = "bonded_zone"
    FACTORY = "factory"


class Place(Contract):
    """A named location with coordinates and the geofence radius that counts as 'there'."""

    locode: Locode
    name: str
    kind: PlaceKind
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    radius_km: Annotated[float, Field(gt=0, le=100)] = 5.0


class TransportMode(StrEnum):
    SEA = "sea"
    AIR = "air"
    ROAD = "road"
    RAIL = "rail"


class Leg(Contract):
    """One planned leg of the route."""

    mode: TransportMode
    origin: Place
    destination: Place
    planned_departure: UtcDatetime
    planned_arrival: UtcDatetime
    waypoints: Annotated[
        list[tuple[float, float]],
        Field(description="(lat, lon) points the leg passes through, e.g. sea-lane chokepoints"),
    ] = []

    @model_validator(mode="after")
    def _arrives_after_departure(self) -> Leg:
        if self.planned_arrival < self.planned_departure:
            raise ValueError("planned_arrival is before planned_departure")
        return self


class Cargo(Contract):
    description: str
    hs_code: Annotated[str, Field(pattern=r"^\d{6}(\d{2,4})?$", description="HS code, 6-10 digits")]
    quantity: Annotated[int, Field(gt=0)]
    unit: str = "cartons"
    value: Money


class ProfileKind(StrEnum):
    AMBIENT = "ambient"
    CHILLED = "chilled"
    FROZEN = "frozen"
    FRAGILE = "fragile"


class ConditionProfile(Contract):
    """The conditions the cargo must be kept in; ``None`` bounds are not checked."""

    kind: ProfileKind
    temp_min_c: float | None = None
    temp_max_c: float | None = None
    humidity_max_pct: Annotated[float | None, Field(ge=0, le=100)] = None
    shock_max_g: Annotated[float | None, Field(gt=0)] = None

    @model_validator(mode="after")
    def _band_is_ordered(self) -> ConditionProfile:
        if (
            self.temp_min_c is not None
            and self.temp_max_c is not None
            and self.temp_min_c > self.temp_max_c
        ):
            raise ValueError("temp_min_c is above temp_max_c")
        return self


class ShipmentBooking(Contract):
    """A booked shipment as the registry knows it (schema version 1)."""

    schema_version: Literal[1] = 1
    shipment_id: ShipmentId
    shipper: str
    consignee: str
    origin: Place
    destination: Place
    legs: Annotated[list[Leg], Field(min_length=1)]
    cargo: Cargo
    condition: ConditionProfile
    trackers: Annotated[list[DeviceId], Field(min_length=1)]
    booked_at: UtcDatetime
    customs_cleared_at: UtcDatetime | None = None
