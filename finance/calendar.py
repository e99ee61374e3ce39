"""The funding calendar: which drawdowns and repayments a facility should expect, and when.

A projection, not a promise, and not a second run of the pledge engine. Its inputs are what
the worker published and the API's read model already holds:

* the facility's **position**, folded from its ledger (:mod:`finance.positions`): outstanding
  principal, and per shipment what was drawn at which milestone and what is still lent;
* the facility's **terms** (schedule, advance rates, concentration cap, limit);
* the latest **borrowing base** and its per-shipment collateral lines (``BorrowingBaseChanged``:
  value in the facility currency, haircut, status), which is the engine's own valuation;
* each pledged shipment's **plan** (its booking), latest **ETA** and the **milestones reached**
  (``shipments.events``).

For every pledged shipment still under way it walks the milestones not yet reached, dates them
from the plan (the latest ETA moves the arrival and what follows it), and prices each scheduled
tranche from the collateral line at the advance rate of the status the milestone brings. The
delivery line repays what would then be lent against the shipment. Whether a tranche is
actually released is decided at the milestone by the rules (headroom, condition, freeze).

A milestone expected before the window starts and not reached is ``overdue`` (a late shipment
is what a treasurer wants to see first); one that was reached inside the window is ``done``,
with the amount the ledger says was drawn.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, localcontext
from typing import Literal

from finance.collateral import MILESTONE_ORDER, STATUS_AFTER
from finance.money import CONTEXT, round_down
from finance.positions import Position, ShipmentPosition, by_shipment
from tradelane.contracts import CollateralStatus, Facility, Milestone, Money
from tradelane.contracts.finance import CollateralLine

DELIVERY_LAG = timedelta(days=2)
"""Expected time from arrival at destination to delivery, when the plan does not say."""

LineStatus = Literal["expected", "overdue", "done"]


@dataclass(frozen=True, slots=True)
class ShipmentPlan:
    """What is known of one pledged shipment's progress: planned milestone times (from its
    booking), the latest ETA and the milestones reached (from its events)."""

    shipment_id: str
    planned: Mapping[Milestone, datetime] = field(default_factory=dict)
    eta: datetime | None = None
    reached: Mapping[Milestone, datetime] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CalendarInputs:
    """Everything the calendar is projected from (see the module's docstring)."""

    terms: Facility
    position: Position
    base: Decimal | None
    collateral: Mapping[str, CollateralLine]
    shipments: Mapping[str, ShipmentPlan]
    repaid_shipment: Mapping[int, str | None] = field(default_factory=dict)
    """Ledger seq of a repayment -> the shipment it named (``RepaymentApplied``)."""


@dataclass(frozen=True, slots=True)
class CalendarLine:
    day: date
    kind: Literal["drawdown", "repayment"]
    shipment_id: str
    milestone: Milestone
    amount: Money | None
    """``None`` when the shipment cannot be valued (no cargo value or FX rate yet)."""
    status: LineStatus = "expected"

    @property
    def overdue(self) -> bool:
        return self.status == "overdue"


@dataclass(frozen=True, slots=True)
class FundingCalendar:
    facility_id: str
    currency: str
    start: date
    end: date
    """First day after the window."""
    outstanding: Decimal
    """The ledger's principal (the position's), the same figure every view shows."""
    base: Decimal
    headroom: Decimal
    as_of: datetime | None
    """Event time of the last ledger entry the position reflects."""
    ledger_seq: int | None
    ledger_hash: str
    lines: tuple[CalendarLine, ...]

    def total(self, kind: Literal["drawdown", "repayment"]) -> Decimal:
        """Expected (not done) amounts of ``kind``."""
        return sum(
            (
                line.amount.amount
                for line in self.lines
                if line.kind == kind and line.amount and line.status != "done"
            ),
            Decimal(0),
        )


def expected_times(
    plan: ShipmentPlan, delivery_lag: timedelta = DELIVERY_LAG
) -> dict[Milestone, datetime]:
    """When each milestone is expected, from the booking's plan and the latest ETA."""
    times = dict(plan.planned)
    arrival = plan.eta or times.get(Milestone.ARRIVED_DESTINATION)
    if arrival is None:
        return times
    times[Milestone.ARRIVED_DESTINATION] = arrival
    times.setdefault(Milestone.ENTERED_BONDED_WAREHOUSE, arrival)
    times[Milestone.CUSTOMS_CLEARED] = max(times.get(Milestone.CUSTOMS_CLEARED, arrival), arrival)
    times[Milestone.DELIVERED] = arrival + delivery_lag
    return times


def eligible_at(
    terms: Facility, line: CollateralLine | None, status: CollateralStatus
) -> Decimal | None:
    """The shipment's eligible amount once it has ``status``, from its latest collateral line
    (the engine's rule: value x advance x (1 - haircut), capped, rounded down)."""
    if line is None or line.value is None:
        return None
    advance = terms.advance_rates.get(status, Decimal(0))
    lendable = line.value.amount * advance * (1 - line.haircut)
    cap = terms.concentration_limit * terms.limit.amount
    return round_down(min(lendable, cap), terms.limit.currency)


def _projected(
    inputs: CalendarInputs,
    plan: ShipmentPlan,
    lent: ShipmentPosition,
    start: date,
    end: date,
    lag: timedelta,
) -> list[CalendarLine]:
    terms = inputs.terms
    currency = terms.limit.currency
    line = inputs.collateral.get(plan.shipment_id)
    lines: list[CalendarLine] = []
    principal = lent.principal
    priced = True
    times = expected_times(plan, lag)
    for milestone in MILESTONE_ORDER:
        share = terms.drawdown_schedule.get(milestone.value, Decimal(0))
        reached = plan.reached.get(milestone)
        if reached is not None:
            drawn = lent.drawn.get(milestone)
            day = reached.date()
            if drawn and start <= day < end:
                paid = Money(amount=drawn, currency=currency)
                lines.append(
                    CalendarLine(day, "drawdown", plan.shipment_id, milestone, paid, "done")
                )
            continue
        when = times.get(milestone)
        if when is None:
            continue
        amount: Decimal | None = None
        kind: Literal["drawdown", "repayment"] | None = None
        if milestone is Milestone.DELIVERED:
            kind, amount = "repayment", principal if priced else None
        elif share > 0 and milestone not in lent.drawn:
            kind = "drawdown"
            eligible = eligible_at(terms, line, STATUS_AFTER[milestone])
            if eligible is None:
                priced = False
            else:
                raw = min(share * eligible, eligible - principal)
                amount = max(round_down(raw, currency), Decimal(0))
                principal += amount
        if kind is None or (amount is not None and amount <= 0) or when.date() >= end:
            continue
        money = None if amount is None else Money(amount=amount, currency=currency)
        day = when.date()
        status: LineStatus = "overdue" if day < start else "expected"
        lines.append(CalendarLine(day, kind, plan.shipment_id, milestone, money, status))
    return lines


def _finished(plan: ShipmentPlan, line: CollateralLine | None) -> bool:
    """Delivered or sold: nothing more to expect of it."""
    return Milestone.DELIVERED in plan.reached or (
        line is not None and line.status is CollateralStatus.DELIVERED
    )


def funding_calendar(
    inputs: CalendarInputs,
    start: datetime,
    days: int = 28,
    delivery_lag: timedelta = DELIVERY_LAG,
) -> FundingCalendar:
    """Expected drawdowns and repayments from ``start`` for ``days`` days (overdue first)."""
    terms = inputs.terms
    first, end = start.date(), start.date() + timedelta(days=days)
    pledged = sorted(set(terms.pledged_shipments))
    lent = by_shipment(inputs.position, pledged, inputs.repaid_shipment).shipments
    lines: list[CalendarLine] = []
    with localcontext(CONTEXT):
        for shipment_id in pledged:
            plan = inputs.shipments.get(shipment_id, ShipmentPlan(shipment_id))
            line = inputs.collateral.get(shipment_id)
            if _finished(plan, line):
                continue
            lines.extend(_projected(inputs, plan, lent[shipment_id], first, end, delivery_lag))
    lines.sort(key=lambda x: (not x.overdue, x.day, x.status != "done", x.shipment_id, x.kind))
    base = inputs.base or Decimal(0)
    position = inputs.position
    return FundingCalendar(
        facility_id=terms.facility_id,
        currency=terms.limit.currency,
        start=first,
        end=end,
        outstanding=position.principal,
        base=base,
        headroom=position.headroom(base, terms.limit.amount),
        as_of=position.as_of,
        ledger_seq=position.head_seq,
        ledger_hash=position.head_hash,
        lines=tuple(lines),
    )


def render(calendar: FundingCalendar) -> str:
    """A plain-text table for the terminal."""
    cur = calendar.currency
    last = calendar.end - timedelta(days=1)
    out = [
        f"Funding calendar {calendar.facility_id} ({cur}), {calendar.start} .. {last}",
        f"outstanding {calendar.outstanding:,.2f}  base {calendar.base:,.2f}  "
        f"headroom {calendar.headroom:,.2f}",
        f"ledger {_head(calendar)}",
        "",
        f"{'date':<10}  {'kind':<9}  {'shipment':<16}  {'milestone':<24}  "
        f"{'amount (' + cur + ')':>16}",
    ]
    for line in calendar.lines:
        amount = "no FX rate" if line.amount is None else f"{line.amount.amount:,.2f}"
        flag = "" if line.status == "expected" else f"  {line.status}"
        out.append(
            f"{line.day.isoformat():<10}  {line.kind:<9}  {line.shipment_id:<16}  "
            f"{line.milestone.value:<24}  {amount:>16}{flag}"
        )
    if not calendar.lines:
        out.append("(nothing expected)")
    out += [
        "",
        f"still expected: drawdowns {calendar.total('drawdown'):,.2f} {cur}, "
        f"repayments {calendar.total('repayment'):,.2f} {cur}",
        "(each tranche is decided at its milestone: headroom, condition and freeze apply)",
    ]
    return "\n".join(out) + "\n"


def _head(calendar: FundingCalendar) -> str:
    if calendar.ledger_seq is None:
        return "empty"
    as_of = "" if calendar.as_of is None else f" as of {calendar.as_of.isoformat()}"
    return f"head seq {calendar.ledger_seq} {calendar.ledger_hash[:16]}{as_of}"
