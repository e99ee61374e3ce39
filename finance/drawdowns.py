"""Milestone-gated tranches: the rules a drawdown must pass, in precedence order, and what a
successful one posts.

The tranche of a milestone is its scheduled share of the shipment's eligible value, but never
more than what is still lendable against the shipment::

    tranche = round_down(min(share x eligible, eligible - principal already lent on it))

so a schedule like {departed_origin: 0.5, entered_bonded_warehouse: 1} lends half the in-transit
advance at departure and tops up to the full warehouse advance later. A tranche is released
whole or not at all: one that does not fit the headroom (base - outstanding) or the limit
(limit - outstanding) is rejected, never trimmed, so the borrower sees exactly what the rule
allowed. A rejected automatic tranche can be requested again with ``DrawdownRequested``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from finance.accrual import close_days
from finance.collateral import current_base, haircut_of, valuation
from finance.conditions import impaired
from finance.confirmations import gate
from finance.facility_state import BookedMovement, FacilityState, ShipmentCollateral
from finance.fx_quotes import pay_out
from finance.money import round_down
from finance.results import first_failure
from finance.step import Step
from finance.value_adjustment import adjust, settle, value_date
from finance.value_dating import Rebooked, open_window, reach_back, rebook, record
from tradelane.contracts import Milestone
from tradelane.contracts.finance import (
    Direction,
    DrawdownExecuted,
    DrawdownRejected,
    LedgerAccount,
    LedgerEntryKind,
    Payout,
    PledgeCode,
    ResultCode,
)
from tradelane.ids import derive_id

REFUSED = (PledgeCode.COLLATERAL_ALREADY_PLEDGED, PledgeCode.PLEDGE_CURRENCY_MISMATCH)
"""The collateral register's outcomes that leave a pledge securing nothing."""


def scheduled_share(state: FacilityState, milestone: Milestone) -> Decimal:
    if state.terms is None:
        return Decimal(0)
    return state.terms.drawdown_schedule.get(milestone.value, Decimal(0))


def tranche_amount(
    state: FacilityState, shipment: ShipmentCollateral, milestone: Milestone
) -> Decimal | None:
    """The milestone's tranche for ``shipment`` now; ``None`` when it cannot be valued (FX)."""
    found = valuation(state, shipment)
    if found is None or state.currency is None:
        return None
    share = scheduled_share(state, milestone)
    raw = min(share * found.eligible, found.eligible - shipment.principal)
    return max(round_down(raw, state.currency), Decimal(0))


