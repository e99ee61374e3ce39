"""A merchant's credit profile: a score from its history, and the advance rates the score earns.

Pure and deterministic: Decimal arithmetic in :data:`finance.money.CONTEXT`, no float, no
clock. The pledge engine keeps each facility's history and values its collateral at the rates
the score earns when the facility has ``score_bands`` (:mod:`finance.credit`; docs/finance.md,
"Credit profile").

**History.** :class:`CreditHistory` is a record of counts, folded by :func:`count_fact` from
:data:`Observation` values. The contracts do not say everything a score needs (a repayment
does not know its due date, a milestone does not know its planned time), so the fold takes a
small union of its own; the adapters below map what the contracts do say:

* ``MilestoneReached`` of ``delivered``: a shipment delivered in or out of spec (its
  ``in_spec``); any milestone with its planned time (from the booking's legs): on time or late.
* ``BreachStarted`` (temperature, humidity) and ``ShockDetected``: an excursion.
* ``ClaimPaid``: a claim, counted once, on its first payment (``amount == claim_paid_total``).
* A payment applied to a repayment plan (:func:`finance.repayment_plan.apply_payment`): each
  instalment it closes, on time or late against its (possibly delayed) due date.
* Disputes have no contract yet: the caller states them (``DisputeObserved``).

**Score.** Six factors, each worth ``weight`` points at best (weights add up to 1000). A factor
weighs good observations against bad ones, with Bayesian shrinkage towards a neutral prior::

    value  = (good + PRIOR x PSEUDO_COUNT) / (good + bad + PSEUDO_COUNT)    (0..1, 4 places)
    points = round_half_even(weight x value)
    score  = sum of points                                                  (0..1000)

PRIOR = 0.5 and PSEUDO_COUNT = 4: a seller with no history scores 500, and one late payment
on a new seller moves its punctuality factor from 175 to 156 points, not to zero. A factor's
value rises with every good observation and falls with every bad one, so the score is
monotone in each count.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from finance.money import CONTEXT
from finance.repayment_plan import PaymentResult
from tradelane.contracts.base import UtcDatetime
from tradelane.contracts.credit import CreditFactorName
from tradelane.contracts.events import (
    BreachKind,
    BreachStarted,
    Milestone,
    MilestoneReached,
    ShockDetected,
)
from tradelane.contracts.insurance import ClaimPaid
from tradelane.contracts.registries import CollateralStatus, ScoreBand, ScoreBands

PRIOR = Decimal("0.5")
"""The neutral value a factor starts from and few observations stay close to."""
PSEUDO_COUNT = Decimal(4)
"""How many observations the prior is worth."""
MILESTONE_TOLERANCE = timedelta(hours=24)
"""A milestone reached up to this long after its planned time is on time."""
MOVED_FACTORS = 3
"""How many factors a rate change names (the ones whose points moved most)."""

_VALUE_QUANTUM = Decimal("0.0001")
Count = Annotated[int, Field(ge=0)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class CreditHistory(_Frozen):
    """What a borrower's record shows, as counts (a pure record: fold it with ``count_fact``)."""

    repayments_on_time: Count = 0
    repayments_late_1_7_days: Count = 0
    repayments_late_8_30_days: Count = 0
    repayments_late_over_30_days: Count = 0
    days_late_total: Count = 0
    shipments_in_spec: Count = 0
    shipments_out_of_spec: Count = 0
    excursions: Annotated[int, Field(ge=0, description="Temperature/humidity breaches, shocks")] = 0
    claims: Count = 0
    milestones_on_time: Count = 0
    milestones_late: Count = 0
    disputes: Count = 0

    @property
    def repayments_late(self) -> int:
        return (
            self.repayments_late_1_7_days
            + self.repayments_late_8_30_days
            + self.repayments_late_over_30_days
        )


# --- observations ----------------------------------------------------------------------------


class RepaymentObserved(_Frozen):
    """An instalment paid in full: on time when paid on or before its due day (UTC)."""

    kind: Literal["repayment"] = "repayment"
    due: UtcDatetime
    paid_at: UtcDatetime


