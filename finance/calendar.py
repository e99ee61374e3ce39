"""The seller's forward funding calendar: which drawdowns, repayments and interest a facility
should expect, day by day, and where cash runs short.

A projection, not a promise, and not a second run of the pledge engine: no I/O and no clock
(the window's ``start`` is passed in; callers pass event time). Its inputs are what the worker
published and the API's read model already holds:

* the facility's **position**, folded from its ledger (:mod:`finance.positions`): outstanding
  principal, unpaid interest, and per shipment what was drawn at which milestone and what is
  still lent;
* the facility's **terms** (schedule, advance rates, concentration cap, limit, interest rate,
  day count);
* the latest **borrowing base** and its per-shipment collateral lines (``BorrowingBaseChanged``:
  value in the facility currency, haircut, status), which is the engine's own valuation;
* each pledged shipment's **plan** (its booking), latest **ETA** and the **milestones reached**
  (``shipments.events``).

**Lines.** For every pledged shipment still under way it walks the milestones not yet passed,
dates them (:func:`dated_times`) and prices each scheduled tranche from the collateral line at
the advance rate of the status the milestone brings; the delivery line repays what would then
be lent against the shipment. Each line states its ``basis`` (what dated it: ``reached``,
``eta``, ``plan`` or ``delivery_lag``; ``accrual`` for interest lines), the time it was dated
from, the ETA used (if any) and a ``certainty``:

* ``certain``: done, the ledger booked it;
* ``firm``: dated by a reported ETA or an actual arrival, and expected within ``firm_days``
  (default 7) of the start;
* ``estimated``: anything else (the booking's plan, the delivery lag, further out, overdue).

A milestone that happened is never ``overdue``: reached inside the window it is a ``done``
line with what the ledger drew; reached before the window, or passed (a later milestone was
reached, the ledger drew at it, or the engine's collateral status is past it) it has no line.
``overdue`` is a milestone expected before the start and not passed: its line keeps its
expected day and moves principal on the window's first day (it may come any moment). Whether a
tranche is released is decided at the milestone by the rules (headroom, condition, freeze).

**Days.** Every day of the window gets a row (:mod:`finance.calendar_days`): drawdowns in,
repayments out, interest accrued, outstanding principal at the end of the day, the projected
base (each shipment's eligible amount at the status its projected milestones bring, a
delivered shipment counting nothing) and headroom, and a cash-gap warning when what the seller
must pay the bank that day exceeds what the facility provides. The rows start from the
ledger's principal (done lines are already in it and do not move the rows). Interest is shown
per day in the rows and as one ``interest`` line per week of the window (seven days from the
start, dated the week's last day; a zero week has no line): it is not principal and moves no
balance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, localcontext
from typing import Literal

from finance.calendar_days import (
    Accrual,
    CalendarDay,
    CalendarWeek,
    CashGap,
    Flow,
    gaps,
    on_grid,
    project_days,
    weeks,
)
from finance.calendar_plans import InstalmentLine, OpenInstalment, open_lines, projected_lines
from finance.collateral import MILESTONE_ORDER, STATUS_AFTER
from finance.money import CONTEXT, round_down
from finance.positions import Position, ShipmentPosition, by_shipment
from tradelane.contracts import CollateralStatus, Facility, Milestone, Money
from tradelane.contracts.finance import CollateralLine
from tradelane.contracts.registries import RepaymentPlanTerms

__all__ = [
    "DAYS_MAX",
    "DELIVERY_LAG",
    "FIRM_DAYS",
    "Basis",
    "CalendarDay",
    "CalendarInputs",
    "CalendarLine",
    "CalendarWeek",
    "CashGap",
    "Certainty",
    "Dated",
    "FundingCalendar",
    "ShipmentPlan",
    "dated_times",
    "eligible_at",
    "expected_times",
    "funding_calendar",
    "render",
]

DELIVERY_LAG = timedelta(days=2)
"""Expected time from arrival at destination to delivery, when the plan does not say."""

FIRM_DAYS = 7
"""A line dated by a reported ETA (or an actual arrival) is ``firm`` this many days ahead."""

DAYS_MAX = 182
"""The longest window served (26 weeks): rows are computed per day."""

LineStatus = Literal["expected", "overdue", "done"]
LineKind = Literal["drawdown", "repayment", "interest"]
Basis = Literal["reached", "eta", "plan", "delivery_lag", "accrual", "instalment"]
"""What dated a line: the milestone's (or the arrival's) actual time, the latest reported ETA,
the booking's planned time, arrival + the delivery lag, or the interest accrual (interest)."""
Certainty = Literal["certain", "firm", "estimated"]

