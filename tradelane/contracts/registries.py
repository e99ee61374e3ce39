"""Finance and insurance registries, and FX rates: values of the compacted topics
``finance.facilities``, ``insurance.policies`` and ``fx.rates``.

These are version 1 of each contract: the fields every engine needs to find its state. The
pledge and insurance engines extend them in later versions, keeping old versions readable.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from tradelane.contracts.base import Contract, UtcDatetime
from tradelane.contracts.money import Currency, Fraction, Money, Rate
from tradelane.contracts.readings import FixQuality
from tradelane.contracts.seller import ConfirmationTerms
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


class PlanStart(StrEnum):
    """The event a staged repayment plan counts its days from."""

    DELIVERED = "delivered"
    SALE = "sale"


class PlanInstalmentTerm(Contract):
    """One stage of a repayment plan: ``share`` of the principal due ``days_after_start``."""

    days_after_start: Annotated[int, Field(ge=0, le=3650)]
    share: Annotated[Fraction, Field(gt=0)]


class RepaymentPlanTerms(Contract):
    """A staged repayment plan per shipment: the principal lent against a shipment falls due
    in instalments counted from its delivery or sale (see docs/finance.md, "Staged repayment
    plans"). Amounts past due + ``grace_days`` accrue ``default_rate`` on top of the
    facility's interest rate.

    Shares must add up to exactly 1 and the days must rise strictly, so every plan states each
    instalment's date and share once and the instalments together repay the whole principal.
    """

    instalments: Annotated[list[PlanInstalmentTerm], Field(min_length=1, max_length=120)]
    start: PlanStart = PlanStart.DELIVERED
    grace_days: Annotated[int, Field(ge=0, le=365)] = 0
    default_rate: Annotated[
        Fraction, Field(description="Annual penalty rate on amounts in default, 0.02 = 2 %")
    ] = Decimal(0)

    @model_validator(mode="after")
    def _shares_and_days(self) -> RepaymentPlanTerms:
        total = sum((i.share for i in self.instalments), Decimal(0))
        if total != 1:
            raise ValueError(f"instalment shares must sum to exactly 1, they sum to {total}")
        days = [i.days_after_start for i in self.instalments]
        if any(later <= earlier for earlier, later in pairwise(days)):
            raise ValueError(f"instalment days_after_start must rise strictly, got {days}")
        return self


class AdvanceBounds(Contract):
    """The advance rates a bank allows for one collateral status, whatever a score says."""

    min: Fraction
    max: Fraction

    @model_validator(mode="after")
    def _ordered(self) -> AdvanceBounds:
        if self.min > self.max:
            raise ValueError(f"advance bounds min {self.min} is above max {self.max}")
        return self


class ScoreBand(Contract):
    """Advance rates for borrowers whose credit score is at least ``min_score`` (and below the
    next band's). A status the band does not name keeps the facility's own advance rate."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:+-]{0,15}$")]
    min_score: Annotated[int, Field(ge=0, le=1000)]
    advance_rates: dict[CollateralStatus, Fraction]


class ScoreBands(Contract):
    """Score bands mapped to advance rates, within the bounds the bank sets.

    ``bands`` ascend by ``min_score`` from 0, so every score 0..1000 falls in exactly one band.
    Every band rate must lie within ``bounds`` for its status, and a band may only name
    statuses the bank bounded: a band outside the bounds is refused here, not clamped later.
    """

    bounds: dict[CollateralStatus, AdvanceBounds]
    bands: Annotated[list[ScoreBand], Field(min_length=1, max_length=20)]

    @model_validator(mode="after")
    def _bands_cover_and_fit(self) -> ScoreBands:
        starts = [b.min_score for b in self.bands]
        if starts[0] != 0:
            raise ValueError(f"the first band must start at score 0, it starts at {starts[0]}")
        if any(later <= earlier for earlier, later in pairwise(starts)):
            raise ValueError(f"band min_score must rise strictly, got {starts}")
        if len({b.name for b in self.bands}) != len(self.bands):
            raise ValueError("band names must be unique")
        for band in self.bands:
            for status, rate in band.advance_rates.items():
                bound = self.bounds.get(status)
                if bound is None:
                    raise ValueError(f"band {band.name} sets {status} which has no bounds")
                if not bound.min <= rate <= bound.max:
                    raise ValueError(
                        f"band {band.name} sets {status} to {rate}, outside the bank's "
                        f"bounds {bound.min}..{bound.max}"
                    )
        return self


class FxLockTerms(Contract):
    """The facility quotes the borrower FX rates it may lock (``FxQuoteRequested``).

    A quote is the facility's held mid rate with ``spread_bp`` taken against the borrower,
    valid ``validity_minutes`` (event time) and for at most ``max_notional``; see
    docs/finance.md, "FX lock quotes".
    """

    spread_bp: Annotated[
        int, Field(ge=0, le=1000, description="Basis points taken off the mid rate")
    ] = 25
    validity_minutes: Annotated[
        int, Field(ge=1, le=7 * 24 * 60, description="Minutes a quote can be used (event time)")
    ] = 30
    max_notional: Money = Field(
        description="The largest notional one quote covers (compared at the mid rate)"
    )


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
    repayment_plan: RepaymentPlanTerms | None = Field(
        default=None,
        description="Staged repayment per shipment; None: repaid from proceeds, no plan",
    )
    score_bands: ScoreBands | None = Field(
        default=None,
        description="Advance rates by the borrower's credit score; None: advance_rates apply",
    )
    confirmation: ConfirmationTerms | None = Field(
        default=None,
        description="Milestone tranches wait for the borrower's confirmation; None: executed "
        "at the milestone without asking",
    )
    reminder_days: Annotated[
        int,
        Field(
            ge=0,
            le=28,
            description="Days ahead (event time) to remind the borrower of an expected "
            "drawdown or repayment; 0: no reminders",
        ),
    ] = 3
    fx_lock: FxLockTerms | None = Field(
        default=None,
        description="FX rates the borrower may lock for a repayment or a payout; None: no "
        "quotes are given",
    )


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
