"""Staged repayment plans: a shipment's principal falls due in instalments, not all at once.

Pure functions of (instalments, input); no clock, no I/O. The pledge engine enforces a
facility's ``repayment_plan`` with them (:mod:`finance.instalments`; docs/finance.md,
"Staged repayment plans").

Arithmetic, all in :data:`finance.money.CONTEXT`, amounts on the currency's minor-unit grid:

* ``plan_for``: instalment *i* (not the last) is ``round_down(principal x share_i)``; the last
  instalment takes the remainder, so the amounts add up to the principal exactly. Rounding down
  the earlier ones makes the remainder at least the last share's exact amount (never negative)
  and at most ``n - 1`` minor units above it.
* ``apply_payment``: a payment goes to the open instalment due first (ties: the lower index),
  then the next; what is left once every instalment is paid is the surplus, returned, never
  allocated.
* ``default_interest``: an instalment is in default from the first UTC day after the day its
  due date + grace period falls on; each such day accrues
  ``round_half_even(open amounts in default x annual_rate / N)`` (N from the day count, as
  :func:`finance.interest.daily_interest`), one rounding per day for the whole plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from finance.interest import daily_interest
from finance.money import CONTEXT, round_down, to_minor_units
from tradelane.contracts.base import UtcDatetime
from tradelane.contracts.money import Money
from tradelane.contracts.registries import DayCount, RepaymentPlanTerms
from tradelane.errors import ContractError
from tradelane.ids import derive_id

ZERO = Decimal(0)


class PlanError(ContractError):
    """A plan operation the plan's rules refuse (a delay to an earlier date, a payment in a
    foreign currency, an unknown instalment). Raised, not returned: these are caller errors,
    the engine validates its inputs before it calls here."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Instalment(_Frozen):
    """One instalment of a shipment's plan and what has been paid on it."""

    instalment_id: str
    shipment_id: str
    index: int
    currency: str
    amount: Decimal
    due: UtcDatetime
    original_due: UtcDatetime
    grace_days: int
    paid: Decimal = ZERO
    closed_at: UtcDatetime | None = None

    @property
    def open_amount(self) -> Decimal:
        """What is still owed on this instalment."""
        return CONTEXT.subtract(self.amount, self.paid)

    @property
    def default_from(self) -> date:
        """The first UTC day on which this instalment, if still open, accrues default
        interest: the day after the day its due date + grace period falls on."""
        return (self.due + timedelta(days=self.grace_days)).astimezone(UTC).date() + timedelta(
            days=1
        )


class Allocation(_Frozen):
    """The part of a payment that went to one instalment."""

    instalment_id: str
    amount: Decimal


class PaymentResult(_Frozen):
    """A payment applied: the plan after it, where it went, and what was left over."""

    instalments: tuple[Instalment, ...]
    allocations: tuple[Allocation, ...]
    surplus: Decimal


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise PlanError(f"{name} must carry a timezone")
    return value.astimezone(UTC)


def instalment_id(shipment_id: str, index: int, start: datetime) -> str:
    """Deterministic id: the same shipment, position and start always give the same id."""
    return derive_id("instalment", shipment_id, index, start.astimezone(UTC).isoformat())


def plan_for(
    shipment_id: str, principal: Money, start: datetime, terms: RepaymentPlanTerms
) -> tuple[Instalment, ...]:
    """The instalments repaying ``principal`` from ``start`` (the delivery or sale time).

    The last instalment takes the rounding remainder (see the module docstring), so the
    amounts always add up to ``principal`` exactly. An instalment whose share of a tiny
    principal rounds down to nothing owes nothing and is closed at ``start``.
    """
    currency = principal.currency
    to_minor_units(principal.amount, currency)  # refuses an amount off the currency's grid
    if principal.amount <= 0:
        raise PlanError(f"a plan needs a positive principal, got {principal.amount}")
    start = _utc(start, "start")
    amounts = [
        round_down(CONTEXT.multiply(principal.amount, t.share), currency) for t in terms.instalments
    ]
    amounts[-1] = CONTEXT.subtract(principal.amount, sum(amounts[:-1], ZERO))
    return tuple(
        Instalment(
            instalment_id=instalment_id(shipment_id, index, start),
            shipment_id=shipment_id,
            index=index,
            currency=currency,
            amount=amount,
            due=start + timedelta(days=term.days_after_start),
            original_due=start + timedelta(days=term.days_after_start),
            grace_days=terms.grace_days,
            closed_at=start if amount == 0 else None,
        )
        for index, (term, amount) in enumerate(zip(terms.instalments, amounts, strict=True))
    )


def outstanding(instalments: Iterable[Instalment]) -> Decimal:
    """What the plan still owes."""
    return sum((i.open_amount for i in instalments), ZERO)


def is_closed(instalments: Iterable[Instalment]) -> bool:
    """Every instalment paid in full."""
    return all(i.open_amount == 0 for i in instalments)


def _currency(instalments: Sequence[Instalment]) -> str | None:
    currencies = {i.currency for i in instalments}
    if len(currencies) > 1:
        raise PlanError(f"a plan holds one currency, got {sorted(currencies)}")
    return next(iter(currencies), None)