_STATUS_RANK = {
    CollateralStatus.IN_TRANSIT: 1,
    CollateralStatus.IN_WAREHOUSE: 2,
    CollateralStatus.DELIVERED: 3,
}


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
    instalments: Mapping[str, list[OpenInstalment]] = field(default_factory=dict)
    """Shipment -> the open instalments of its staged repayment plan, once the plan started
    (:mod:`finance.calendar_plans`)."""
    """Ledger seq of a repayment -> the shipment it named (``RepaymentApplied``)."""


@dataclass(frozen=True, slots=True)
class Dated:
    """When a milestone is expected and why."""

    when: datetime
    basis: Basis
    dated_from: datetime
    """The time the date derives from (the ETA, the planned or the actual time)."""
    eta: datetime | None = None
    """The reported ETA used, when the date derives from it."""


@dataclass(frozen=True, slots=True)
class CalendarLine:
    day: date
    kind: LineKind
    shipment_id: str | None
    """``None`` for interest lines (the facility's)."""
    milestone: Milestone | None
    """``None`` for interest lines."""
    amount: Money | None
    """``None`` when the shipment cannot be valued (no cargo value or FX rate yet)."""
    status: LineStatus = "expected"
    basis: Basis = "plan"
    dated_from: datetime | None = None
    eta: datetime | None = None
    certainty: Certainty = "estimated"
    instalment_id: str | None = None
    """A staged repayment plan's instalment (a repayment line), else ``None``."""

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
    interest_due: Decimal = Decimal(0)
    """The ledger's unpaid interest (the rows carry it forward)."""
    days: tuple[CalendarDay, ...] = ()
    weeks: tuple[CalendarWeek, ...] = ()
    warnings: tuple[CashGap, ...] = ()
    firm_days: int = FIRM_DAYS

    def total(self, kind: LineKind) -> Decimal:
        """Expected (not done) amounts of ``kind``."""
        return sum(
            (
                line.amount.amount
                for line in self.lines
                if line.kind == kind and line.amount and line.status != "done"
            ),
            Decimal(0),
        )


def _day(at: datetime) -> date:
    """The UTC day of ``at`` (the engine's days are UTC days)."""
    return at.astimezone(UTC).date()


def _arrival(plan: ShipmentPlan, planned: Mapping[Milestone, datetime]) -> Dated | None:
    """Arrival at destination: the actual one, else the latest ETA, else the plan."""
    reached = plan.reached.get(Milestone.ARRIVED_DESTINATION)
    if reached is not None:
        return Dated(reached, "reached", reached)
    if plan.eta is not None:
        return Dated(plan.eta, "eta", plan.eta, plan.eta)
    at = planned.get(Milestone.ARRIVED_DESTINATION)
    return None if at is None else Dated(at, "plan", at)


def dated_times(
    plan: ShipmentPlan, delivery_lag: timedelta = DELIVERY_LAG
) -> dict[Milestone, Dated]:
    """When each milestone happened or is expected, and what dated it.

    Reached milestones keep their actual time. The arrival is the actual one, else the latest
    ETA, else the plan; warehouse entry is expected at arrival, customs clearance at arrival
    or at its planned time if later, delivery ``delivery_lag`` after arrival. A milestone not
    reached is never expected before one that precedes it (it takes that one's date)."""
    times: dict[Milestone, Dated] = {m: Dated(t, "plan", t) for m, t in plan.planned.items()}
    arrival = _arrival(plan, plan.planned)
    if arrival is not None:
        times[Milestone.ARRIVED_DESTINATION] = arrival
        times.setdefault(Milestone.ENTERED_BONDED_WAREHOUSE, arrival)
        customs = times.get(Milestone.CUSTOMS_CLEARED)
        if customs is None or customs.when < arrival.when:
            times[Milestone.CUSTOMS_CLEARED] = arrival
        delivery = arrival.when + delivery_lag
        times[Milestone.DELIVERED] = Dated(delivery, "delivery_lag", arrival.when, arrival.eta)
    for milestone, at in plan.reached.items():
        times[milestone] = Dated(at, "reached", at)
    floor: Dated | None = None
    for milestone in MILESTONE_ORDER:
        dated = times.get(milestone)
        if dated is None:
            continue
        if floor is not None and milestone not in plan.reached and dated.when < floor.when:
            times[milestone] = dated = floor
        floor = dated if floor is None or dated.when >= floor.when else floor
    return times


