"""Reminders to the borrower of the drawdowns and repayments it can expect soon.

Once a day of event time (the first input of a new day), and whenever an estimate moves a
shipment's ETA (a redelivered or superseded estimate moves nothing, so it reviews nothing),
the engine lists each pledged shipment's expected lines - a drawdown per scheduled milestone
not yet reached and not yet lent, the repayment at delivery - dated as the funding calendar
dates them (:func:`finance.calendar.expected_times`: the booking's plan, the latest ETA for
arrival and what follows). A line expected within ``Facility.reminder_days`` days is
announced once as a :class:`~tradelane.contracts.seller.FundingReminder`, and again only when
its date moves by more than a day. Dates are event time: replaying a facility sends the same
reminders with the same ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from finance.calendar import ShipmentPlan, expected_times
from finance.calendar_plans import projected_lines
from finance.collateral import MILESTONE_ORDER, STATUS_AFTER, valuation
from finance.drawdowns import scheduled_share
from finance.facility_state import FacilityState, ShipmentCollateral
from finance.money import round_down
from finance.step import Step
from finance.tranche_decisions import CLOSED
from tradelane.contracts import Milestone
from tradelane.contracts.seller import FundingReminder

MOVED = timedelta(days=1)
"""A line is reminded again when its date moves by more than this."""
_FROM_ARRIVAL = frozenset(MILESTONE_ORDER[MILESTONE_ORDER.index(Milestone.ARRIVED_DESTINATION) :])


@dataclass(frozen=True, slots=True)
class ExpectedLine:
    kind: str
    """``drawdown`` or ``repayment``."""
    milestone: Milestone
    on: date
    amount: Decimal | None
    basis: str
    instalment_id: str | None = None
    """A started plan's instalment."""
    seq: int = 0
    """The n-th instalment (from 1) a plan not started yet will set."""

    @property
    def key(self) -> str:
        if self.instalment_id is not None:
            return f"instalment:{self.instalment_id}"
        return f"{self.kind}:{self.milestone.value}" + (f":{self.seq}" if self.seq else "")


def expected_lines(
    state: FacilityState, shipment: ShipmentCollateral, until: date | None = None
) -> list[ExpectedLine]:
    """The shipment's drawdowns and repayment still to come, dated and estimated now;
    ``until``: only those dated up to that day (the milestones are dated in their order, so
    the first one later ends the list, and nothing after it is valued)."""
    if shipment.plan_start is not None:  # its staged repayment plan started
        return _open_instalments(shipment)
    plan = ShipmentPlan(shipment.shipment_id, shipment.planned, shipment.eta, shipment.reached)
    times = expected_times(plan)
    principal = shipment.principal
    lines: list[ExpectedLine] = []
    for milestone in MILESTONE_ORDER:
        when = times.get(milestone)
        if milestone in shipment.reached or when is None:
            continue
        if until is not None and when.date() > until:
            break
        basis = "eta" if shipment.eta is not None and milestone in _FROM_ARRIVAL else "plan"
        if milestone is Milestone.DELIVERED:
            lines += _at_delivery(state, shipment, when, principal, basis)
            continue
        if not _drawable(state, shipment, milestone):
            continue
        amount = _tranche(state, shipment, milestone, principal)
        if amount is not None:
            principal += amount
        if amount is None or amount > 0:
            lines.append(ExpectedLine("drawdown", milestone, when.date(), amount, basis))
    return lines


def _open_instalments(shipment: ShipmentCollateral) -> list[ExpectedLine]:
    return [
        ExpectedLine(
            "repayment", Milestone.DELIVERED, i.due.date(), i.open_amount, "plan", i.instalment_id
        )
        for i in shipment.instalments
        if i.open_amount > 0
    ]


