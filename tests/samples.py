"""Concrete, realistic contract instances for integration tests."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from tradelane.contracts import (
    Cargo,
    CollateralStatus,
    ConditionProfile,
    Facility,
    Leg,
    Money,
    Place,
    PlaceKind,
    ProfileKind,
    ShipmentBooking,
    TransportMode,
)

SHANGHAI = Place(locode="CNSHA", name="Shanghai", kind=PlaceKind.SEAPORT, lat=31.23, lon=121.47)
ROTTERDAM = Place(locode="NLRTM", name="Rotterdam", kind=PlaceKind.SEAPORT, lat=51.95, lon=4.14)


def booking(shipment_id: str, trackers: list[str]) -> ShipmentBooking:
    """A chilled sea shipment Shanghai → Rotterdam."""
    return ShipmentBooking(
        shipment_id=shipment_id,
        shipper="Acme Foods Co.",
        consignee="Fresh Imports BV",
        origin=SHANGHAI,
        destination=ROTTERDAM,
        legs=[
            Leg(
                mode=TransportMode.SEA,
                origin=SHANGHAI,
                destination=ROTTERDAM,
                planned_departure=datetime(2026, 11, 20, tzinfo=UTC),
                planned_arrival=datetime(2026, 12, 22, tzinfo=UTC),
                waypoints=[(1.26, 103.82), (12.6, 43.3), (30.0, 32.55), (36.0, -5.6)],
            )
        ],
        cargo=Cargo(
            description="Frozen shrimp",
            hs_code="030617",
            quantity=1200,
            value=Money(amount=Decimal("250000.00"), currency="USD"),
        ),
        condition=ConditionProfile(kind=ProfileKind.CHILLED, temp_min_c=2, temp_max_c=8),
        trackers=trackers,
        booked_at=datetime(2026, 11, 18, tzinfo=UTC),
    )


def facility(facility_id: str, shipment_id: str, bank: str, borrower: str) -> Facility:
    """A USD 1M line with one pledged shipment, all of its drawdown released at departure."""
    return Facility(
        facility_id=facility_id,
        bank_id=bank,
        borrower_id=borrower,
        limit=Money(amount=Decimal(1_000_000), currency="USD"),
        advance_rates={CollateralStatus.IN_TRANSIT: Decimal("0.6")},
        concentration_limit=Decimal(1),
        drawdown_schedule={"departed_origin": Decimal(1)},
        pledged_shipments=[shipment_id],
        interest_rate=Decimal("0.08"),
    )