def expected_times(
    plan: ShipmentPlan, delivery_lag: timedelta = DELIVERY_LAG
) -> dict[Milestone, datetime]:
    """When each milestone is expected (:func:`dated_times` without the why)."""
    return {m: d.when for m, d in dated_times(plan, delivery_lag).items()}


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


def passed(
    plan: ShipmentPlan, lent: ShipmentPosition, line: CollateralLine | None
) -> set[Milestone]:
    """Milestones that happened, whether or not their event reached the read model: those
    reached, those before the furthest reached (a tracker missed one), those the ledger drew
    at, and those up to the first bringing the engine's current collateral status (events and
    bases travel on different topics)."""
    done = set(plan.reached) | set(lent.drawn)
    status = None if line is None else line.status
    if status is not None:
        rank = _STATUS_RANK[status]
        first = next(m for m in MILESTONE_ORDER if _STATUS_RANK[STATUS_AFTER[m]] >= rank)
        done |= set(MILESTONE_ORDER[: MILESTONE_ORDER.index(first) + 1])
    furthest = max((MILESTONE_ORDER.index(m) for m in done), default=-1)
    return set(MILESTONE_ORDER[: furthest + 1])


@dataclass(frozen=True, slots=True)
class _Window:
    first: date
    end: date
    firm_days: int
    currency: str


@dataclass(slots=True)
class _Shipment:
    """One shipment's projection: its lines and the status changes its milestones bring."""

    lines: list[CalendarLine] = field(default_factory=list)
    changes: list[tuple[date, CollateralStatus]] = field(default_factory=list)


def _certainty(dated: Dated, day: date, window: _Window) -> Certainty:
    near = 0 <= (day - window.first).days < window.firm_days
    return "firm" if near and dated.basis in ("eta", "reached") else "estimated"


def _done(plan: ShipmentPlan, lent: ShipmentPosition, window: _Window) -> list[CalendarLine]:
    """Milestones reached inside the window with what the ledger drew at them."""
    lines = []
    for milestone in MILESTONE_ORDER:
        at, drawn = plan.reached.get(milestone), lent.drawn.get(milestone)
        if at is None or not drawn or not window.first <= _day(at) < window.end:
            continue
        paid = Money(amount=on_grid(drawn, window.currency), currency=window.currency)
        lines.append(
            CalendarLine(
                day=_day(at),
                kind="drawdown",
                shipment_id=plan.shipment_id,
                milestone=milestone,
                amount=paid,
                status="done",
                basis="reached",
                dated_from=at,
                certainty="certain",
            )
        )
    return lines


def _projected(
    inputs: CalendarInputs,
    plan: ShipmentPlan,
    lent: ShipmentPosition,
    window: _Window,
    lag: timedelta,
) -> _Shipment:
    terms, cur = inputs.terms, window.currency
    line = inputs.collateral.get(plan.shipment_id)
    found = _Shipment(_done(plan, lent, window))
    principal, priced = lent.principal, True
    times = dated_times(plan, lag)
    gone = passed(plan, lent, line)
    for milestone in MILESTONE_ORDER:
        dated = times.get(milestone)
        if milestone in gone or dated is None or _day(dated.when) >= window.end:
            continue
        day = _day(dated.when)
        found.changes.append((max(day, window.first), STATUS_AFTER[milestone]))
        amount: Decimal | None = None
        kind: LineKind | None = None
        share = terms.drawdown_schedule.get(milestone.value, Decimal(0))
        if milestone is Milestone.DELIVERED and terms.repayment_plan is not None and priced:
            found.lines += _planned(
                plan.shipment_id, principal, dated, window, terms.repayment_plan
            )
            continue
        if milestone is Milestone.DELIVERED:
            kind, amount = "repayment", principal if priced else None
        elif share > 0:
            kind = "drawdown"
            eligible = eligible_at(terms, line, STATUS_AFTER[milestone])
            if eligible is None:
                priced = False
            else:
                raw = min(share * eligible, eligible - principal)
                amount = max(round_down(raw, cur), Decimal(0))
                principal += amount
        if kind is None or (amount is not None and amount <= 0):
            continue
        money = None if amount is None else Money(amount=on_grid(amount, cur), currency=cur)
        status: LineStatus = "overdue" if day < window.first else "expected"
        certainty = "estimated" if status == "overdue" else _certainty(dated, day, window)
        found.lines.append(
            CalendarLine(
                day=day,
                kind=kind,
                shipment_id=plan.shipment_id,
                milestone=milestone,
                amount=money,
                status=status,
                basis=dated.basis,
                dated_from=dated.dated_from,
                eta=dated.eta,
                certainty=certainty,
            )
        )
    return found