def _at_delivery(
    state: FacilityState,
    shipment: ShipmentCollateral,
    when: datetime,
    principal: Decimal,
    basis: str,
) -> list[ExpectedLine]:
    """What delivery brings: the repayment, or with a staged plan the instalments it sets."""
    terms = state.terms
    if terms is None or terms.repayment_plan is None:
        return [ExpectedLine("repayment", Milestone.DELIVERED, when.date(), principal, basis)]
    found = projected_lines(
        shipment.shipment_id, principal, terms.limit.currency, when, terms.repayment_plan
    )
    return [
        ExpectedLine("repayment", Milestone.DELIVERED, f.day, f.amount, basis, seq=n)
        for n, f in enumerate(found, 1)
    ]


def _drawable(state: FacilityState, shipment: ShipmentCollateral, milestone: Milestone) -> bool:
    return (
        scheduled_share(state, milestone) > 0
        and milestone not in shipment.drawn
        and shipment.attempted.get(milestone) not in CLOSED
    )


def _tranche(
    state: FacilityState, shipment: ShipmentCollateral, milestone: Milestone, principal: Decimal
) -> Decimal | None:
    """The milestone's tranche if the shipment were valued at the status it brings."""
    found = valuation(state, shipment, STATUS_AFTER[milestone])
    if found is None or state.currency is None:
        return None
    raw = min(scheduled_share(state, milestone) * found.eligible, found.eligible - principal)
    return max(round_down(raw, state.currency), Decimal(0))


def due(line: ExpectedLine, reminded: date | None, today: date, lead_days: int) -> bool:
    """Whether to remind ``line`` today: expected within the lead and not yet reminded for
    (about) this date."""
    if not today <= line.on <= today + timedelta(days=lead_days):
        return False
    return reminded is None or abs(line.on - reminded) > MOVED


def remind(step: Step, shipment: ShipmentCollateral) -> None:
    """Send the reminders of ``shipment`` that are due at the facility clock."""
    state = step.state
    terms, now = state.terms, step.now
    if terms is None or now is None or not terms.reminder_days:
        return
    if not state.pledged(shipment.shipment_id):
        return
    confirming = terms.confirmation is not None
    horizon = now.date() + timedelta(days=terms.reminder_days)
    for line in expected_lines(state, shipment, horizon):
        before = shipment.reminded.get(line.key)
        if not due(line, before, now.date(), terms.reminder_days):
            continue
        shipment.reminded[line.key] = line.on
        step.emit(
            FundingReminder(
                facility_id=state.facility_id,
                shipment_id=shipment.shipment_id,
                line="drawdown" if line.kind == "drawdown" else "repayment",
                milestone=line.milestone,
                expected_on=line.on,
                amount=None if line.amount is None else step.money(line.amount),
                basis="eta" if line.basis == "eta" else "plan",
                needs_confirmation=confirming
                and line.kind == "drawdown"
                and line.milestone not in shipment.choices,
                previous_expected_on=before,
                instalment_id=line.instalment_id,
                at=now,
            ),
            shipment.shipment_id,
            line.key,
            line.on.isoformat(),
        )


def eta_observed(step: Step, shipment: ShipmentCollateral, before: datetime | None) -> None:
    """An ETA estimate was folded into ``shipment``, whose ETA was ``before``: review its lines
    only if the estimate moved the ETA.

    Why not on every estimate: a redelivered or superseded estimate moves nothing, yet a
    review at that point runs at a later facility clock and sees whatever else changed since
    the day's review (a milestone reached, a booking arriving late), so it sent reminders the
    first delivery never sent - a replay did not give the same outputs."""
    if shipment.eta != before:
        remind(step, shipment)


def daily(step: Step) -> None:
    """On the first input of a new day (event time), review every pledged shipment."""
    state = step.state
    now = step.now
    if state.terms is None or now is None or not state.terms.reminder_days:
        return
    if state.reminders_on is not None and state.reminders_on >= now.date():
        return
    state.reminders_on = now.date()
    for shipment in list(state.shipments.values()):
        remind(step, shipment)
