"""FX lock quotes on the wire: the borrower locks the rate of a repayment or a payout.

A facility with ``Facility.fx_lock`` terms quotes its borrower a rate on request
(:class:`FxQuoteRequested`, written by the API to ``finance.requests`` like a tranche decision):
the facility's held mid rate with the terms' spread taken against the borrower, valid for the
terms' minutes of event time. The engine answers :class:`FxQuoteIssued` (with a ``quote_id``
derived from the facility and the request) or :class:`FxQuoteRefused` with a
:class:`QuoteCode`; each ``request_id`` is answered once.

A ``RepaymentReceived`` (or a ``TrancheDecision``) naming the ``quote_id`` converts at the
locked all-in rate when its event time lies within the quote's validity; otherwise the money
is still taken, at the held rate, and :class:`FxQuoteNotHonoured` says why the quote was not
used. A quote is used at most once. See docs/finance.md, "FX lock quotes".
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from tradelane.contracts.base import Contract, UtcDatetime
from tradelane.contracts.money import Currency, Money, Rate
from tradelane.contracts.seller import FacilityKey, Requester, RequestId

QuoteId = Annotated[str, Field(min_length=1, max_length=64)]
QuoteSide = Literal["drawdown_payout", "repayment"]
"""``repayment``: the borrower pays in another currency, converted into the facility's.
``drawdown_payout``: a tranche (lent in the facility currency) is paid out in another."""


class FxQuoteRequested(Contract):
    """The borrower asks for a rate it can lock, for ``notional`` in its own currency."""

    kind: Literal["fx_quote_requested"] = "fx_quote_requested"
    request_id: RequestId
    facility_id: FacilityKey
    side: QuoteSide
    notional: Money = Field(
        description="How much, in the currency the borrower pays in (repayment) or wants "
        "paid out (drawdown_payout): the currency of the quote"
    )
    by: Requester
    at: UtcDatetime = Field(description="When the API received the request")

    @model_validator(mode="after")
    def _positive(self) -> FxQuoteRequested:
        if self.notional.amount <= 0:
            raise ValueError("the notional of a quote must be positive")
        return self


class QuoteCode(StrEnum):
    """What became of a quote request (refusals in precedence order, first applicable wins)."""

    ISSUED = "issued"
    NOT_AUTHORISED = "not_authorised"
    FX_LOCK_NOT_OFFERED = "fx_lock_not_offered"
    """The facility has no ``fx_lock`` terms."""
    SAME_CURRENCY = "same_currency"
    """The notional is in the facility currency: there is nothing to convert."""
    NO_RATE = "no_rate"
    """The facility holds no rate (direct, inverse or crossed) for the pair."""
    ABOVE_MAX_NOTIONAL = "above_max_notional"


class FxQuoteIssued(Contract):
    """A locked rate: 1 ``base`` = ``all_in_rate`` ``quote`` until ``valid_until``."""

    kind: Literal["fx_quote_issued"] = "fx_quote_issued"
    facility_id: FacilityKey
    request_id: RequestId
    quote_id: QuoteId
    side: QuoteSide
    notional: Money
    base: Currency = Field(description="The currency converted from")
    quote: Currency = Field(description="The currency converted to")
    mid_rate: Rate = Field(description="The facility's held rate at the request")
    mid_as_of: UtcDatetime | None = None
    via: Currency | None = Field(default=None, description="Cross currency, if triangulated")
    spread_bp: Annotated[int, Field(ge=0, le=1000)]
    all_in_rate: Rate = Field(
        description="mid x (1 - spread_bp / 10000), rounded down to 12 places (against the "
        "borrower)"
    )
    valid_until: UtcDatetime = Field(description="at + validity: the last event time it holds")
    at: UtcDatetime


class FxQuoteRefused(Contract):
    """No quote was given, and why."""

    kind: Literal["fx_quote_refused"] = "fx_quote_refused"
    facility_id: FacilityKey
    request_id: RequestId
    side: QuoteSide
    notional: Money
    code: QuoteCode
    at: UtcDatetime


class NotHonouredCode(StrEnum):
    """Why a named quote was not used (precedence order, first applicable wins)."""

    UNKNOWN_QUOTE = "unknown_quote"
    """Not a quote of this facility (or one forgotten long after it expired)."""
    CURRENCY_MISMATCH = "currency_mismatch"
    """The quote is for another side or another currency than the money it was named for."""
    ALREADY_USED = "already_used"
    NOT_YET_VALID = "not_yet_valid"
    """The money's event time lies before the quote was issued."""
    EXPIRED = "expired"
    """The money's event time lies after ``valid_until``."""
    ABOVE_NOTIONAL = "above_notional"
    """More money than the quote's notional: none of it is converted at the locked rate."""


class FxQuoteNotHonoured(Contract):
    """Money named a quote the engine could not use: it converted at the held rate."""

    kind: Literal["fx_quote_not_honoured"] = "fx_quote_not_honoured"
    facility_id: FacilityKey
    quote_id: QuoteId
    cause_id: Annotated[
        str,
        Field(
            min_length=1,
            max_length=128,
            description="The repayment's cause id, or the tranche's drawdown id",
        ),
    ]
    code: NotHonouredCode
    valid_until: UtcDatetime | None = Field(
        default=None, description="The quote's, when the quote is known"
    )
    at: UtcDatetime = Field(description="The money's event time")