def _instalment_line(
    shipment_id: str, found: InstalmentLine, window: _Window, certainty: Certainty, when: Dated
) -> CalendarLine:
    return CalendarLine(
        day=found.day,
        kind="repayment",
        shipment_id=shipment_id,
        milestone=Milestone.DELIVERED,
        amount=Money(amount=on_grid(found.amount, window.currency), currency=window.currency),
        status="overdue" if found.overdue else "expected",
        basis=when.basis,
        dated_from=when.dated_from,
        eta=when.eta,
        certainty=certainty,
        instalment_id=found.instalment_id,
    )


def _instalments(
    shipment_id: str, instalments: list[OpenInstalment], window: _Window
) -> list[CalendarLine]:
    """The open instalments of a plan that started, in the window (overdue ones too)."""
    out: list[CalendarLine] = []
    for found in open_lines(instalments, window.first):
        if found.day >= window.end:
            continue
        due = datetime(found.day.year, found.day.month, found.day.day, tzinfo=UTC)
        when = Dated(due, "instalment", due)
        out.append(_instalment_line(shipment_id, found, window, "firm", when))
    return out


def _planned(
    shipment_id: str, principal: Decimal, dated: Dated, window: _Window, terms: RepaymentPlanTerms
) -> list[CalendarLine]:
    """The instalments a plan will set at the expected delivery, in the window."""
    found = projected_lines(shipment_id, principal, window.currency, dated.when, terms)
    return [
        _instalment_line(shipment_id, f, window, "estimated", dated)
        for f in found
        if f.day < window.end
    ]


def _finished(plan: ShipmentPlan, line: CollateralLine | None) -> bool:
    """Delivered or sold: nothing more to expect of it."""
    return Milestone.DELIVERED in plan.reached or (
        line is not None and line.status is CollateralStatus.DELIVERED
    )


def _eligible_by_day(
    terms: Facility,
    line: CollateralLine | None,
    changes: list[tuple[date, CollateralStatus]],
    days: list[date],
) -> list[Decimal]:
    """The change of one shipment's eligible amount, per day, from the latest base's: each
    projected status at the engine's rule; delivered counts nothing; unknown value: no change."""
    now = Decimal(0) if line is None else line.eligible.amount
    status = None if line is None else line.status
    out: list[Decimal] = []
    pending = sorted(changes)
    for day in days:
        while pending and pending[0][0] <= day:
            status = pending.pop(0)[1]
        if status is None or (line is not None and status is line.status):
            out.append(Decimal(0))
        elif status is CollateralStatus.DELIVERED:
            out.append(-now)
        else:
            later = eligible_at(terms, line, status)
            out.append(Decimal(0) if later is None else later - now)
    return out


def _base_on(
    inputs: CalendarInputs,
    changes: Mapping[str, list[tuple[date, CollateralStatus]]],
    days: list[date],
) -> dict[date, Decimal]:
    """The projected base at the end of each day."""
    totals = [inputs.base or Decimal(0)] * len(days)
    for shipment_id, found in changes.items():
        line = inputs.collateral.get(shipment_id)
        moves = _eligible_by_day(inputs.terms, line, found, days)
        totals = [t + m for t, m in zip(totals, moves, strict=True)]
    return dict(zip(days, totals, strict=True))