def attempt(
    step: Step,
    shipment_id: str,
    milestone: Milestone,
    cause_event_id: str,
    at: datetime,
    consent: bool = False,
    cap: Decimal | None = None,
) -> ResultCode:
    """Decide one drawdown caused by ``cause_event_id`` at event time ``at`` (a milestone,
    a request, a clearing event): ``DrawdownExecuted`` and its entry, or ``DrawdownRejected``
    with the first broken rule. The rules see the facility as it stands at the clock (what
    the bank knows when it releases money); the outcome carries ``at``, and a tranche is lent
    as of it (:func:`_lend`).

    ``consent``: the borrower asked for this tranche (a request, a decision), so a facility
    that confirms tranches does not ask again; otherwise its held decision applies
    (:func:`finance.confirmations.gate`). ``cap``: lend at most this much."""
    state = step.state
    terms = state.terms
    shipment = state.shipments.get(shipment_id) or ShipmentCollateral(shipment_id=shipment_id)
    base = current_base(state, shipment_id)
    amount: Decimal | None = None

    def no_fx() -> bool:
        nonlocal amount
        amount = tranche_amount(state, shipment, milestone)
        return amount is None

    def fits(ceiling: Decimal) -> bool:
        return amount is not None and amount <= ceiling - state.principal

    code = first_failure(
        [
            (ResultCode.FACILITY_UNKNOWN, lambda: terms is None),
            (ResultCode.ALREADY_DRAWN, lambda: milestone in shipment.drawn),
            (ResultCode.SHIPMENT_NOT_PLEDGED, lambda: not state.pledged(shipment_id)),
            (ResultCode.COLLATERAL_ALREADY_PLEDGED, lambda: shipment.pledge_code in REFUSED),
            (ResultCode.MILESTONE_NOT_SCHEDULED, lambda: scheduled_share(state, milestone) <= 0),
            (ResultCode.MILESTONE_NOT_REACHED, lambda: milestone not in shipment.reached),
            (ResultCode.FACILITY_FROZEN, lambda: state.margin_call is not None),
            (
                ResultCode.CARGO_IMPAIRED,
                lambda: (
                    impaired(shipment, milestone)
                    or (terms is not None and haircut_of(shipment, terms) >= 1)
                ),
            ),
            (ResultCode.TRACKER_UNHEALTHY, lambda: bool(shipment.silent_trackers)),
            (ResultCode.FX_RATE_MISSING, no_fx),
            (ResultCode.NOTHING_TO_DRAW, lambda: not amount),
            (ResultCode.EXCEEDS_HEADROOM, lambda: not fits(base)),
            (ResultCode.EXCEEDS_LIMIT, lambda: terms is None or not fits(terms.limit.amount)),
        ]
    )
    now = step.now
    assert now is not None, "drawdowns are decided at an event time"
    at = min(at, now)
    if code is ResultCode.OK and amount is not None and not consent:
        held = state.shipment(shipment_id)
        code, amount = gate(step, held, milestone, amount, cause_event_id, at)
    if code is ResultCode.AWAITING_CONFIRMATION:
        return code
    if code is not ResultCode.OK:
        reject(step, shipment_id, milestone, code, cause_event_id, at, amount, base)
        return code
    assert amount is not None
    lent = amount if cap is None else min(amount, cap)
    _execute(step, state.shipment(shipment_id), milestone, lent, base, cause_event_id, at)
    return code


def reject(
    step: Step,
    shipment_id: str,
    milestone: Milestone,
    code: ResultCode,
    cause_event_id: str,
    at: datetime,
    amount: Decimal | None = None,
    base: Decimal | None = None,
) -> None:
    """Announce that the tranche of (shipment, milestone) was not lent, and why."""
    state = step.state
    terms = state.terms
    base = current_base(state, shipment_id) if base is None else base
    step.emit(
        DrawdownRejected(
            facility_id=state.facility_id,
            shipment_id=shipment_id,
            milestone=milestone,
            code=code,
            requested=None if amount is None or terms is None else step.money(amount),
            headroom=None if terms is None else step.money(base - state.principal),
            at=at,
        ),
        shipment_id,
        milestone.value,
        cause_event_id,
    )


def _execute(
    step: Step,
    shipment: ShipmentCollateral,
    milestone: Milestone,
    amount: Decimal,
    base: Decimal,
    cause_event_id: str,
    at: datetime,
) -> None:
    """Release ``amount``: lend it as of ``at`` (its cause's event time), post it and
    announce it with the headroom it was decided on."""
    state = step.state
    found = valuation(state, shipment)
    assert found is not None
    headroom = base - state.principal
    shipment.drawn[milestone] = amount
    drawdown_id = derive_id("drawdown", state.facility_id, shipment.shipment_id, milestone.value)
    first = state.accrued_until is None
    cause_at = at
    at = _value_date(step, drawdown_id, at)
    movement = BookedMovement(
        at=at,
        cause_id=cause_event_id,
        kind="drawdown",
        shipment_id=shipment.shipment_id,
        amount=amount,
        principal={shipment.shipment_id: amount},
    )
    rebooked = _lend(state, movement)
    payout = _payout(step, shipment, milestone, amount, drawdown_id, cause_at)
    entry = step.post(
        LedgerEntryKind.DRAWDOWN,
        (shipment.shipment_id, milestone.value),
        cause_event_id,
        at,
        found.fx,
        [
            (LedgerAccount.LOAN_PRINCIPAL, Direction.DEBIT, amount),
            (LedgerAccount.FUNDING, Direction.CREDIT, amount),
        ],
        payout,
    )
    step.emit(
        DrawdownExecuted(
            facility_id=state.facility_id,
            shipment_id=shipment.shipment_id,
            milestone=milestone,
            drawdown_id=drawdown_id,
            amount=step.money(amount),
            share=scheduled_share(state, milestone),
            headroom_before=step.money(headroom),
            outstanding_after=step.money(state.principal if rebooked is None else rebooked[1]),
            fx=found.fx,
            at=at,
            ledger_seq=entry.seq,
            ledger_hash=entry.hash,
            payout=None if payout is None else payout.amount,
            payout_quote_id=None if payout is None else payout.fx.quote_id,
        ),
        shipment.shipment_id,
        milestone.value,
    )
    _settle(step, rebooked, drawdown_id, cause_event_id, first)


