"""The funding calendar's day rows: principal, interest, headroom and cash gaps, day by day.

Pure arithmetic over the calendar's dated lines (:mod:`finance.calendar` prices and dates them;
this module only adds them up), so each figure of a row can be explained from the lines of that
day and the row before it:

* ``opening`` is the previous row's ``outstanding`` (the first row's: the ledger's principal);
* ``outstanding = opening + drawdowns - repayments`` (interest is not principal);
* ``interest`` is the engine's own day (:func:`finance.interest.daily_interest`): the closing
  principal x rate / days in year, half-even to the minor unit, accrued at the end of the day;
* ``interest_due`` carries the ledger's unpaid interest forward: a day with a repayment pays
  what was due before it (the waterfall takes interest first), then the day's interest accrues;
* ``headroom = min(base, limit) - outstanding``, with the base projected for the end of the day;
* ``due`` is what the seller must pay the bank that day: repayments plus the interest they
  carry; ``available`` is what the facility puts at their disposal that day: the tranches
  expected plus the headroom left at the end of the day (none when negative). When ``due``
  exceeds ``available`` the day is a **cash gap** and ``short`` is the difference: money that
  must come from elsewhere that day, typically the buyer paying for the delivered goods.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from finance.interest import daily_interest
from finance.money import quantum
from tradelane.contracts.registries import DayCount

ZERO = Decimal(0)

Flow = tuple[date, Literal["drawdown", "repayment"], Decimal | None]
"""A line as the rows see it: the day it moves principal (an overdue line: the first day), its
kind, its amount (``None``: not priced, counted as zero and reported as ``unpriced``)."""


@dataclass(frozen=True, slots=True)
class Accrual:
    """The facility terms the rows need."""

    currency: str
    limit: Decimal
    rate: Decimal
    day_count: DayCount


@dataclass(frozen=True, slots=True)
class CalendarDay:
    """One day of the window (every amount in the facility currency, on its minor unit)."""

    day: date
    opening: Decimal
    drawdowns: Decimal
    repayments: Decimal
    interest: Decimal
    outstanding: Decimal
    """Projected principal at the end of the day."""
    interest_due: Decimal
    """Projected unpaid interest at the end of the day."""
    base: Decimal
    headroom: Decimal
    due: Decimal
    available: Decimal
    short: Decimal
    unpriced: int
    """Lines of the day that could not be priced (counted as zero)."""


@dataclass(frozen=True, slots=True)
class CashGap:
    """A day whose payments to the bank exceed what the facility provides that day."""

    day: date
    due: Decimal
    available: Decimal
    short: Decimal


@dataclass(frozen=True, slots=True)
class CalendarWeek:
    """Seven days of rows added up (the last week of a window may be shorter)."""

    start: date
    last: date
    drawdowns: Decimal
    repayments: Decimal
    interest: Decimal
    outstanding: Decimal
    """At the end of the week's last day."""
    headroom_min: Decimal
    short: Decimal


def on_grid(amount: Decimal, currency: str) -> Decimal:
    """``amount`` written with exactly the currency's minor unit (inputs are on the grid
    already: ledger amounts, rounded tranches; this only fixes the exponent, ``0`` -> ``0.00``)."""
    return amount.quantize(quantum(currency))


def _sums(flows: Iterable[Flow]) -> dict[date, tuple[Decimal, Decimal, int]]:
    found: dict[date, tuple[Decimal, Decimal, int]] = {}
    for day, kind, amount in flows:
        drawn, repaid, unpriced = found.get(day, (ZERO, ZERO, 0))
        value = amount if amount is not None else ZERO
        if kind == "drawdown":
            drawn += value
        else:
            repaid += value
        found[day] = (drawn, repaid, unpriced + (amount is None))
    return found


def project_days(
    first: date,
    days: int,
    opening: Decimal,
    interest_due: Decimal,
    flows: Iterable[Flow],
    base_on: Mapping[date, Decimal],
    terms: Accrual,
    accrue_from: date | None = None,
) -> tuple[CalendarDay, ...]:
    """The window's rows from the opening principal and unpaid interest.

    ``accrue_from``: the first day whose interest the ledger has not booked yet (the head's
    day); days before it accrue nothing here, their interest is in ``interest_due`` already."""
    cur = terms.currency
    sums = _sums(flows)
    rows: list[CalendarDay] = []
    balance, owed = on_grid(opening, cur), on_grid(interest_due, cur)
    for i in range(days):
        day = first + timedelta(days=i)
        drawn, repaid, unpriced = sums.get(day, (ZERO, ZERO, 0))
        closing = balance + drawn - repaid
        paid = owed if repaid > 0 else ZERO
        accrues = accrue_from is None or day >= accrue_from
        interest = daily_interest(closing, terms.rate, terms.day_count, cur) if accrues else ZERO
        base = base_on.get(day, ZERO)
        headroom = min(base, terms.limit) - closing
        due, available = repaid + paid, drawn + max(headroom, ZERO)
        short = max(due - available, ZERO)
        owed_after = owed - paid + interest
        rows.append(
            CalendarDay(
                day=day,
                opening=on_grid(balance, cur),
                drawdowns=on_grid(drawn, cur),
                repayments=on_grid(repaid, cur),
                interest=on_grid(interest, cur),
                outstanding=on_grid(closing, cur),
                interest_due=on_grid(owed_after, cur),
                base=on_grid(base, cur),
                headroom=on_grid(headroom, cur),
                due=on_grid(due, cur),
                available=on_grid(available, cur),
                short=on_grid(short, cur),
                unpriced=unpriced,
            )
        )
        balance, owed = closing, owed_after
    return tuple(rows)


def weeks(rows: Iterable[CalendarDay], currency: str) -> tuple[CalendarWeek, ...]:
    """The rows in blocks of seven days from the window's first day."""
    found: list[CalendarWeek] = []
    block: list[CalendarDay] = []
    for row in rows:
        block.append(row)
        if len(block) == 7:
            found.append(_week(block, currency))
            block = []
    if block:
        found.append(_week(block, currency))
    return tuple(found)


def _week(block: list[CalendarDay], currency: str) -> CalendarWeek:
    def total(values: Iterable[Decimal]) -> Decimal:
        return on_grid(sum(values, ZERO), currency)

    return CalendarWeek(
        start=block[0].day,
        last=block[-1].day,
        drawdowns=total(r.drawdowns for r in block),
        repayments=total(r.repayments for r in block),
        interest=total(r.interest for r in block),
        outstanding=block[-1].outstanding,
        headroom_min=min(r.headroom for r in block),
        short=total(r.short for r in block),
    )


def gaps(rows: Iterable[CalendarDay]) -> tuple[CashGap, ...]:
    """The cash-gap days, in order."""
    return tuple(CashGap(r.day, r.due, r.available, r.short) for r in rows if r.short > 0)