def _interest_lines(found: tuple[CalendarWeek, ...], currency: str) -> list[CalendarLine]:
    return [
        CalendarLine(
            day=week.last,
            kind="interest",
            shipment_id=None,
            milestone=None,
            amount=Money(amount=week.interest, currency=currency),
            basis="accrual",
        )
        for week in found
        if week.interest > 0
    ]


def funding_calendar(
    inputs: CalendarInputs,
    start: datetime,
    days: int = 28,
    delivery_lag: timedelta = DELIVERY_LAG,
    firm_days: int = FIRM_DAYS,
) -> FundingCalendar:
    """Expected drawdowns, repayments and interest from ``start`` for ``days`` days (overdue
    lines first), with a row per day and the cash-gap days."""
    if not 1 <= days <= DAYS_MAX:
        raise ValueError(f"days must be 1..{DAYS_MAX}, not {days}")
    terms, position = inputs.terms, inputs.position
    cur = terms.limit.currency
    first = _day(start)
    window = _Window(first, first + timedelta(days=days), firm_days, cur)
    pledged = sorted(set(terms.pledged_shipments))
    lent = by_shipment(position, pledged, inputs.repaid_shipment).shipments
    lines: list[CalendarLine] = []
    changes: dict[str, list[tuple[date, CollateralStatus]]] = {}
    with localcontext(CONTEXT):
        for shipment_id in pledged:
            plan = inputs.shipments.get(shipment_id, ShipmentPlan(shipment_id))
            if shipment_id in inputs.instalments:  # its plan started: the instalments are due
                lines += _instalments(shipment_id, inputs.instalments[shipment_id], window)
                continue
            if _finished(plan, inputs.collateral.get(shipment_id)):
                continue
            found = _projected(inputs, plan, lent[shipment_id], window, delivery_lag)
            lines += found.lines
            changes[shipment_id] = found.changes
        rows = _rows(inputs, lines, changes, window, days)
    found_weeks = weeks(rows, cur)
    lines += _interest_lines(found_weeks, cur)
    lines.sort(key=_order)
    base = inputs.base or Decimal(0)
    return FundingCalendar(
        facility_id=terms.facility_id,
        currency=cur,
        start=first,
        end=window.end,
        outstanding=position.principal,
        base=base,
        headroom=position.headroom(base, terms.limit.amount),
        as_of=position.as_of,
        ledger_seq=position.head_seq,
        ledger_hash=position.head_hash,
        lines=tuple(lines),
        interest_due=position.interest_due,
        days=rows,
        weeks=found_weeks,
        warnings=gaps(rows),
        firm_days=firm_days,
    )


def _order(line: CalendarLine) -> tuple[bool, date, bool, bool, str, str]:
    """Overdue first, then by day: done, then shipments' lines, then interest."""
    done, interest = line.status != "done", line.kind == "interest"
    return (not line.overdue, line.day, done, interest, line.shipment_id or "", line.kind)


def _rows(
    inputs: CalendarInputs,
    lines: list[CalendarLine],
    changes: Mapping[str, list[tuple[date, CollateralStatus]]],
    window: _Window,
    days: int,
) -> tuple[CalendarDay, ...]:
    terms, position = inputs.terms, inputs.position
    flows: list[Flow] = []
    for line in lines:
        amount = None if line.amount is None else line.amount.amount
        if line.status != "done" and line.kind in ("drawdown", "repayment"):
            kind: Literal["drawdown", "repayment"] = (
                "drawdown" if line.kind == "drawdown" else "repayment"
            )
            flows.append((max(line.day, window.first), kind, amount))
    span = [window.first + timedelta(days=i) for i in range(days)]
    accrual = Accrual(window.currency, terms.limit.amount, terms.interest_rate, terms.day_count)
    return project_days(
        window.first,
        days,
        position.principal,
        position.interest_due,
        flows,
        _base_on(inputs, changes, span),
        accrual,
        None if position.as_of is None else _day(position.as_of),
    )


