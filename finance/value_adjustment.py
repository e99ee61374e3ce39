"""The correcting posting of a value-dated movement: one ``interest_adjustment`` entry.

A repayment or a drawdown booked as of a value date before the facility clock changes what
was already booked after that date (see :mod:`finance.value_dating`): the interest of the
closed days (their end-of-day principal is lower, or higher), and the waterfall of the
repayments booked after it (a repayment paid interest they had paid, so they repay more
principal or hand more back; a drawdown left them more to pay). The ledger is append-only,
so those differences are posted now, in one balanced entry whose id derives from the cause
(a repayment's cause id, a drawdown's id: both are applied once, so the entry is posted
once), stamped at the value date. With debit-raising accounts positive::

    interest_income   +  Σ (corrected − booked) interest of each day           (credit side)
    interest_receivable  that, minus the interest the later repayments now pay
    loan_principal       minus the principal the later repayments now repay
    borrower_payable  +  the surplus the later repayments now leave              (credit side)

which balances because each re-split repayment still moves its whole amount.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from finance.facility_state import ClosedDay, FacilityState
from finance.ledger import Leg
from finance.money import identity
from finance.step import Step
from finance.value_dating import WINDOW_DAYS, Rebooked, bookable, totals
from tradelane.contracts.finance import (
    AdjustedDay,
    Direction,
    InterestAdjusted,
    LedgerAccount,
    LedgerEntryKind,
    ResplitRepayment,
    ValueDateLimited,
)

ZERO = Decimal(0)


def _leg(account: LedgerAccount, change: Decimal, *, credit_raises: bool) -> Leg:
    """``change`` (signed, in the account's own sense) as one posting leg."""
    raises = Direction.CREDIT if credit_raises else Direction.DEBIT
    lowers = Direction.DEBIT if credit_raises else Direction.CREDIT
    return account, raises if change > 0 else lowers, abs(change)


def adjust(
    step: Step,
    rebooked: Rebooked,
    cause_id: str,
    *,
    principal: tuple[Decimal, Decimal],
    receivable: tuple[Decimal, Decimal],
    cause_event_id: str | None = None,
) -> None:
    """Post the correction of ``rebooked`` (a movement booked as of its value date):
    ``principal`` and ``receivable`` are (as the ledger holds them now, as they must be after
    the correction). ``cause_id`` keys the entry and the event (a repayment's cause id, a
    drawdown's id); ``cause_event_id`` is the input that caused it (default ``cause_id``).
    Nothing when it corrects nothing."""
    state = step.state
    currency = state.currency
    now = step.now
    assert currency is not None
    assert now is not None
    income = sum((b.interest - a.interest for a, b in rebooked.changed_days), ZERO)
    moved = totals(rebooked.resplit)
    legs = [
        _leg(LedgerAccount.INTEREST_RECEIVABLE, receivable[1] - receivable[0], credit_raises=False),
        _leg(LedgerAccount.LOAN_PRINCIPAL, principal[1] - principal[0], credit_raises=False),
        _leg(LedgerAccount.INTEREST_INCOME, income, credit_raises=True),
        _leg(LedgerAccount.BORROWER_PAYABLE, moved["surplus"], credit_raises=True),
    ]
    if all(amount == 0 for _, _, amount in legs):
        return
    value_date = rebooked.value_date
    entry = step.post(
        LedgerEntryKind.INTEREST_ADJUSTMENT,
        (cause_id,),
        cause_id if cause_event_id is None else cause_event_id,
        value_date,
        identity(currency),
        legs,
    )
    step.emit(
        InterestAdjusted(
            facility_id=state.facility_id,
            cause_id=cause_id,
            value_date=value_date,
            booked_at=now,
            amount=step.money(income),
            principal_change=step.money(principal[1] - principal[0]),
            surplus_change=step.money(moved["surplus"]),
            interest_due_after=step.money(receivable[1]),
            outstanding_after=step.money(principal[1]),
            days=[_day(step, a, b) for a, b in rebooked.changed_days],
            repayments=[
                ResplitRepayment(
                    cause_id=b.cause_id,
                    at=b.at,
                    interest_before=step.money(a.interest),
                    interest_after=step.money(b.interest),
                    principal_before=step.money(sum(a.principal.values(), ZERO)),
                    principal_after=step.money(sum(b.principal.values(), ZERO)),
                    surplus_before=step.money(a.surplus),
                    surplus_after=step.money(b.surplus),
                )
                for a, b in rebooked.resplit
            ],
            at=value_date,
            ledger_seq=entry.seq,
            ledger_hash=entry.hash,
        ),
        cause_id,
    )


def value_date(step: Step, cause_id: str, wanted: datetime) -> datetime:
    """``wanted`` (a movement's event time, at most the clock) when the window reaches back
    to it, else the clock, announced with ``ValueDateLimited``: the days in between keep the
    interest they were booked with."""
    state, now = step.state, step.now
    assert now is not None
    if wanted >= now or bookable(state, wanted):
        return wanted
    if state.window_from is not None:
        step.emit(
            ValueDateLimited(
                facility_id=state.facility_id,
                cause_id=cause_id,
                value_date=wanted,
                window_from=state.window_from,
                window_days=WINDOW_DAYS,
                at=now,
            ),
            cause_id,
        )
    return now


def settle(state: FacilityState, rebooked: Rebooked) -> None:
    """Take the replayed window's figures as the facility's."""
    changed = ZERO
    for shipment_id, principal in rebooked.principals.items():
        shipment = state.shipments.get(shipment_id)
        if shipment is not None and shipment.principal != principal:
            changed += principal - shipment.principal
            shipment.principal = principal
    state.principal += changed
    state.interest_due = rebooked.due
    state.closed_days = rebooked.days
    state.movements = rebooked.movements


def _day(step: Step, booked: ClosedDay, corrected: ClosedDay) -> AdjustedDay:
    return AdjustedDay(
        day=booked.day,
        annual_rate=booked.annual_rate,
        day_count=booked.day_count,
        principal_before=step.money(booked.principal),
        principal_after=step.money(corrected.principal),
        interest_before=step.money(booked.interest),
        interest_after=step.money(corrected.interest),
    )
