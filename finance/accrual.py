"""Closing days: each day's interest on its end-of-day principal, posted once.

A day is closed by the first input whose event time lies in a later day (see
:mod:`finance.interest`), and also by a facility's first tranche when it is booked as of a
milestone that happened days before the facility clock (:mod:`finance.drawdowns`): the days
between were owed interest on it. Both go through :func:`close_days`, so a day is priced,
kept for value dating and posted by one rule whichever input closed it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from finance.facility_state import ClosedDay
from finance.instalments import default_day
from finance.interest import daily_interest, days_to_close
from finance.money import identity
from finance.step import Step
from finance.value_dating import record_day
from tradelane.contracts import Facility
from tradelane.contracts.finance import (
    Direction,
    InterestAccrued,
    LedgerAccount,
    LedgerEntryKind,
)
from tradelane.contracts.registries import DayCount


def close_days(step: Step, today: date) -> None:
    """Accrue every day from ``state.accrued_until`` up to, not including, ``today`` on the
    principal outstanding now (the end-of-day principal of each: nothing moved since), and
    keep each closed day for value dating."""
    state = step.state
    if state.accrued_until is None:
        return
    terms = state.terms
    for day in days_to_close(state.accrued_until, today):
        rate = Decimal(0) if terms is None else terms.interest_rate
        day_count = DayCount.ACT_365F if terms is None else terms.day_count
        amount = Decimal(0)
        if terms is not None and state.principal > 0 and rate > 0:
            amount = daily_interest(state.principal, rate, day_count, terms.limit.currency)
        closed = ClosedDay(
            day=day,
            principal=state.principal,
            annual_rate=rate,
            day_count=day_count,
            interest=max(amount, Decimal(0)),
        )
        if amount > 0:
            assert terms is not None
            _post_interest(step, terms, day, amount)
        penalty = default_day(step, day)  # a plan's instalments in default, on top
        if penalty > 0:
            closed = closed.model_copy(update={"default_interest": penalty})
        record_day(state, closed)
    state.accrued_until = max(state.accrued_until, today)


def _post_interest(step: Step, terms: Facility, day: date, amount: Decimal) -> None:
    """Book one day's interest (an entry and an ``InterestAccrued``), stamped at its end."""
    state = step.state
    currency = terms.limit.currency
    state.interest_due += amount
    end_of_day = datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
    entry = step.post(
        LedgerEntryKind.INTEREST,
        (day.isoformat(),),
        f"day:{day.isoformat()}",
        end_of_day,
        identity(currency),
        [
            (LedgerAccount.INTEREST_RECEIVABLE, Direction.DEBIT, amount),
            (LedgerAccount.INTEREST_INCOME, Direction.CREDIT, amount),
        ],
    )
    step.emit(
        InterestAccrued(
            facility_id=state.facility_id,
            day=day,
            principal=step.money(state.principal),
            annual_rate=terms.interest_rate,
            day_count=terms.day_count,
            amount=step.money(amount),
            interest_due_after=step.money(state.interest_due),
            at=end_of_day,
            ledger_seq=entry.seq,
            ledger_hash=entry.hash,
        ),
        day.isoformat(),
    )