class ShipmentDelivered(_Frozen):
    kind: Literal["shipment_delivered"] = "shipment_delivered"
    in_spec: bool


class ExcursionObserved(_Frozen):
    kind: Literal["excursion"] = "excursion"
    excursion: Literal["temperature", "humidity", "shock", "tamper"]


class ClaimObserved(_Frozen):
    kind: Literal["claim"] = "claim"


class MilestoneObserved(_Frozen):
    """A milestone reached, against the time the booking planned it for."""

    kind: Literal["milestone"] = "milestone"
    milestone: Milestone
    planned: UtcDatetime
    reached: UtcDatetime


class DisputeObserved(_Frozen):
    kind: Literal["dispute"] = "dispute"


Observation = (
    RepaymentObserved
    | ShipmentDelivered
    | ExcursionObserved
    | ClaimObserved
    | MilestoneObserved
    | DisputeObserved
)


def days_late(due: datetime, paid_at: datetime) -> int:
    """Whole UTC days between the due day and the payment day; 0 when on time."""
    return max((paid_at.astimezone(UTC).date() - due.astimezone(UTC).date()).days, 0)


def _late_bucket(days: int) -> str:
    if days <= 7:
        return "repayments_late_1_7_days"
    if days <= 30:
        return "repayments_late_8_30_days"
    return "repayments_late_over_30_days"


def _bump(history: CreditHistory, *fields: str) -> CreditHistory:
    return history.model_copy(update={f: getattr(history, f) + 1 for f in fields})


def count_fact(history: CreditHistory, event: Observation) -> CreditHistory:
    """The history after one more observation (counts only: the order never matters)."""
    match event:
        case RepaymentObserved(due=due, paid_at=paid_at):
            late = days_late(due, paid_at)
            if late == 0:
                return _bump(history, "repayments_on_time")
            bumped = _bump(history, _late_bucket(late))
            return bumped.model_copy(update={"days_late_total": history.days_late_total + late})
        case ShipmentDelivered(in_spec=in_spec):
            return _bump(history, "shipments_in_spec" if in_spec else "shipments_out_of_spec")
        case ExcursionObserved():
            return _bump(history, "excursions")
        case ClaimObserved():
            return _bump(history, "claims")
        case MilestoneObserved(planned=planned, reached=reached):
            late = reached > planned + MILESTONE_TOLERANCE
            return _bump(history, "milestones_late" if late else "milestones_on_time")
        case DisputeObserved():
            return _bump(history, "disputes")


# --- adapters from the contracts -------------------------------------------------------------

_EXCURSION: dict[BreachKind, Literal["temperature", "humidity"]] = {
    BreachKind.TEMPERATURE_HIGH: "temperature",
    BreachKind.TEMPERATURE_LOW: "temperature",
    BreachKind.HUMIDITY_HIGH: "humidity",
}


def from_shipment_event(event: object, planned: datetime | None = None) -> tuple[Observation, ...]:
    """What a shipment event says about its shipper; ``planned``: the milestone's planned time
    from the booking, when the event is a milestone the booking plans."""
    if isinstance(event, MilestoneReached):
        found: list[Observation] = []
        if event.milestone is Milestone.DELIVERED:
            found.append(ShipmentDelivered(in_spec=event.in_spec))
        if planned is not None:
            found.append(
                MilestoneObserved(milestone=event.milestone, planned=planned, reached=event.at)
            )
        return tuple(found)
    if isinstance(event, BreachStarted):
        return (ExcursionObserved(excursion=_EXCURSION[event.breach]),)
    if isinstance(event, ShockDetected):
        return (ExcursionObserved(excursion="shock"),)
    return ()


def from_claim_paid(event: ClaimPaid) -> tuple[Observation, ...]:
    """A claim, once: its first payment is the one whose amount is the whole paid total."""
    return (ClaimObserved(),) if event.amount.amount == event.claim_paid_total.amount else ()


def from_payment(result: PaymentResult) -> tuple[Observation, ...]:
    """Each instalment a plan payment closed, on time or late against its due date."""
    closed = {a.instalment_id for a in result.allocations}
    return tuple(
        RepaymentObserved(due=i.due, paid_at=i.closed_at)
        for i in result.instalments
        if i.instalment_id in closed and i.closed_at is not None and i.open_amount == 0
    )


