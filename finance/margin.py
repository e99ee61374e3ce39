"""After every input: report a changed borrowing base, and open, cure or expire margin calls.

A margin call opens when outstanding principal exceeds what may be outstanding::

    principal > min(base, limit) x (1 + margin_call_threshold)

(the threshold is a tolerance, so a one-cent FX wobble does not call a facility), and it gives
the borrower ``margin_call_cure_hours`` of event time. While it is open every drawdown is
rejected with ``facility_frozen``. It is cured - fully, not back to the tolerance - as soon as
``principal <= min(base, limit)``, whether by a repayment or by collateral recovering (an FX
move, a shipment reaching the warehouse's higher advance rate, a new pledge); if the cure
period ends first, ``MarginCallExpired`` tells the bank the borrower is in default. Accrued
interest does not count towards the shortfall: the base secures principal. Principal lent on a
shipment whose staged repayment plan started (delivered or sold under ``repayment_plan``) is
not compared with the base: its goods left the base at delivery, and its instalments - late
ones with ``InstalmentOverdue`` and default interest - govern it instead of a margin call.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from finance.collateral import BaseSnapshot, Collateral, revalued, valued
from finance.facility_state import FacilityState, MarginCall
from finance.money import round_down
from finance.step import Step
from tradelane.contracts import Facility
from tradelane.contracts.finance import (
    BorrowingBaseChanged,
    MarginCallCured,
    MarginCallExpired,
    MarginCallIssued,
)
from tradelane.ids import derive_id


def settle_base(step: Step, base_unchanged: bool = False, subject: str | None = None) -> None:
    """Emit ``BorrowingBaseChanged`` if the base moved, then apply the margin-call rules.

    ``base_unchanged``: the caller has proven that the borrowing base is still ``state.base``
    (see :func:`finance.pledge_engine.apply_in_place`), so it is not summed again.
    ``subject``: the step was a shipment event of this shipment, which changed no other
    shipment's value, so the collateral the state last valued needs only its line again."""
    state = step.state
    terms = state.terms
    if terms is None or step.now is None:
        state._collateral = None
        return  # nothing can be owed before the facility is known and time has started
    if base_unchanged:
        snapshot = BaseSnapshot(state.base, ())
        _keep_line(state, subject)
    else:
        snapshot = _collateral(state, subject).snapshot()
    available = snapshot.available(terms)
    if snapshot.base != state.base:
        _base_changed(step, terms, snapshot, available)
    if state.margin_call is not None:
        _follow_call(step, state.margin_call, snapshot.base, available)
    else:
        _maybe_call(step, terms, snapshot.base, available)


def _base_changed(step: Step, terms: Facility, snapshot: BaseSnapshot, available: Decimal) -> None:
    """Report the new base (with the previous one) and keep it as the state's."""
    state = step.state
    assert step.now is not None
    step.emit(
        BorrowingBaseChanged(
            facility_id=state.facility_id,
            at=step.now,
            base=step.money(snapshot.base),
            previous_base=step.money(round_down(state.base, terms.limit.currency)),
            outstanding=step.money(state.principal),
            headroom=step.money(available - state.principal),
            collateral=list(snapshot.lines),
        ),
        step.cause_key,
    )
    state.base = snapshot.base


def _follow_call(step: Step, call: MarginCall, base: Decimal, available: Decimal) -> None:
    """An open call is cured once the secured principal is within ``available``, or expires
    (told once) when its cure period has passed first."""
    state = step.state
    now = step.now
    assert now is not None
    if _secured(state) <= available:
        step.emit(
            MarginCallCured(
                facility_id=state.facility_id,
                margin_call_id=call.margin_call_id,
                at=now,
                cured_by="repayment" if step.repaid else "collateral",
                outstanding=step.money(state.principal),
                base=step.money(base),
            ),
            call.margin_call_id,
        )
        state.margin_call = None
    elif not call.expired and now > call.due_at:
        step.emit(
            MarginCallExpired(
                facility_id=state.facility_id,
                margin_call_id=call.margin_call_id,
                at=now,
                due_at=call.due_at,
                shortfall=step.money(_secured(state) - available),
            ),
            call.margin_call_id,
        )
        call.expired = True


def _maybe_call(step: Step, terms: Facility, base: Decimal, available: Decimal) -> None:
    """Open a call when principal (and what the base must secure of it) exceeds what may be
    outstanding beyond the threshold's tolerance."""
    state = step.state
    now = step.now
    assert now is not None
    limit = available * (1 + terms.margin_call_threshold)
    if state.principal <= limit or _secured(state) <= limit:
        return
    call_id = derive_id("margin_call", state.facility_id, step.cause_key, now.isoformat())
    call = MarginCall(
        margin_call_id=call_id,
        issued_at=now,
        due_at=now + timedelta(hours=terms.margin_call_cure_hours),
        shortfall=_secured(state) - available,
    )
    state.margin_call = call
    step.emit(
        MarginCallIssued(
            facility_id=state.facility_id,
            margin_call_id=call_id,
            at=now,
            due_at=call.due_at,
            shortfall=step.money(call.shortfall),
            outstanding=step.money(state.principal),
            base=step.money(base),
        ),
        call_id,
    )


def _secured(state: FacilityState) -> Decimal:
    """The principal the base must secure: all of it but what staged plans schedule (only
    summed when the whole principal is above what may be outstanding, so rarely)."""
    planned = sum(
        (s.principal for s in state.shipments.values() if s.plan_start is not None), Decimal(0)
    )
    return state.principal - planned


def _collateral(state: FacilityState, subject: str | None) -> Collateral:
    """The state's collateral valued now: one line again after a shipment event, every line
    after anything else (terms, FX, bookings, commands) or when none was kept."""
    kept = state._collateral
    if subject is None or kept is None or not revalued(state, kept, subject):
        kept = state._collateral = valued(state)
    return kept  # type: ignore[no-any-return]


def _keep_line(state: FacilityState, subject: str | None) -> None:
    """A shipment event that left the base alone may still change its line (a haircut under
    the concentration cap, a status worth nothing yet): the kept collateral follows it."""
    kept = state._collateral
    if kept is not None and (subject is None or not revalued(state, kept, subject)):
        state._collateral = None