def _payout(
    step: Step,
    shipment: ShipmentCollateral,
    milestone: Milestone,
    amount: Decimal,
    drawdown_id: str,
    at: datetime,
) -> Payout | None:
    """What the tranche pays out at the FX lock quote the borrower's decision named
    (:func:`finance.fx_quotes.pay_out`, judged at the cause's event time ``at``); ``None``:
    no quote named, or one it may not use (announced), so it is paid in the facility
    currency."""
    held = shipment.choices.get(milestone)
    if held is None or held.fx_quote_id is None:
        return None
    return pay_out(step, held.fx_quote_id, step.money(amount), drawdown_id, at)


def _settle(
    step: Step,
    rebooked: tuple[Rebooked, Decimal, Decimal] | None,
    drawdown_id: str,
    cause_event_id: str,
    first: bool,
) -> None:
    """After a tranche's own entry: correct what was booked after its value date, and, for
    the line's first tranche, close the days since it."""
    state = step.state
    if rebooked is not None:
        adjust(
            step,
            rebooked[0],
            drawdown_id,
            principal=(rebooked[1], state.principal),
            receivable=(rebooked[2], state.interest_due),
            cause_event_id=cause_event_id,
        )
    if first and step.now is not None:
        close_days(step, step.now.date())  # the days since the milestone owed interest on it


def _value_date(step: Step, drawdown_id: str, at: datetime) -> datetime:
    """The date a tranche is lent as of: its cause's event time ``at``. The line's first
    tranche opens the window there (nothing was owed before it); a later one is booked at
    ``at`` when the window reaches back to it (or can: :func:`reach_back`), else at the
    clock, announced (:func:`finance.value_adjustment.value_date`)."""
    state = step.state
    if state.accrued_until is None:
        state.accrued_until = at.date()
        open_window(state, at)
        return at
    reach_back(state, at)
    return value_date(step, drawdown_id, at)


def _lend(
    state: FacilityState, movement: BookedMovement
) -> tuple[Rebooked, Decimal, Decimal] | None:
    """Lend ``movement`` (a drawdown) as of its value date. When days were closed or
    movements booked after that date, the window is replayed with the drawdown in its place
    (:func:`finance.value_dating.rebook`) and taken as the facility's; returns the replay and
    the principal and interest due the ledger holds right after the drawdown's own entry, so
    the caller can post the correction. ``None``: nothing after it, lent as booked."""
    shipment = state.shipments[movement.shipment_id or ""]
    later = state.movements and state.movements[-1].at > movement.at
    closed = state.accrued_until is not None and state.accrued_until > movement.at.date()
    if not (later or closed) or state.currency is None:
        state.principal += movement.amount
        shipment.principal += movement.amount
        record(state, movement)
        return None
    after_entry = (state.principal + movement.amount, state.interest_due)
    rebooked = rebook(state, movement.at, movement, state.currency)
    settle(state, rebooked)
    return rebooked, *after_entry
