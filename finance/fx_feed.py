"""A simulated FX rate feed for demos and tests: seeded, so the same seed gives the same rates.

Each pair does a random walk of at most ``max_move_bp`` basis points per step, drawn as
integers from a seeded ``random.Random`` and applied in Decimal, so the rates are identical on
every platform and never pass through binary floating point. Rates are quoted as on
``fx.rates``: 1 ``base`` = ``rate`` ``quote``, rounded to 6 decimal places.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from finance.money import pair
from tradelane.contracts import FxRate

START_RATES: dict[str, Decimal] = {
    "USD/EUR": Decimal("0.920000"),
    "USD/GBP": Decimal("0.790000"),
    "USD/CNY": Decimal("7.200000"),
    "USD/SGD": Decimal("1.340000"),
    "USD/JPY": Decimal("150.000000"),
    "USD/AED": Decimal("3.672500"),
    "USD/INR": Decimal("83.000000"),
    "USD/BRL": Decimal("5.000000"),
}
"""Opening rates (mid-2020s levels) of the pairs the simulated fleet's cargo is valued in."""

RATE_QUANTUM = Decimal("0.000001")


def simulated_rates(
    seed: int,
    start: datetime,
    *,
    count: int = 24,
    step: timedelta = timedelta(hours=1),
    max_move_bp: int = 25,
    opening: Mapping[str, Decimal] = START_RATES,
) -> list[FxRate]:
    """``count`` rounds of rates for every pair, the first at ``start``, ordered by time."""
    if count < 0 or max_move_bp < 0:
        raise ValueError("count and max_move_bp must be >= 0")
    rng = random.Random(seed)  # noqa: S311  (a simulation, not a secret)
    rates = dict(opening)
    out: list[FxRate] = []
    for round_ in range(count):
        as_of = start + round_ * step
        for key in sorted(rates):
            if round_ > 0:
                move = Decimal(rng.randint(-max_move_bp, max_move_bp)) / 10_000
                moved = (rates[key] * (1 + move)).quantize(RATE_QUANTUM, ROUND_HALF_EVEN)
                rates[key] = max(moved, RATE_QUANTUM)
            base, quote = key.split("/")
            out.append(
                FxRate(base=base, quote=quote, rate=rates[key], as_of=as_of, source="simulated")
            )
    return out


def latest(rates: list[FxRate]) -> dict[str, FxRate]:
    """The newest rate per pair, as a compacted ``fx.rates`` would hold them."""
    out: dict[str, FxRate] = {}
    for rate in rates:
        key = pair(rate.base, rate.quote)
        if key not in out or rate.as_of >= out[key].as_of:
            out[key] = rate
    return out