# --- score -----------------------------------------------------------------------------------


FactorName = CreditFactorName
"""The factors' names (declared with the contracts that publish them)."""


class Factor(_Frozen):
    """One factor of a score: how it was weighed, what it came to and why."""

    name: FactorName
    weight: Annotated[int, Field(description="Points at a perfect value")]
    good: Decimal
    bad: Decimal
    value: Decimal
    points: int
    explanation: str


class CreditScore(_Frozen):
    """A score 0..1000: the sum of its factors' points."""

    score: Annotated[int, Field(ge=0, le=1000)]
    factors: tuple[Factor, ...]
    prior: Decimal = PRIOR
    pseudo_count: Decimal = PSEUDO_COUNT


_Weigh = Callable[[CreditHistory], tuple[Decimal, Decimal, str]]


def _repayments(h: CreditHistory) -> tuple[Decimal, Decimal, str]:
    bad = CONTEXT.add(
        CONTEXT.add(
            CONTEXT.multiply(Decimal("0.5"), Decimal(h.repayments_late_1_7_days)),
            Decimal(h.repayments_late_8_30_days),
        ),
        CONTEXT.multiply(Decimal(2), Decimal(h.repayments_late_over_30_days)),
    )
    total = h.repayments_on_time + h.repayments_late
    text = (
        f"{h.repayments_on_time} of {total} instalments paid on time, {h.repayments_late} late "
        f"({h.days_late_total} days in all; a late one counts 0.5 up to 7 days, 1 up to 30, "
        "2 beyond)"
    )
    return Decimal(h.repayments_on_time), bad, text


def _deliveries(h: CreditHistory) -> tuple[Decimal, Decimal, str]:
    total = h.shipments_in_spec + h.shipments_out_of_spec
    text = f"{h.shipments_in_spec} of {total} shipments delivered in spec"
    return Decimal(h.shipments_in_spec), Decimal(h.shipments_out_of_spec), text


def _per_clean_shipment(field: str, label: str) -> _Weigh:
    def weigh(h: CreditHistory) -> tuple[Decimal, Decimal, str]:
        count = getattr(h, field)
        text = f"{count} {label} against {h.shipments_in_spec} shipments delivered in spec"
        return Decimal(h.shipments_in_spec), Decimal(count), text

    return weigh