def render(calendar: FundingCalendar, daily: bool = False) -> str:
    """A plain-text report for the terminal: the lines, a row per week, the days with a line
    or a cash gap (every day with ``daily``) and the cash-gap warnings."""
    cur = calendar.currency
    last = calendar.end - timedelta(days=1)
    out = [
        f"Funding calendar {calendar.facility_id} ({cur}), {calendar.start} .. {last}",
        f"outstanding {calendar.outstanding:,.2f}  base {calendar.base:,.2f}  "
        f"headroom {calendar.headroom:,.2f}  interest due {calendar.interest_due:,.2f}",
        f"ledger {_head(calendar)}",
        "",
        *_render_lines(calendar),
        "",
        *_render_weeks(calendar),
        "",
        *_render_days(calendar, daily),
        "",
        *_render_gaps(calendar),
        f"still expected: drawdowns {calendar.total('drawdown'):,.2f} {cur}, "
        f"repayments {calendar.total('repayment'):,.2f} {cur}, "
        f"interest {calendar.total('interest'):,.2f} {cur}",
        "(each tranche is decided at its milestone: headroom, condition and freeze apply)",
    ]
    return "\n".join(out) + "\n"


def _render_lines(calendar: FundingCalendar) -> list[str]:
    out = [
        f"{'date':<10}  {'kind':<9}  {'shipment':<16}  {'milestone':<24}  "
        f"{'amount (' + calendar.currency + ')':>16}  {'status':<8}  {'basis':<12}  certainty"
    ]
    for line in calendar.lines:
        amount = "no FX rate" if line.amount is None else f"{line.amount.amount:,.2f}"
        milestone = "-" if line.milestone is None else line.milestone.value
        out.append(
            f"{line.day.isoformat():<10}  {line.kind:<9}  {line.shipment_id or '-':<16}  "
            f"{milestone:<24}  {amount:>16}  {line.status:<8}  {line.basis:<12}  "
            f"{line.certainty}"
        )
    if not calendar.lines:
        out.append("(nothing expected)")
    return out


_ROW_HEAD = (
    f"{'drawdowns':>12}  {'repayments':>12}  {'interest':>9}  {'outstanding':>13}  {'headroom':>13}"
)


def _render_weeks(calendar: FundingCalendar) -> list[str]:
    head = _ROW_HEAD.replace(f"{'headroom':>13}", f"{'min headroom':>13}")
    out = [f"{'week':<10}  {'to':<10}  {head}  {'short':>12}"]
    for w in calendar.weeks:
        figures = (w.drawdowns, w.repayments, w.interest, w.outstanding, w.headroom_min, w.short)
        d, r, i, o, h, s = (f"{x:,.2f}" for x in figures)
        out.append(
            f"{w.start.isoformat():<10}  {w.last.isoformat():<10}  {d:>12}  {r:>12}  {i:>9}  "
            f"{o:>13}  {h:>13}  {s:>12}"
        )
    return out


def _render_days(calendar: FundingCalendar, daily: bool) -> list[str]:
    shown = [
        r for r in calendar.days if daily or r.drawdowns or r.repayments or r.short or r.unpriced
    ]
    title = "every day" if daily else "days with a drawdown, a repayment or a cash gap"
    out = [f"{title}:", f"{'date':<10}  {_ROW_HEAD}  {'due':>12}  {'available':>13}  short"]
    for r in shown:
        figures = (r.drawdowns, r.repayments, r.interest, r.outstanding, r.headroom)
        d, p, i, o, h, due, av, s = (f"{x:,.2f}" for x in (*figures, r.due, r.available, r.short))
        flag = f"  ({r.unpriced} unpriced)" if r.unpriced else ""
        out.append(
            f"{r.day.isoformat():<10}  {d:>12}  {p:>12}  {i:>9}  {o:>13}  {h:>13}  {due:>12}  "
            f"{av:>13}  {s}{flag}"
        )
    if not shown:
        out.append("(none)")
    return out


def _render_gaps(calendar: FundingCalendar) -> list[str]:
    cur = calendar.currency
    return [
        f"CASH GAP {g.day.isoformat()}: due {g.due:,.2f} {cur}, available {g.available:,.2f}, "
        f"short {g.short:,.2f} {cur}"
        for g in calendar.warnings
    ]


def _head(calendar: FundingCalendar) -> str:
    if calendar.ledger_seq is None:
        return "empty"
    as_of = "" if calendar.as_of is None else f" as of {calendar.as_of.isoformat()}"
    return f"head seq {calendar.ledger_seq} {calendar.ledger_hash[:16]}{as_of}"