def _payment_order(instalments: Sequence[Instalment]) -> list[int]:
    """Positions of the open instalments, the one due first first (ties: lower index)."""
    open_ones = [n for n, i in enumerate(instalments) if i.open_amount > 0]
    return sorted(open_ones, key=lambda n: (instalments[n].due, instalments[n].index))


def apply_payment(instalments: Sequence[Instalment], amount: Money, at: datetime) -> PaymentResult:
    """Allocate ``amount`` to the oldest open instalment first; return the rest as surplus.

    Never allocates more than an instalment's open amount, so ``sum(allocations) + surplus ==
    amount`` always. An instalment that reaches zero is closed ``at`` the payment's time.
    """
    currency = _currency(instalments)
    if currency is not None and amount.currency != currency:
        raise PlanError(f"payment in {amount.currency}, plan in {currency}")
    to_minor_units(amount.amount, amount.currency)
    if amount.amount < 0:
        raise PlanError(f"a payment cannot be negative, got {amount.amount}")
    at = _utc(at, "at")
    left = amount.amount
    updated = list(instalments)
    allocations: list[Allocation] = []
    for n in _payment_order(updated):
        if left == 0:
            break
        inst = updated[n]
        part = min(left, inst.open_amount)
        left = CONTEXT.subtract(left, part)
        paid = CONTEXT.add(inst.paid, part)
        updated[n] = inst.model_copy(
            update={"paid": paid, "closed_at": at if paid == inst.amount else None}
        )
        allocations.append(Allocation(instalment_id=inst.instalment_id, amount=part))
    return PaymentResult(instalments=tuple(updated), allocations=tuple(allocations), surplus=left)


def overdue(instalments: Iterable[Instalment], now: datetime) -> tuple[Instalment, ...]:
    """Open instalments whose due date ``now`` has passed (grace or not: late is late)."""
    return tuple(i for i in instalments if i.open_amount > 0 and now > i.due)


def in_default(instalments: Iterable[Instalment], day: date) -> tuple[Instalment, ...]:
    """Open instalments that accrue default interest on ``day`` (past due + grace)."""
    return tuple(i for i in instalments if i.open_amount > 0 and day >= i.default_from)


def default_interest(
    instalments: Sequence[Instalment], day: date, annual_rate: Decimal, day_count: DayCount
) -> Decimal:
    """The default (penalty) interest ``day`` accrues on the amounts in default.

    Pass the instalments as they stand at the end of ``day`` (as daily interest is charged on
    the end-of-day principal). ``annual_rate`` is the plan's ``default_rate``: it comes on top
    of the facility's interest, which the engine accrues as before.
    """
    currency = _currency(instalments)
    if currency is None:
        return ZERO
    base = outstanding(in_default(instalments, day))
    return daily_interest(base, annual_rate, day_count, currency)


def delay(
    instalments: Sequence[Instalment], instalment_id: str, new_due: datetime
) -> tuple[Instalment, ...]:
    """A bank-approved delay: ``instalment_id`` falls due at ``new_due`` instead.

    Only a later date is a delay; an earlier or equal one, an unknown id or a paid instalment
    is refused. ``original_due`` keeps the date first agreed, for the borrower's record.
    """
    new_due = _utc(new_due, "new_due")
    positions = [n for n, i in enumerate(instalments) if i.instalment_id == instalment_id]
    if not positions:
        raise PlanError(f"no instalment {instalment_id} in this plan")
    inst = instalments[positions[0]]
    if inst.open_amount == 0:
        raise PlanError(f"instalment {instalment_id} is paid: nothing to delay")
    if new_due <= inst.due:
        raise PlanError(
            f"a delay must move instalment {instalment_id} later than {inst.due.isoformat()}, "
            f"got {new_due.isoformat()}"
        )
    updated = list(instalments)
    updated[positions[0]] = inst.model_copy(update={"due": new_due})
    return tuple(updated)


def reopen(instalments: Sequence[Instalment], amount: Decimal) -> tuple[Instalment, ...]:
    """Undo ``amount`` of what was paid: principal owed again on the shipment (a value-dated
    tranche re-split a later repayment, or a tranche lent after the plan started).

    Payments are taken back from the instalment paid last in payment order (the one due
    latest) first, so :func:`apply_payment` and this are each other's inverse; what is left
    once nothing is paid is added to the last instalment (principal lent after the start
    falls due with it). Open amounts then add up to what they did plus ``amount``.
    """
    if amount < 0:
        raise PlanError(f"cannot reopen a negative amount, got {amount}")
    if not instalments:
        raise PlanError("no instalments to reopen")
    left = amount
    updated = list(instalments)
    order = sorted(range(len(updated)), key=lambda n: (updated[n].due, updated[n].index))
    for n in reversed(order):
        inst = updated[n]
        back = min(left, inst.paid)
        if back > 0:
            left = CONTEXT.subtract(left, back)
            updated[n] = inst.model_copy(
                update={"paid": CONTEXT.subtract(inst.paid, back), "closed_at": None}
            )
    if left > 0:
        last = max(range(len(updated)), key=lambda n: updated[n].index)
        inst = updated[last]
        updated[last] = inst.model_copy(
            update={"amount": CONTEXT.add(inst.amount, left), "closed_at": None}
        )
    return tuple(updated)
