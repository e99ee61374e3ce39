"""Money on the wire: a Decimal amount with an ISO 4217 currency, never a float.

Amounts serialise as JSON strings so no consumer (JavaScript included) can round them through
binary floating point.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, PlainSerializer

from tradelane.contracts.base import Contract

Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 currency code")]

Amount = Annotated[
    Decimal,
    Field(allow_inf_nan=False, max_digits=28, decimal_places=8),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
]
"""A Decimal that serialises to a plain (non-exponent) string in JSON."""

Rate = Annotated[
    Decimal,
    Field(allow_inf_nan=False, gt=0, max_digits=28, decimal_places=12),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
]
"""A positive Decimal ratio such as an FX rate."""

Fraction = Annotated[
    Decimal,
    Field(allow_inf_nan=False, ge=0, le=1, max_digits=9, decimal_places=6),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
]
"""A share between 0 and 1 (advance rates, haircuts, payout tiers)."""


class Money(Contract):
    """An amount in one currency."""

    amount: Amount
    currency: Currency
