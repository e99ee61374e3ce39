"""Staged repayment plans, enforced: instalments on the shipment's record, kept equal to the
principal the ledger says the shipment owes.

A facility with ``Facility.repayment_plan`` is not repaid from delivery or sale proceeds (no
``PendingProceeds`` is queued for it): when a pledged shipment reaches the plan's start event
(``delivered``, or ``sale``; a sale before delivery starts a ``delivered`` plan too, the goods
have left the base), its principal then lent is cut into instalments
(:func:`finance.repayment_plan.plan_for`) and announced (``RepaymentPlanSet``). From then on
the ledger stays the one source of balances: every repayment goes through the existing
waterfall (interest first, then principal of the named shipment, or of every shipment in id
order), and after each step :func:`settle` makes the plan follow the shipment's principal -
principal repaid is allocated to its oldest open instalment first
(:func:`~finance.repayment_plan.apply_payment`), principal owed again (a value-dated tranche
re-splitting a later repayment, a tranche lent after the start) is taken back from the
instalments paid last (:func:`~finance.repayment_plan.reopen`). So the open instalments of a
shipment always add up to its principal, and no payment can repay more than is owed.

As the facility clock passes an open instalment's due date + grace, it is announced once
(``InstalmentOverdue``); each day closed after that accrues the plan's default rate on the
amounts in default (:func:`default_day`), posted as a ``default_interest`` ledger entry.

The borrower's delay requests and the bank's answers are :func:`delay_requested` and
:func:`delay_decided`: each request id applies once; the borrower (or an operator) asks, the
bank (or an operator) decides; an approval moves the instalment with
:func:`~finance.repayment_plan.delay`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Literal

from finance import credit
from finance.facility_state import DelayAsk, FacilityState, ShipmentCollateral
from finance.money import identity
from finance.repayment_plan import (
    Instalment,
    apply_payment,
    default_interest,
    delay,
    outstanding,
    plan_for,
    reopen,
)
from finance.step import Step
from tradelane.contracts.finance import (
    Direction,
    LedgerAccount,
    LedgerEntryKind,
    RepaymentApplied,
    ResultCode,
    SaleReported,
)
from tradelane.contracts.plans import (
    DefaultInterestAccrued,
    InstalmentOverdue,
    InstalmentPaid,
    PlannedInstalment,
    RepaymentPlanSet,
)
from tradelane.contracts.registries import PlanStart
from tradelane.contracts.seller import (
    DelayCode,
    RepaymentDelayDecided,
    RepaymentDelayRecorded,
    RepaymentDelayRequested,
)
from tradelane.tenancy import acts_for

ZERO = Decimal(0)


def governed(state: FacilityState) -> bool:
    """The facility's terms state a plan: proceeds repay nothing automatically."""
    return state.terms is not None and state.terms.repayment_plan is not None


def start(step: Step, shipment: ShipmentCollateral, event: PlanStart, at: datetime) -> None:
    """``event`` (delivery or sale) happened to ``shipment`` at ``at``: start its plan if the
    facility's plan counts from it (a sale also starts a ``delivered`` plan not yet started).
    Once per shipment: a redelivered delivery or a second sale starts nothing."""
    terms = step.state.terms
    if terms is None or terms.repayment_plan is None or shipment.plan_start is not None:
        return
    if event is not terms.repayment_plan.start and event is not PlanStart.SALE:
        return
    shipment.plan_start = at
    if shipment.principal > 0:
        _create(step, shipment, at)


def _create(step: Step, shipment: ShipmentCollateral, at: datetime) -> None:
    """Cut the shipment's principal into instalments from its plan start; announce them."""
    state = step.state
    terms = state.terms
    assert terms is not None
    assert terms.repayment_plan is not None
    assert shipment.plan_start is not None
    plan = terms.repayment_plan
    principal = step.money(shipment.principal)
    shipment.instalments = list(
        plan_for(shipment.shipment_id, principal, shipment.plan_start, plan)
    )
    state.next_overdue = _next_overdue(state)
    step.emit(
        RepaymentPlanSet(
            facility_id=state.facility_id,
            shipment_id=shipment.shipment_id,
            start=shipment.plan_start,
            start_event=plan.start,
            principal=principal,
            instalments=[
                PlannedInstalment(
                    instalment_id=i.instalment_id,
                    index=i.index,
                    due=i.due,
                    amount=step.money(i.amount),
                )
                for i in shipment.instalments
            ],
            grace_days=plan.grace_days,
            default_rate=plan.default_rate,
            at=at,
        ),
        shipment.shipment_id,
    )


def sold(step: Step, command: SaleReported, result: ResultCode | None) -> None:
    """A sale was reported: under a plan its proceeds repay nothing automatically (the
    queued proceeds are dropped) and it may start the shipment's plan."""
    if result is not ResultCode.OK or not governed(step.state):
        return
    shipment = step.state.shipment(command.shipment_id)
    shipment.pending_proceeds = None
    start(step, shipment, PlanStart.SALE, command.at)


