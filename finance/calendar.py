"""The funding calendar: which drawdowns and repayments a facility should expect, and when.

A projection from the engine's state, not a promise: for every pledged shipment still under
way it walks the milestones not yet reached, dates them from the plan (the latest ETA moves the
arrival and what follows it), and prices each scheduled tranche the way the engine would today
(current FX, current haircut, the advance rate of the status the milestone brings). The
delivery line repays what would then be lent against the shipment. Whether a tranche is
actually released is decided at the milestone, by the rules (headroom, condition, freeze).

Milestones expected before the window starts but not yet reached are listed as overdue, since
a late shipment is exactly what a treasurer wants to see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, localcontext
from typing import Literal

from finance.collateral import MILESTONE_ORDER, STATUS_AFTER, borrowing_base, valuation
from finance.drawdowns import scheduled_share
from finance.facility_state import FacilityState, ShipmentCollateral
from finance.money import CONTEXT, round_down
from tradelane.contracts import Milestone, Money

DELIVERY_LAG = timedelta(days=2)
"""Expected time from arrival at destination to delivery, when the plan does not say."""


@dataclass(frozen=True, slots=True)
class CalendarLine:
    day: date
    kind: Literal["drawdown", "repayment"]
    shipment_id: str
    milestone: Milestone
    amount: Money | None
    """``None`` when the shipment cannot be valued now (no FX rate or cargo value)."""
    overdue: bool = False


@dataclass(frozen=True, slots=True)
class FundingCalendar:
    facility_id: str
    currency: str
    start: date
    end: date
    """First day after the window."""
    outstanding: Decimal
    base: Decimal
    lines: tuple[CalendarLine, ...]

    def total(self, kind: Literal["drawdown", "repayment"]) -> Decimal:
        return sum(
            (line.amount.amount for line in self.lines if line.kind == kind and line.amount),
            Decimal(0),
        )


def expected_times(
    shipment: ShipmentCollateral, delivery_lag: timedelta = DELIVERY_LAG
) -> dict[Milestone, datetime]:
    """When each milestone is expected, from the booking's plan and the latest ETA."""
    plan = dict(shipment.planned)
    arrival = shipment.eta or plan.get(Milestone.ARRIVED_DESTINATION)
    if arrival is None:
        return plan
    plan[Milestone.ARRIVED_DESTINATION] = arrival
    plan.setdefault(Milestone.ENTERED_BONDED_WAREHOUSE, arrival)
    plan[Milestone.CUSTOMS_CLEARED] = max(plan.get(Milestone.CUSTOMS_CLEARED, arrival), arrival)
    plan[Milestone.DELIVERED] = arrival + delivery_lag
    return plan


def _projected(
    state: FacilityState, shipment: ShipmentCollateral, start: date, end: date, lag: timedelta
) -> list[CalendarLine]:
    currency = state.currency
    assert currency is not None
    lines: list[CalendarLine] = []
    principal = shipment.principal
    priced = True
    times = expected_times(shipment, lag)
    for milestone in MILESTONE_ORDER:
        when = times.get(milestone)
        if when is None or milestone in shipment.reached:
            continue
        amount: Decimal | None = None
        kind: Literal["drawdown", "repayment"] | None = None
        share = scheduled_share(state, milestone)
        if milestone is Milestone.DELIVERED:
            kind, amount = "repayment", principal if priced else None
        elif share > 0 and milestone not in shipment.drawn:
            kind = "drawdown"
            found = valuation(state, shipment, STATUS_AFTER[milestone])
            if found is None:
                priced = False
            else:
                raw = min(share * found.eligible, found.eligible - principal)
                amount = max(round_down(raw, currency), Decimal(0))
                principal += amount
        if kind is None or (amount is not None and amount <= 0) or when.date() >= end:
            continue
        money = None if amount is None else Money(amount=amount, currency=currency)
        day = when.date()
        lines.append(CalendarLine(day, kind, shipment.shipment_id, milestone, money, day < start))
    return lines


def funding_calendar(
    state: FacilityState,
    start: datetime,
    days: int = 28,
    delivery_lag: timedelta = DELIVERY_LAG,
) -> FundingCalendar:
    """Expected drawdowns and repayments from ``start`` for ``days`` days (overdue first)."""
    terms = state.terms
    if terms is None:
        raise ValueError(f"facility {state.facility_id!r} has no terms yet")
    first, end = start.date(), start.date() + timedelta(days=days)
    lines: list[CalendarLine] = []
    with localcontext(CONTEXT):
        for shipment_id in sorted(set(terms.pledged_shipments)):
            shipment = state.shipments.get(shipment_id)
            if shipment is None or shipment.sold or shipment.proceeds_applied:
                continue
            lines.extend(_projected(state, shipment, first, end, delivery_lag))
        base = borrowing_base(state).base
    lines.sort(key=lambda line: (not line.overdue, line.day, line.shipment_id, line.kind))
    return FundingCalendar(
        facility_id=state.facility_id,
        currency=terms.limit.currency,
        start=first,
        end=end,
        outstanding=state.principal,
        base=base,
        lines=tuple(lines),
    )


def render(calendar: FundingCalendar) -> str:
    """A plain-text table for the terminal."""
    cur = calendar.currency
    last = calendar.end - timedelta(days=1)
    out = [
        f"Funding calendar {calendar.facility_id} ({cur}), {calendar.start} .. {last}",
        f"outstanding {calendar.outstanding:,.2f}  base {calendar.base:,.2f}  "
        f"headroom {calendar.base - calendar.outstanding:,.2f}",
        "",
        f"{'date':<10}  {'kind':<9}  {'shipment':<16}  {'milestone':<24}  "
        f"{'amount (' + cur + ')':>16}",
    ]
    for line in calendar.lines:
        amount = "no FX rate" if line.amount is None else f"{line.amount.amount:,.2f}"
        flag = "  overdue" if line.overdue else ""
        out.append(
            f"{line.day.isoformat():<10}  {line.kind:<9}  {line.shipment_id:<16}  "
            f"{line.milestone.value:<24}  {amount:>16}{flag}"
        )
    if not calendar.lines:
        out.append("(nothing expected)")
    out += [
        "",
        f"expected drawdowns {calendar.total('drawdown'):,.2f} {cur}, "
        f"repayments {calendar.total('repayment'):,.2f} {cur}",
        "(each tranche is decided at its milestone: headroom, condition and freeze apply)",
    ]
    return "\n".join(out) + "\n"
