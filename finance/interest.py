"""Simple daily interest on outstanding principal.

Convention (stated in docs/finance.md): each UTC calendar day D accrues::

    interest(D) = round_half_even(principal at the end of D x annual_rate / N)

with N = 365 for ACT/365F (also in leap years) and 360 for ACT/360. Interest is simple: it is
charged on principal only, never on unpaid interest. Each day is its own ledger entry whose id
derives from (facility, day), so the ledger does not depend on *when* the engine learnt that
a day had ended: a day is closed by the first input whose event time lies in a later day (a
shipment event, a command, or the daily :class:`~tradelane.contracts.finance.DayTick`).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from finance.money import CONTEXT, round_half_even
from tradelane.contracts.registries import DayCount

DAYS_IN_YEAR = {DayCount.ACT_365F: 365, DayCount.ACT_360: 360}


def daily_interest(
    principal: Decimal, annual_rate: Decimal, day_count: DayCount, currency: str
) -> Decimal:
    """One day's interest on ``principal``, half-even to the minor unit."""
    raw = CONTEXT.divide(CONTEXT.multiply(principal, annual_rate), Decimal(DAYS_IN_YEAR[day_count]))
    return round_half_even(raw, currency)


def days_to_close(accrued_until: date, today: date) -> list[date]:
    """The days from ``accrued_until`` up to, not including, ``today``."""
    count = (today - accrued_until).days
    return [accrued_until + timedelta(days=i) for i in range(max(count, 0))]
