"""Finance and insurance registries, and FX rates: values of the compacted topics
``finance.facilities``, ``insurance.policies`` and ``fx.rates``.

These are version 1 of each contract: the fields every engine needs to find its state. The
pledge and insurance engines extend them in later versions, keeping old versions readable.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from tradelane.contracts.base import Contract, UtcDatetime
from tradelane.contracts.money import Currency, Fraction, Money, Rate
from tradelane.contracts.readings import FixQuality
from tradelane.contracts.shipments import ShipmentId

PartyId = Annotated[str, Field(min_length=1, max_length=64)]


class CollateralStatus(StrEnum):
    IN_TRANSIT = "in_transit"
    IN_WAREHOUSE = "in_warehouse"
    DELIVERED = "delivered"


class ImpairmentKind(StrEnum):
    """What can damage pledged cargo; breach kinds share their names with ``BreachKind``."""

    TEMPERATURE_HIGH = "temperature_high"
    TEMPERATURE_LOW = "temperature_low"
    HUMIDITY_HIGH = "humidity_high"
    SHOCK = "shock"
    TAMPER = "tamper"
    DEVIATION = "deviation"


class HaircutRule(Contract):
    """Cut a shipment's collateral value by ``haircut`` once an impairment reaches a severity.

    Severity is in the impairment's own unit: minutes out of band for breaches, g for shock,
    km off the corridor for deviation; tamper has no severity (use 0). The largest matching
    haircut applies and is never lifted (damage done stays done); 1 makes the cargo ineligible.
    """

    impairment: ImpairmentKind
    min_severity: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6)] = Decimal(0)
    haircut: Fraction


class DayCount(StrEnum):
    """Day-count convention of simple daily interest: annual rate / days-in-year per day."""

    ACT_365F = "ACT/365F"
    ACT_360 = "ACT/360"


class Facility(Contract):
    """An inventory-pledge credit line from a bank to a borrower (schema version 1).

    The fields after ``pledged_shipments`` were added compatibly (every earlier record still
    parses, and their defaults mean what an earlier record meant: no haircuts, no interest,
    every pledged shipment's whole cargo value pledged).

    A shipment's cargo can secure only its value once, across every facility: the worker's
    collateral register (``finance.collateral_register``) accepts, caps or refuses each pledge
    in the order it saw them and tells the facilities concerned (``PledgeDecided``).
    """

    schema_version: Literal[1] = 1
    facility_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
    bank_id: PartyId
    borrower_id: PartyId
    limit: Money
    advance_rates: dict[CollateralStatus, Fraction]
    concentration_limit: Annotated[
        Fraction, Field(description="Max share of the limit that one shipment may secure")
    ]
    margin_call_cure_hours: Annotated[int, Field(ge=0)] = 48
    drawdown_schedule: Annotated[
        dict[str, Fraction], Field(description="Milestone name -> share of eligible advance")
    ] = {}
    auto_drawdown: bool = True
    pledged_shipments: list[ShipmentId] = []
    haircut_schedule: list[HaircutRule] = []
    margin_call_threshold: Annotated[
        Fraction, Field(description="Call when outstanding > available x (1 + threshold)")
    ] = Decimal(0)
    interest_rate: Annotated[Fraction, Field(description="Annual simple rate, 0.08 = 8 %")] = (
        Decimal(0)
    )
    day_count: DayCount = DayCount.ACT_365F
    pledge_amounts: Annotated[
        dict[ShipmentId, Money],
        Field(
            description="Shipment id -> the part of its cargo value pledged to this facility, "
            "in the cargo's currency; a pledged shipment not named here pledges its whole "
            "cargo value. Ignored for shipments not in pledged_shipments."
        ),
    ] = {}


class TriggerKind(StrEnum):
    TEMPERATURE = "temperature"
    SHOCK = "shock"
    TAMPER = "tamper"
    DELAY = "delay"
    DEVIATION = "deviation"


class PayoutTier(Contract):
    threshold: Annotated[float, Field(ge=0, description="Minutes, g, hours or km by trigger")]
    share: Fraction


class DataQualityGate(Contract):
    """What the evidence behind a trigger must show before the trigger pays without review.

    A trigger that fails the gate still raises its claim, in ``needs_review``: bad data delays
    a payout to a human decision, it never silently drops a claim. Defaults suit trackers
    reporting every 5-15 minutes.

    ``min_observations`` and ``confirm_within_s`` came with policy version 2: an isolated
    reading (one shock, one temperature off its neighbours) no longer pays on its own. A
    version-1 policy's gates keep their meaning, one observation (see :class:`Policy`).
    """

    require_evidence: bool = Field(
        default=True, description="A trigger whose event carries no readings goes to review"
    )
    min_readings: Annotated[int, Field(ge=1, description="Per agreeing tracker")] = 1
    max_gap_s: Annotated[
        int, Field(ge=1, description="Longest silence between two readings of one tracker")
    ] = 1800
    max_clock_skew_s: Annotated[
        int, Field(ge=0, description="How far a reading may lie after the event that cites it")
    ] = 300
    min_fix: FixQuality | None = Field(
        default=None, description="Lowest GNSS fix accepted; None: fix not checked"
    )
    max_hdop: Annotated[float | None, Field(ge=0, description="None: HDOP not checked")] = None
    quorum: Annotated[
        int | None,
        Field(
            ge=1,
            description="Trackers that must agree; None: a strict majority of the "
            "shipment's trackers",
        ),
    ] = None
    min_observations: Annotated[
        int,
        Field(
            ge=1,
            description="Readings of agreeing trackers that must show the tier, from one "
            "tracker or several together: 2 means an isolated reading is confirmed by the "
            "same tracker's next readings or by another tracker before money moves",
        ),
    ] = 2
    confirm_within_s: Annotated[
        int,
        Field(
            ge=0,
            description="Shock and tamper: how far apart in event time the observations that "
            "confirm one another may lie",
        ),
    ] = 3600


class Trigger(Contract):
    """A payout rule. Fields after ``cumulative`` were added compatibly (defaults keep the
    meaning of earlier records)."""

    kind: TriggerKind
    tiers: Annotated[list[PayoutTier], Field(min_length=1)]
    cumulative: bool = False
    trigger_id: Annotated[
        str | None,
        Field(
            pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,31}$",
            description="Stable name of the trigger within its policy (part of the claim id); "
            "None: the kind, numbered when a kind repeats",
        ),
    ] = None
    per_day_share: Annotated[
        Fraction | None,
        Field(description="Delay only: share per started day beyond the first tier's hours"),
    ] = None
    cap_share: Annotated[
        Fraction | None, Field(description="Delay only: ceiling of the per-day payout")
    ] = None
    gate: DataQualityGate | None = Field(
        default=None, description="Overrides the policy's gate for this trigger"
    )


class Policy(Contract):
    """A parametric cargo policy on one shipment (schema version 2).

    ``loss_payee`` None means: the lender when the shipment is pledged to a facility, else the
    insured. ``gate`` was added compatibly.

    Version 2 changed the gate's default: a trigger pays without review only on at least two
    observations (``DataQualityGate.min_observations``). A version-1 record still parses and
    keeps its meaning: every gate it states or defaults to takes one observation, unless it
    names ``min_observations`` itself.
    """

    schema_version: Literal[1, 2] = 2
    policy_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
    insurer_id: PartyId
    insured_id: PartyId
    shipment_id: ShipmentId
    sum_insured: Money
    deductible: Money
    loss_payee: PartyId | None = None
    triggers: Annotated[list[Trigger], Field(min_length=1)]
    gate: DataQualityGate = DataQualityGate()

    @model_validator(mode="before")
    @classmethod
    def _version_1_gates(cls, data: Any) -> Any:
        """A version-1 record's gates take one observation (what version 1 meant)."""
        if not isinstance(data, dict) or data.get("schema_version") != 1:
            return data
        return {
            **data,
            "gate": _one_observation(data.get("gate", {})),
            "triggers": [
                {**t, "gate": _one_observation(t["gate"])}
                if isinstance(t, dict) and t.get("gate") is not None
                else t
                for t in data.get("triggers", [])
            ],
        }


def _one_observation(gate: Any) -> Any:
    if isinstance(gate, DataQualityGate):
        return (
            gate
            if "min_observations" in gate.model_fields_set
            else gate.model_copy(update={"min_observations": 1})
        )
    if isinstance(gate, dict):
        return {"min_observations": 1, **gate}
    return gate


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
