"""The borrower's credit profile on the wire: what the pledge engine announces when a
facility's score moves its advance rates or moves enough to show.

A facility with ``score_bands`` (``tradelane.contracts.registries.ScoreBands``) values its
collateral at the advance rates the borrower's credit score earns (docs/finance.md, "Credit
profile"). The engine publishes on ``finance.events``:

* :class:`AdvanceRatesChanged` whenever the score crosses into a band with other rates: the
  old and new band, score and rates, and the factors whose points moved most (the borrowing
  base then changes as for any other revaluation, ``BorrowingBaseChanged``);
* :class:`CreditScoreChanged` when the score moved by at least
  :data:`SCORE_ANNOUNCE_POINTS` since the score last announced, or its band changed, with
  every factor, so the bank and the borrower can see what the score is made of.

Both are deterministic: their ids derive from the facility and the input that moved the
score, their time is that input's event time.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from tradelane.contracts.base import Contract, UtcDatetime
from tradelane.contracts.money import Amount, Fraction
from tradelane.contracts.registries import CollateralStatus

FacilityKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
BandName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:+-]{0,15}$")]
Score = Annotated[int, Field(ge=0, le=1000)]
SCORE_ANNOUNCE_POINTS = 10
"""A move this large (from the score last announced) is announced even within a band."""


class CreditFactorName(StrEnum):
    """The factors a credit score is made of (weights in ``finance.credit_profile.FACTORS``)."""

    REPAYMENT_PUNCTUALITY = "repayment_punctuality"
    DELIVERY_QUALITY = "delivery_quality"
    CONDITION_EXCURSIONS = "condition_excursions"
    MILESTONE_PUNCTUALITY = "milestone_punctuality"
    CLAIMS = "claims"
    DISPUTES = "disputes"


class ScoreFactor(Contract):
    """One factor of a score: good against bad observations, its value and points, and why."""

    name: CreditFactorName
    weight: Annotated[int, Field(ge=0, le=1000, description="Points at a perfect value")]
    good: Amount
    bad: Amount
    value: Fraction
    points: Annotated[int, Field(ge=0, le=1000)]
    explanation: str


class FactorMoved(Contract):
    """A factor whose points a change of the borrower's history moved."""

    name: CreditFactorName
    old_points: Annotated[int, Field(ge=0, le=1000)]
    new_points: Annotated[int, Field(ge=0, le=1000)]
    change: int
    explanation: str = Field(description="The factor as it stands now")


class AdvanceRatesChanged(Contract):
    """The borrower's score crossed into another band: collateral is valued at new rates from
    this input on (every rate within the bank's bounds)."""

    kind: Literal["advance_rates_changed"] = "advance_rates_changed"
    facility_id: FacilityKey
    cause_id: Annotated[
        str, Field(min_length=1, max_length=160, description="The input that moved the score")
    ]
    old_band: BandName
    new_band: BandName
    old_score: Score
    new_score: Score
    old_rates: dict[CollateralStatus, Fraction]
    new_rates: dict[CollateralStatus, Fraction]
    moved: list[FactorMoved] = Field(description="The factors whose points moved most")
    at: UtcDatetime


class CreditScoreChanged(Contract):
    """The borrower's score moved by at least 10 points since last announced, or changed
    band: the score now and every factor it is made of."""

    kind: Literal["credit_score_changed"] = "credit_score_changed"
    facility_id: FacilityKey
    cause_id: Annotated[
        str, Field(min_length=1, max_length=160, description="The input that moved the score")
    ]
    score: Score
    previous_score: Score = Field(description="The score last announced")
    band: BandName | None = Field(description="The band the score falls in; None: no bands")
    previous_band: BandName | None
    factors: list[ScoreFactor]
    at: UtcDatetime
