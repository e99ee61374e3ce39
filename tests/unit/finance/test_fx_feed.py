"""The simulated FX feed is seeded, Decimal-only and bounded per step."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from finance.fx_feed import START_RATES, latest, simulated_rates
from finance.money import find_rate

START = datetime(2026, 3, 2, tzinfo=UTC)


def test_same_seed_same_rates_other_seed_other_rates() -> None:
    assert simulated_rates(7, START) == simulated_rates(7, START)
    assert simulated_rates(7, START) != simulated_rates(8, START)


def test_rounds_are_spaced_and_moves_bounded() -> None:
    rates = simulated_rates(3, START, count=50, step=timedelta(minutes=15), max_move_bp=10)
    assert len(rates) == 50 * len(START_RATES)
    assert rates[-1].as_of == START + 49 * timedelta(minutes=15)
    by_pair: dict[str, list[Decimal]] = {}
    for rate in rates:
        assert isinstance(rate.rate, Decimal)
        by_pair.setdefault(f"{rate.base}/{rate.quote}", []).append(rate.rate)
    for series in by_pair.values():
        for before, after in itertools.pairwise(series):
            assert abs(after / before - 1) <= Decimal("0.00101")  # 10 bp, then 6-place rounding


def test_latest_rates_let_the_engine_convert_every_fleet_currency() -> None:
    table = latest(simulated_rates(1, START, count=5))
    for currency in ("EUR", "GBP", "CNY", "SGD", "JPY", "AED", "INR", "BRL"):
        assert find_rate(table, currency, "USD") is not None
    assert find_rate(table, "EUR", "JPY") is not None  # crossed through USD


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        simulated_rates(1, START, count=-1)
