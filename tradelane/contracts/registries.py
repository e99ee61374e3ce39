"""Finance and insurance registries, and FX rates: values of the compacted topics
``finance.facilities``, ``insurance.policies`` and ``fx.rates``.

These are version 1 of each contract: the fields every engine needs to find its state. The
pledge and insurance engines extend them in later versions, keeping old versions readable.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from tradelane.contracts.base import Contract, UtcDatetime
from tradelane.contracts.money import Currency, Fraction, Money, Rate
from tradelane.contracts.shipments import ShipmentId

PartyId = Annotated[str, Field(min_length=1, max_length=64)]


class CollateralStatus(StrEnum):
    IN_TRANSIT = "in_transit"
    IN_WAREHOUSE = "in_warehouse"
    DELIVERED = "delivered"


class Facility(Contract):
    """An inventory-pledge credit line from a bank to a borrower (schema version 1)."""

    schema_version: Literal[1] = 1
    facility_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
    bank_id: PartyId
    borrower_id: PartyId
    limit: Money
    advance_rates: dict[CollateralStatus, Fraction]
    concentration_limit: Annotated[Fraction, Field(description="Max share of base per shipment")]
    margin_call_cure_hours: Annotated[int, Field(ge=0)] = 48
    drawdown_schedule: Annotated[
        dict[str, Fraction], Field(description="Milestone name -> share of eligible advance")
    ] = {}
    auto_drawdown: bool = True
    pledged_shipments: list[ShipmentId] = []


class TriggerKind(StrEnum):
    TEMPERATURE = "temperature"
    SHOCK = "shock"
    TAMPER = "tamper"
    DELAY = "delay"
    DEVIATION = "deviation"


class PayoutTier(Contract):
    threshold: Annotated[float, Field(ge=0, description="Minutes, g, hours or km by trigger")]
    share: Fraction


class Trigger(Contract):
    kind: TriggerKind
    tiers: Annotated[list[PayoutTier], Field(min_length=1)]
    cumulative: bool = False


class Policy(Contract):
    """A parametric cargo policy on one shipment (schema version 1)."""

    schema_version: Literal[1] = 1
    policy_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
    insurer_id: PartyId
    insured_id: PartyId
    shipment_id: ShipmentId
    sum_insured: Money
    deductible: Money
    loss_payee: PartyId | None = None
    triggers: Annotated[list[Trigger], Field(min_length=1)]


class FxRate(Contract):
    """One currency pair's rate: 1 ``base`` = ``rate`` ``quote`` (schema version 1).

    Keyed ``BASE/QUOTE`` on the compacted topic, so the latest rate per pair survives.
    """

    schema_version: Literal[1] = 1
    base: Currency
    quote: Currency
    rate: Rate
    as_of: UtcDatetime
    source: str = "feed"
