"""Ready-made terms for demos and end-to-end tests: a credit line pledging a fleet's shipments
and a parametric cold-chain policy per shipment. Realistic numbers, nothing more."""

from __future__ import annotations

from decimal import Decimal

from tradelane.contracts import (
    CollateralStatus,
    Facility,
    Money,
    PayoutTier,
    Policy,
    Trigger,
    TriggerKind,
)
from tradelane.contracts.registries import HaircutRule, ImpairmentKind

DEMO_BANK = "demo-bank"
"""The demo line's lender (the demo bank key's party, api/auth.py)."""


def demo_facility(facility_id: str, shipments: list[str], currency: str = "USD") -> Facility:
    """A trade-finance line: 60 % advance in transit, 80 % in the bonded warehouse; half the
    advance at departure, the rest on arrival; haircuts for cold-chain breaches and damage."""
    return Facility(
        facility_id=facility_id,
        bank_id=DEMO_BANK,
        borrower_id="demo-shipper",
        limit=Money(amount=Decimal("50000000"), currency=currency),
        advance_rates={
            CollateralStatus.IN_TRANSIT: Decimal("0.6"),
            CollateralStatus.IN_WAREHOUSE: Decimal("0.8"),
            CollateralStatus.DELIVERED: Decimal("0"),
        },
        concentration_limit=Decimal("0.25"),
        margin_call_cure_hours=48,
        drawdown_schedule={
            "departed_origin": Decimal("0.5"),
            "arrived_destination": Decimal("0.5"),
        },
        auto_drawdown=True,
        pledged_shipments=shipments,
        haircut_schedule=[
            HaircutRule(
                impairment=ImpairmentKind.TEMPERATURE_HIGH,
                min_severity=Decimal(30),
                haircut=Decimal("0.5"),
            ),
            HaircutRule(
                impairment=ImpairmentKind.TEMPERATURE_HIGH,
                min_severity=Decimal(240),
                haircut=Decimal("1"),
            ),
            HaircutRule(
                impairment=ImpairmentKind.TEMPERATURE_LOW,
                min_severity=Decimal(30),
                haircut=Decimal("0.5"),
            ),
            HaircutRule(
                impairment=ImpairmentKind.SHOCK, min_severity=Decimal(10), haircut=Decimal("0.3")
            ),
            HaircutRule(impairment=ImpairmentKind.TAMPER, haircut=Decimal("1")),
        ],
        margin_call_threshold=Decimal("0"),
        interest_rate=Decimal("0.08"),
    )


def demo_policy(
    shipment_id: str, value: Money, insured: str = "demo-shipper", insurer: str = "demo-insurer"
) -> Policy:
    """Cargo insured at ``value``: tiered temperature cover, shock and tamper."""
    return Policy(
        policy_id=f"pol-{shipment_id}",
        insurer_id=insurer,
        insured_id=insured,
        shipment_id=shipment_id,
        sum_insured=value,
        deductible=Money(
            amount=(value.amount * Decimal("0.01")).quantize(Decimal("0.01")),
            currency=value.currency,
        ),
        triggers=[
            Trigger(
                kind=TriggerKind.TEMPERATURE,
                tiers=[
                    PayoutTier(threshold=30, share=Decimal("0.1")),
                    PayoutTier(threshold=120, share=Decimal("0.5")),
                    PayoutTier(threshold=360, share=Decimal("1")),
                ],
            ),
            Trigger(kind=TriggerKind.SHOCK, tiers=[PayoutTier(threshold=10, share=Decimal("0.2"))]),
            Trigger(kind=TriggerKind.TAMPER, tiers=[PayoutTier(threshold=0, share=Decimal("0.5"))]),
        ],
    )
