"""Decimal money arithmetic for the pledge engine: minor units, rounding rules, FX conversion.

Two rounding rules, each chosen for a reason:

* :func:`round_half_even` (banker's rounding) for values that are *measured*: converted cargo
  values, repayments converted into the facility currency, daily interest. Over many amounts it
  neither favours the bank nor the borrower.
* :func:`round_down` for amounts the bank *lends*: eligible collateral, tranches. A rule like
  "60 % of the value" must never release a fraction of a cent above 60 %.

All arithmetic runs in :data:`CONTEXT` (set by the engine around each call), so results do not
depend on whatever decimal context the caller's thread happens to have.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import (
    ROUND_DOWN,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)

from tradelane.contracts import FxRate
from tradelane.contracts.finance import AppliedFx

CONTEXT = Context(
    prec=34, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)
"""34 significant digits (IEEE decimal128): amounts up to 10^15 keep 18 fractional digits."""

RATE_QUANTUM = Decimal("1e-12")
"""Derived rates (inverse, cross) keep 12 decimal places, the precision of ``Rate``."""

CROSS_CURRENCY = "USD"
"""Pairs missing both ways are triangulated through this currency."""

_EXPONENT_EXCEPTIONS = {
    "BHD": 3, "CLP": 0, "IQD": 3, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3,
    "LYD": 3, "OMR": 3, "PYG": 0, "TND": 3, "UGX": 0, "VND": 0, "XAF": 0, "XOF": 0,
}  # fmt: skip
"""ISO 4217 minor-unit exponents that differ from the usual 2."""


def minor_exponent(currency: str) -> int:
    """Decimal places of the currency's minor unit (JPY 0, USD 2, KWD 3)."""
    return _EXPONENT_EXCEPTIONS.get(currency, 2)


def quantum(currency: str) -> Decimal:
    """The smallest amount of ``currency``: ``Decimal('0.01')`` for USD."""
    return Decimal(1).scaleb(-minor_exponent(currency))


def round_half_even(amount: Decimal, currency: str) -> Decimal:
    """Round a measured amount to the currency's minor unit, ties to even."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_EVEN, context=CONTEXT)


def round_down(amount: Decimal, currency: str) -> Decimal:
    """Round a lendable amount towards zero to the currency's minor unit."""
    return amount.quantize(quantum(currency), rounding=ROUND_DOWN, context=CONTEXT)


def to_minor_units(amount: Decimal, currency: str) -> int:
    """Exact integer minor units; refuses amounts that are off the currency's grid."""
    scaled = amount.scaleb(minor_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} {currency} is not a whole number of minor units")
    return int(scaled)


def pair(base: str, quote: str) -> str:
    """The ``fx.rates`` key of a pair: ``'USD/EUR'``."""
    return f"{base}/{quote}"


def identity(currency: str) -> AppliedFx:
    """The 'rate' of an amount that needs no conversion."""
    return AppliedFx(base=currency, quote=currency, rate=Decimal(1))


def _leg(rates: Mapping[str, FxRate], base: str, quote: str) -> AppliedFx | None:
    direct = rates.get(pair(base, quote))
    if direct is not None:
        return AppliedFx(base=base, quote=quote, rate=direct.rate, as_of=direct.as_of)
    inverse = rates.get(pair(quote, base))
    if inverse is not None:
        rate = CONTEXT.divide(Decimal(1), inverse.rate).quantize(RATE_QUANTUM, context=CONTEXT)
        if rate > 0:
            return AppliedFx(base=base, quote=quote, rate=rate, as_of=inverse.as_of)
    return None


def find_rate(rates: Mapping[str, FxRate], base: str, quote: str) -> AppliedFx | None:
    """The rate from ``base`` to ``quote``: direct, inverse, or crossed through USD.

    ``None`` when no route exists; callers turn that into ``fx_rate_missing``. A crossed rate
    carries the older of its two legs' ``as_of`` (it is only as fresh as its stalest leg).
    """
    if base == quote:
        return identity(base)
    found = _leg(rates, base, quote)
    if found is not None or CROSS_CURRENCY in (base, quote):
        return found
    first = _leg(rates, base, CROSS_CURRENCY)
    second = _leg(rates, CROSS_CURRENCY, quote)
    if first is None or second is None:
        return None
    rate = CONTEXT.multiply(first.rate, second.rate).quantize(RATE_QUANTUM, context=CONTEXT)
    if rate <= 0:
        return None
    stamps = [s for s in (first.as_of, second.as_of) if s is not None]
    return AppliedFx(
        base=base, quote=quote, rate=rate, as_of=min(stamps) if stamps else None, via="USD"
    )


def convert(
    amount: Decimal, base: str, quote: str, rates: Mapping[str, FxRate]
) -> tuple[Decimal, AppliedFx] | None:
    """``amount`` of ``base`` in ``quote`` (half-even to the minor unit), with the rate used."""
    fx = find_rate(rates, base, quote)
    if fx is None:
        return None
    return convert_at(amount, fx, quote), fx


def convert_at(amount: Decimal, fx: AppliedFx, quote: str) -> Decimal:
    """``amount`` at the rate ``fx`` in ``quote`` (half-even to the minor unit)."""
    return round_half_even(CONTEXT.multiply(amount, fx.rate), quote)