def _milestones(h: CreditHistory) -> tuple[Decimal, Decimal, str]:
    total = h.milestones_on_time + h.milestones_late
    hours = int(MILESTONE_TOLERANCE.total_seconds() // 3600)
    text = f"{h.milestones_on_time} of {total} milestones within {hours} h of plan"
    return Decimal(h.milestones_on_time), Decimal(h.milestones_late), text


FACTORS: tuple[tuple[FactorName, int, _Weigh], ...] = (
    (FactorName.REPAYMENT_PUNCTUALITY, 350, _repayments),
    (FactorName.DELIVERY_QUALITY, 200, _deliveries),
    (FactorName.CONDITION_EXCURSIONS, 150, _per_clean_shipment("excursions", "excursions")),
    (FactorName.MILESTONE_PUNCTUALITY, 150, _milestones),
    (FactorName.CLAIMS, 100, _per_clean_shipment("claims", "claims")),
    (FactorName.DISPUTES, 50, _per_clean_shipment("disputes", "disputes")),
)
"""Each factor's name, weight (points at best; they add up to 1000) and how it weighs."""


def shrunk_value(good: Decimal, bad: Decimal) -> Decimal:
    """(good + PRIOR x PSEUDO_COUNT) / (good + bad + PSEUDO_COUNT), half-even to 4 places."""
    numerator = CONTEXT.add(good, CONTEXT.multiply(PRIOR, PSEUDO_COUNT))
    denominator = CONTEXT.add(CONTEXT.add(good, bad), PSEUDO_COUNT)
    return CONTEXT.divide(numerator, denominator).quantize(
        _VALUE_QUANTUM, rounding=ROUND_HALF_EVEN, context=CONTEXT
    )


def _factor(name: FactorName, weight: int, weigh: _Weigh, history: CreditHistory) -> Factor:
    good, bad, text = weigh(history)
    value = shrunk_value(good, bad)
    points = int(
        CONTEXT.multiply(Decimal(weight), value).quantize(
            Decimal(1), rounding=ROUND_HALF_EVEN, context=CONTEXT
        )
    )
    line = f"{text}: value {value}, {points} of {weight} points"
    return Factor(
        name=name, weight=weight, good=good, bad=bad, value=value, points=points, explanation=line
    )


def score(history: CreditHistory) -> CreditScore:
    """The history's score and the factors it is made of (same history, same score)."""
    factors = tuple(_factor(name, w, weigh, history) for name, w, weigh in FACTORS)
    return CreditScore(score=sum(f.points for f in factors), factors=factors)


# --- bands and advance rates -----------------------------------------------------------------


def band_for(points: int, bands: ScoreBands) -> ScoreBand:
    """The band a score falls in: the last one whose ``min_score`` it reaches."""
    return [b for b in bands.bands if b.min_score <= points][-1]


def advance_rates_for(
    points: int, bands: ScoreBands, base_rates: Mapping[CollateralStatus, Decimal]
) -> dict[CollateralStatus, Decimal]:
    """The advance rate per collateral status for a score.

    Only the statuses the facility lends against (``base_rates``, its ``advance_rates``) get a
    rate: a band changes a rate, it never opens a status. A status the band does not name keeps
    its base rate; every rate is then held within the bank's bounds for its status (band rates
    already are: ``ScoreBands`` refuses any outside them).
    """
    band = band_for(points, bands)
    rates: dict[CollateralStatus, Decimal] = {}
    for status, base in base_rates.items():
        rate = band.advance_rates.get(status, base)
        bound = bands.bounds.get(status)
        rates[status] = rate if bound is None else min(max(rate, bound.min), bound.max)
    return rates


class FactorMove(_Frozen):
    name: FactorName
    old_points: int
    new_points: int
    change: int
    explanation: str = Field(description="The factor as it stands now")


class RateChange(_Frozen):
    """A score that crossed into another band: what the rates were, are, and why."""

    old_score: int
    new_score: int
    old_band: str
    new_band: str
    old_rates: dict[CollateralStatus, Decimal]
    new_rates: dict[CollateralStatus, Decimal]
    moved: tuple[FactorMove, ...] = Field(description="The factors whose points moved most")


def _moves(old: CreditScore, new: CreditScore) -> tuple[FactorMove, ...]:
    before = {f.name: f for f in old.factors}
    moves = [
        FactorMove(
            name=f.name,
            old_points=before[f.name].points,
            new_points=f.points,
            change=f.points - before[f.name].points,
            explanation=f.explanation,
        )
        for f in new.factors
        if f.name in before and f.points != before[f.name].points
    ]
    order = {name: n for n, (name, _, _) in enumerate(FACTORS)}
    moves.sort(key=lambda m: (-abs(m.change), order[m.name]))
    return tuple(moves[:MOVED_FACTORS])


def rate_change(
    old: CreditScore,
    new: CreditScore,
    bands: ScoreBands,
    base_rates: Mapping[CollateralStatus, Decimal] | None = None,
) -> RateChange | None:
    """The change a new score makes to the advance rates, or None when the band is the same.

    ``base_rates``: the facility's advance rates (the rates are then
    :func:`advance_rates_for`'s); None: the bands' own rates.
    """
    old_band, new_band = band_for(old.score, bands), band_for(new.score, bands)
    if old_band.name == new_band.name:
        return None

    def rates(band: ScoreBand, points: int) -> dict[CollateralStatus, Decimal]:
        if base_rates is None:
            return dict(band.advance_rates)
        return advance_rates_for(points, bands, base_rates)

    return RateChange(
        old_score=old.score,
        new_score=new.score,
        old_band=old_band.name,
        new_band=new_band.name,
        old_rates=rates(old_band, old.score),
        new_rates=rates(new_band, new.score),
        moved=_moves(old, new),
    )