def settle(step: Step) -> None:
    """At the end of every step: after one that moved money, make each started plan follow
    its shipment's principal (see the module docstring; payments are dated at the step's
    repayment, its value date, else at the clock); then announce what is overdue, so an
    instalment set or moved into the past is announced by the step that did it, not by
    whichever input next moves the clock."""
    state = step.state
    if step.entries and step.now is not None and state.currency is not None:
        _follow_all(step)
    flag_overdue(step)  # a plan set or a due date moved in this step may be overdue already


def _follow_all(step: Step) -> None:
    state = step.state
    assert step.now is not None
    paid_at = max(
        (e.data.at for e in step.events if isinstance(e.data, RepaymentApplied)),
        default=step.now,
    )
    for shipment in state.shipments.values():
        if shipment.plan_start is not None:
            _follow(step, shipment, paid_at)


def _follow(step: Step, shipment: ShipmentCollateral, at: datetime) -> None:
    owed, planned = shipment.principal, outstanding(shipment.instalments)
    if owed == planned:
        return
    if not shipment.instalments:
        _create(step, shipment, step.now or at)
        return
    if owed > planned:
        shipment.instalments = list(reopen(shipment.instalments, owed - planned))
    else:
        before = {i.instalment_id: i for i in shipment.instalments}
        paid = apply_payment(shipment.instalments, step.money(planned - owed), at)
        shipment.instalments = list(paid.instalments)
        for inst in shipment.instalments:
            if inst.closed_at is not None and before[inst.instalment_id].closed_at is None:
                _announce_paid(step, shipment.shipment_id, inst)
                credit.instalment_paid(step, shipment, inst)
    step.state.next_overdue = _next_overdue(step.state)


def _announce_paid(step: Step, shipment_id: str, inst: Instalment) -> None:
    assert inst.closed_at is not None
    step.emit(
        InstalmentPaid(
            facility_id=step.state.facility_id,
            shipment_id=shipment_id,
            instalment_id=inst.instalment_id,
            index=inst.index,
            amount=step.money(inst.amount),
            due=inst.due,
            late=inst.closed_at > inst.due,
            at=inst.closed_at,
        ),
        inst.instalment_id,
        inst.closed_at.isoformat(),
    )


def _overdue_at(inst: Instalment) -> datetime:
    return inst.due + timedelta(days=inst.grace_days)


def _unannounced(state: FacilityState) -> Iterable[tuple[ShipmentCollateral, Instalment]]:
    for shipment in state.shipments.values():
        for inst in shipment.instalments:
            if inst.open_amount > 0 and shipment.overdue_announced.get(inst.instalment_id) != (
                inst.due
            ):
                yield shipment, inst


def _next_overdue(state: FacilityState) -> datetime | None:
    return min((_overdue_at(i) for _, i in _unannounced(state)), default=None)


def flag_overdue(step: Step) -> None:
    """The facility clock moved: announce, once per due date, every open instalment whose due
    date + grace it has passed (in that order, then shipment and position)."""
    state, now = step.state, step.now
    if state.next_overdue is None or now is None or state.next_overdue >= now:
        return
    late = sorted(
        ((_overdue_at(i), s.shipment_id, i.index, s, i) for s, i in _unannounced(state)),
        key=lambda row: row[:3],
    )
    for when, _, _, shipment, inst in late:
        if when >= now:
            break
        shipment.overdue_announced[inst.instalment_id] = inst.due
        step.emit(
            InstalmentOverdue(
                facility_id=state.facility_id,
                shipment_id=shipment.shipment_id,
                instalment_id=inst.instalment_id,
                index=inst.index,
                due=inst.due,
                grace_days=inst.grace_days,
                open_amount=step.money(inst.open_amount),
                default_from=inst.default_from,
                at=when,
            ),
            inst.instalment_id,
            inst.due.isoformat(),
        )
    state.next_overdue = _next_overdue(state)


def default_day(step: Step, day: date) -> Decimal:
    """Post ``day``'s default interest on every instalment in default at its end (one
    rounding for the facility's day, as :func:`finance.repayment_plan.default_interest`);
    returns the amount (zero: nothing posted)."""
    state = step.state
    terms = state.terms
    if terms is None or terms.repayment_plan is None or terms.repayment_plan.default_rate <= 0:
        return ZERO
    every = [i for s in state.shipments.values() for i in s.instalments]
    rate = terms.repayment_plan.default_rate
    amount = default_interest(every, day, rate, terms.day_count) if every else ZERO
    if amount <= 0:
        return ZERO
    base = sum((i.open_amount for i in every if i.open_amount > 0 and day >= i.default_from), ZERO)
    state.interest_due += amount
    end_of_day = datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
    entry = step.post(
        LedgerEntryKind.DEFAULT_INTEREST,
        (day.isoformat(),),
        f"day:{day.isoformat()}",
        end_of_day,
        identity(terms.limit.currency),
        [
            (LedgerAccount.INTEREST_RECEIVABLE, Direction.DEBIT, amount),
            (LedgerAccount.INTEREST_INCOME, Direction.CREDIT, amount),
        ],
    )
    step.emit(
        DefaultInterestAccrued(
            facility_id=state.facility_id,
            day=day,
            in_default=step.money(base),
            annual_rate=rate,
            day_count=terms.day_count,
            amount=step.money(amount),
            interest_due_after=step.money(state.interest_due),
            at=end_of_day,
            ledger_seq=entry.seq,
            ledger_hash=entry.hash,
        ),
        day.isoformat(),
    )
    return amount


