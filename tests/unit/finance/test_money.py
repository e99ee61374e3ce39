"""Money helpers: minor units, the two rounding rules, FX routes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from finance.money import (
    convert,
    find_rate,
    minor_exponent,
    round_down,
    round_half_even,
    to_minor_units,
)
from tradelane.contracts import FxRate

T = datetime(2026, 1, 1, tzinfo=UTC)


def rate(base: str, quote: str, value: str, hour: int = 0) -> FxRate:
    return FxRate(base=base, quote=quote, rate=Decimal(value), as_of=T.replace(hour=hour))


RATES = {
    "EUR/USD": rate("EUR", "USD", "1.10", 3),
    "USD/JPY": rate("USD", "JPY", "150.00", 5),
    "USD/CNY": rate("USD", "CNY", "7.20", 4),
}


@pytest.mark.parametrize(
    ("currency", "exponent"), [("USD", 2), ("EUR", 2), ("JPY", 0), ("KWD", 3), ("SGD", 2)]
)
def test_minor_units(currency: str, exponent: int) -> None:
    assert minor_exponent(currency) == exponent


@pytest.mark.parametrize(
    ("amount", "currency", "half_even", "down"),
    [
        ("1.005", "USD", "1.00", "1.00"),
        ("1.015", "USD", "1.02", "1.01"),
        ("1.019", "USD", "1.02", "1.01"),
        ("2.5", "JPY", "2", "2"),
        ("3.5", "JPY", "4", "3"),
        ("1.0005", "KWD", "1.000", "1.000"),
        ("-1.019", "USD", "-1.02", "-1.01"),
    ],
)
def test_rounding_rules(amount: str, currency: str, half_even: str, down: str) -> None:
    assert str(round_half_even(Decimal(amount), currency)) == half_even
    assert str(round_down(Decimal(amount), currency)) == down


def test_minor_units_are_exact_or_refused() -> None:
    assert to_minor_units(Decimal("12.34"), "USD") == 1234
    assert to_minor_units(Decimal(1500), "JPY") == 1500
    with pytest.raises(ValueError, match="minor units"):
        to_minor_units(Decimal("0.001"), "USD")


def test_routes_direct_inverse_crossed_missing() -> None:
    direct = find_rate(RATES, "EUR", "USD")
    assert direct is not None
    assert (direct.rate, direct.via) == (Decimal("1.10"), None)
    inverse = find_rate(RATES, "USD", "EUR")
    assert inverse is not None
    assert inverse.rate == Decimal("0.909090909091")
    crossed = find_rate(RATES, "EUR", "JPY")
    assert crossed is not None
    assert (crossed.rate, crossed.via, crossed.as_of) == (
        Decimal("165.0000"),
        "USD",
        T.replace(hour=3),
    )
    assert find_rate(RATES, "EUR", "GBP") is None
    same = find_rate({}, "SGD", "SGD")
    assert same is not None
    assert same.rate == 1


def test_convert_rounds_half_even_in_the_target_currency() -> None:
    assert convert(Decimal("100.00"), "EUR", "JPY", RATES) == (
        Decimal(16500),
        find_rate(RATES, "EUR", "JPY"),
    )
    converted = convert(Decimal("0.01"), "CNY", "USD", RATES)
    assert converted is not None
    assert converted[0] == Decimal("0.00")  # 0.0014 USD
    assert convert(Decimal(1), "EUR", "GBP", RATES) is None
