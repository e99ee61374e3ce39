"""Staged repayment plans in the funding calendar: instalments instead of one repayment.

A facility with ``repayment_plan`` is not repaid at delivery: the principal lent on a shipment
falls due in instalments counted from the delivery (or sale). The calendar shows

* for a shipment whose plan started (the engine announced ``RepaymentPlanSet``), each
  instalment still open at its due date (after any approved delay), with what is still open
  of it; one already due and unpaid before the window is ``overdue``;
* for a shipment still under way, the instalments the plan will set, projected from the
  expected delivery (the calendar's date for it) and the principal projected to be lent by
  then, split exactly as the engine will split it (:func:`finance.repayment_plan.plan_for`).

Pure, like the rest of the calendar; the read model supplies the open instalments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from finance.repayment_plan import plan_for
from tradelane.contracts import Money
from tradelane.contracts.registries import RepaymentPlanTerms


@dataclass(frozen=True, slots=True)
class OpenInstalment:
    """One instalment of a plan that started: what is still open of it, and when it is due."""

    instalment_id: str
    index: int
    due: datetime
    open: Decimal
    amount: Decimal = Decimal(0)
    """As the plan set it (``open`` is what is left of it)."""


@dataclass(frozen=True, slots=True)
class InstalmentLine:
    instalment_id: str
    day: date
    amount: Decimal
    overdue: bool


def open_lines(instalments: list[OpenInstalment], first: date) -> list[InstalmentLine]:
    """The open instalments of a plan that started, dated; overdue when due before ``first``."""
    return [
        InstalmentLine(i.instalment_id, i.due.date(), i.open, i.due.date() < first)
        for i in sorted(instalments, key=lambda i: (i.due, i.index))
        if i.open > 0
    ]


def projected_lines(
    shipment_id: str,
    principal: Decimal,
    currency: str,
    start: datetime,
    terms: RepaymentPlanTerms,
) -> list[InstalmentLine]:
    """The instalments a plan starting at ``start`` on ``principal`` will set."""
    if principal <= 0:
        return []
    planned = plan_for(shipment_id, Money(amount=principal, currency=currency), start, terms)
    return [
        InstalmentLine(i.instalment_id, i.due.date(), i.amount, False)
        for i in planned
        if i.amount > 0
    ]