# --- delay requests ---------------------------------------------------------------------------


def _refusal(
    shipment: ShipmentCollateral | None, instalment_id: str, new_due: datetime
) -> DelayCode | None:
    """Why ``instalment_id`` cannot be moved to ``new_due`` now (first applicable wins)."""
    if shipment is None or not shipment.instalments:
        return DelayCode.NO_PLAN
    found = [i for i in shipment.instalments if i.instalment_id == instalment_id]
    if not found:
        return DelayCode.UNKNOWN_INSTALMENT
    if found[0].open_amount == 0:
        return DelayCode.INSTALMENT_PAID
    if new_due <= found[0].due:
        return DelayCode.NOT_LATER
    return None


def _due(shipment: ShipmentCollateral | None, instalment_id: str) -> datetime | None:
    found = [] if shipment is None else shipment.instalments
    return next((i.due for i in found if i.instalment_id == instalment_id), None)


def delay_requested(step: Step, ask: RepaymentDelayRequested) -> DelayCode:
    """Hold the borrower's request for the bank's answer (or say why it cannot be held)."""
    state = step.state
    key = f"delay:{ask.request_id}"
    if key in state.handled:
        return DelayCode.ALREADY_APPLIED  # a redelivered request: its first outcome stands
    shipment = state.shipments.get(ask.shipment_id)
    code = (
        DelayCode.NOT_AUTHORISED
        if not acts_for(state.terms, ask.by, "borrower")
        else _refusal(shipment, ask.instalment_id, ask.new_due) or DelayCode.REQUESTED
    )
    if code is DelayCode.REQUESTED:
        assert shipment is not None
        shipment.delay_asks[ask.request_id] = DelayAsk(
            instalment_id=ask.instalment_id, new_due=ask.new_due, at=ask.at
        )
    state.handled[key] = ResultCode.OK
    _record(
        step,
        ask.shipment_id,
        ask.request_id,
        None,
        ask.instalment_id,
        "requested",
        code,
        ask.at,
        ask.new_due,
    )
    return code


def delay_decided(step: Step, answer: RepaymentDelayDecided) -> DelayCode:
    """Apply the bank's answer to a held request: approve moves the instalment's due date."""
    state = step.state
    key = f"delay-decision:{answer.request_id}"
    if key in state.handled:
        return DelayCode.ALREADY_APPLIED
    shipment = state.shipments.get(answer.shipment_id)
    ask = None if shipment is None else shipment.delay_asks.get(answer.delay_request_id)
    code: DelayCode | None = None
    if not acts_for(state.terms, answer.by, "bank"):
        code = DelayCode.NOT_AUTHORISED
    elif ask is None:
        code = DelayCode.UNKNOWN_REQUEST
    elif ask.decided:
        code = DelayCode.ALREADY_DECIDED
    elif answer.approve:
        code = _refusal(shipment, ask.instalment_id, ask.new_due)
    state.handled[key] = ResultCode.OK
    if (
        ask is not None
        and code is not DelayCode.ALREADY_DECIDED
        and code is not (DelayCode.NOT_AUTHORISED)
    ):
        ask.decided = True
    if code is None and shipment is not None and ask is not None:
        code = DelayCode.REFUSED
        if answer.approve:
            shipment.instalments = list(delay(shipment.instalments, ask.instalment_id, ask.new_due))
            state.next_overdue = _next_overdue(state)
            code = DelayCode.APPROVED
    assert code is not None
    decision: Literal["approved", "refused"] = (
        "approved" if code is DelayCode.APPROVED else "refused"
    )
    _record(
        step,
        answer.shipment_id,
        answer.request_id,
        answer.delay_request_id,
        None if ask is None else ask.instalment_id,
        decision,
        code,
        answer.at,
        None if ask is None else ask.new_due,
    )
    return code


def _record(
    step: Step,
    shipment_id: str,
    request_id: str,
    delay_request_id: str | None,
    instalment_id: str | None,
    decision: Literal["requested", "approved", "refused"],
    code: DelayCode,
    at: datetime,
    new_due: datetime | None,
) -> None:
    state = step.state
    shipment = state.shipments.get(shipment_id)
    step.emit(
        RepaymentDelayRecorded(
            facility_id=state.facility_id,
            shipment_id=shipment_id,
            request_id=request_id,
            delay_request_id=delay_request_id,
            instalment_id=instalment_id,
            decision=decision,
            new_due=new_due,
            due_after=None if instalment_id is None else _due(shipment, instalment_id),
            code=code,
            at=at,
        ),
        request_id,
    )
