"""Money coming back: the repayment waterfall, sale and delivery proceeds, external repayments.

Waterfall, for every repayment: accrued interest first, then principal - of the named shipment
only when one is named, across all shipments (ids sorted) when none is - and whatever is left
is the borrower's surplus. The waterfall never takes more than is owed, so outstanding never
goes below zero: a payout or proceeds larger than the loan pay it off, and the rest is booked
as received in full and held for the borrower (``borrower_payable``, a liability), reported
as ``surplus`` in ``RepaymentApplied``. The cash came in; it is not the bank's money.

Every repayment is booked as of its value date (its event time), whenever it arrives:
:mod:`finance.value_dating` replays the facility's recent window with it in its place, and
:mod:`finance.value_adjustment` posts what that changes for the days already closed.

Proceeds: a delivered shipment repays the principal lent against it from its proceeds, taken
as the cargo value after haircut (a reported sale gives the proceeds explicitly). Proceeds
wait in the shipment's record until an FX rate allows converting them, then are applied once.
A facility with a staged repayment plan queues no proceeds: its shipments are repaid by their
instalments (:mod:`finance.instalments`).

External repayments (the borrower, an insurer paying the lender as loss payee) arrive as
``RepaymentReceived`` with a ``cause_id``; the facility remembers every cause id it decided on
(applied or rejected), so the same payout is never applied twice and a redelivered command
never changes its first outcome. A rejected command is retried under a new id.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from finance.collateral import haircut_of, secured_value
from finance.facility_state import (
    BookedMovement,
    PendingProceeds,
    ShipmentCollateral,
)
from finance.fx_quotes import locked_rate, use
from finance.money import convert, convert_at, find_rate, round_half_even
from finance.results import first_failure
from finance.step import Step
from finance.value_adjustment import adjust, settle
from finance.value_adjustment import value_date as dated
from finance.value_dating import NO_SPLIT, Split, rebook
from tradelane.contracts import Money
from tradelane.contracts.finance import (
    AppliedFx,
    Direction,
    LedgerAccount,
    LedgerEntry,
    LedgerEntryKind,
    RepaymentApplied,
    RepaymentReceived,
    RepaymentRejected,
    RepaymentSource,
    ResultCode,
    SaleReported,
)


def _owed(step: Step, shipment_id: str | None) -> Decimal:
    state = step.state
    if shipment_id is None:
        return state.interest_due + state.principal
    shipment = state.shipments.get(shipment_id)
    return state.interest_due + (Decimal(0) if shipment is None else shipment.principal)


def repay(
    step: Step,
    *,
    cause_id: str,
    source: RepaymentSource,
    received: Money,
    shipment_id: str | None,
    value_date: datetime,
    locked: AppliedFx | None = None,
) -> ResultCode:
    """Apply ``received`` through the waterfall (after the caller's own checks), booked as of
    ``value_date`` (its event time; see :mod:`finance.value_dating`); converted at ``locked``
    (an FX lock quote's rate, :mod:`finance.fx_quotes`) when given, else at the held rate."""
    state = step.state
    now = step.now
    assert now is not None
    converted = _converted(step, received, locked)
    code = first_failure(
        [
            (ResultCode.FX_RATE_MISSING, lambda: converted is None),
            # An insurer pays the lender as loss payee whatever the loan owes: a payout beyond
            # the debt is the borrower's (``borrower_payable``), never refused, so it books the
            # same whether it arrives before or after the shipment's debt is cleared.
            (
                ResultCode.NOTHING_OWED,
                lambda: source is not RepaymentSource.INSURANCE and _owed(step, shipment_id) <= 0,
            ),
        ]
    )
    if code is not ResultCode.OK:
        return _reject(step, cause_id, code)
    assert converted is not None
    amount, fx = converted
    at = dated(step, cause_id, min(value_date, now))
    split = _rebook(step, cause_id, at, amount, shipment_id) if amount > 0 else NO_SPLIT
    principal = split.principal_total
    # proceeds of a total loss move no money
    entry = _post(step, cause_id, at, fx, amount, split) if amount > 0 else None
    if split.interest + principal > 0:
        step.repaid = True
    step.emit(
        RepaymentApplied(
            facility_id=state.facility_id,
            shipment_id=shipment_id,
            cause_id=cause_id,
            source=source,
            received=received,
            fx=fx,
            interest_paid=step.money(split.interest),
            principal_paid=step.money(principal),
            surplus=step.money(split.surplus),
            outstanding_after=step.money(state.principal),
            at=at,
            ledger_seq=None if entry is None else entry.seq,
            ledger_hash=None if entry is None else entry.hash,
        ),
        cause_id,
    )
    return code


def _converted(
    step: Step, received: Money, locked: AppliedFx | None
) -> tuple[Decimal, AppliedFx] | None:
    """``received`` in the facility's currency at ``locked`` (an FX lock's rate) when given,
    else at the held rate (``None``: no rate held)."""
    currency = step.state.currency
    assert currency is not None
    if locked is None:
        return convert(received.amount, received.currency, currency, step.state.fx)
    return convert_at(received.amount, locked, currency), locked


def _post(
    step: Step, cause_id: str, at: datetime, fx: AppliedFx, amount: Decimal, split: Split
) -> LedgerEntry:
    """The repayment's entry: cash in, split over interest, principal and the surplus."""
    return step.post(
        LedgerEntryKind.REPAYMENT,
        (cause_id,),
        cause_id,
        at,
        fx,
        [
            (LedgerAccount.FUNDING, Direction.DEBIT, amount),
            (LedgerAccount.INTEREST_RECEIVABLE, Direction.CREDIT, split.interest),
            (LedgerAccount.LOAN_PRINCIPAL, Direction.CREDIT, split.principal_total),
            (LedgerAccount.BORROWER_PAYABLE, Direction.CREDIT, split.surplus),
        ],
    )


def _rebook(
    step: Step, cause_id: str, at: datetime, amount: Decimal, shipment_id: str | None
) -> Split:
    """Book ``amount`` as of ``at``: replay the window with it in place, take the replayed
    figures as the facility's and post their correction (before the repayment's own entry,
    so the ledger never holds less interest or principal than the repayment takes)."""
    state = step.state
    assert state.currency is not None
    booked = BookedMovement(
        at=at, cause_id=cause_id, kind="repayment", shipment_id=shipment_id, amount=amount
    )
    rebooked = rebook(state, at, booked, state.currency)
    principal_before, due_before = state.principal, state.interest_due
    settle(state, rebooked)
    split = rebooked.split
    adjust(
        step,
        rebooked,
        cause_id,
        principal=(principal_before, state.principal + split.principal_total),
        receivable=(due_before, state.interest_due + split.interest),
    )
    return split


def _reject(step: Step, cause_id: str, code: ResultCode) -> ResultCode:
    now = step.now
    assert now is not None
    step.emit(
        RepaymentRejected(facility_id=step.state.facility_id, cause_id=cause_id, code=code, at=now),
        cause_id,
        code.value,
    )
    return code


def repayment_received(step: Step, command: RepaymentReceived) -> ResultCode:
    state = step.state
    shipment_id = command.shipment_id
    code = first_failure(
        [
            (ResultCode.FACILITY_UNKNOWN, lambda: state.terms is None),
            (ResultCode.INVALID_AMOUNT, lambda: command.amount.amount <= 0),
            (ResultCode.ALREADY_APPLIED, lambda: command.cause_id in state.handled),
            (
                ResultCode.SHIPMENT_NOT_PLEDGED,
                lambda: (
                    shipment_id is not None
                    and not state.pledged(shipment_id)
                    and shipment_id not in state.shipments
                ),
            ),
        ]
    )
    if code is ResultCode.ALREADY_APPLIED:
        return code  # answered, not re-announced: the first outcome was the event
    if code is ResultCode.OK:
        locked = _locked(step, command)
        code = repay(
            step,
            cause_id=command.cause_id,
            source=command.source,
            received=command.amount,
            shipment_id=shipment_id,
            value_date=command.at,
            locked=locked,
        )
        if locked is not None and locked.quote_id is not None and code is ResultCode.OK:
            use(state, locked.quote_id, command.cause_id)
    else:
        _reject(step, command.cause_id, code)
    if code is not ResultCode.FACILITY_UNKNOWN:
        state.handled[command.cause_id] = code
    return code


def _locked(step: Step, command: RepaymentReceived) -> AppliedFx | None:
    """The FX lock quote's rate the repayment names and may use (by its event time), or
    ``None``: none named, or one it may not use (announced; the held rate applies)."""
    qid = command.fx_quote_id
    if qid is None:
        return None
    return locked_rate(step, qid, "repayment", command.amount, command.cause_id, command.at)


def sale_reported(step: Step, command: SaleReported) -> ResultCode:
    """Mark the goods sold (they leave the base) and queue their proceeds."""
    state = step.state
    code = first_failure(
        [
            (ResultCode.FACILITY_UNKNOWN, lambda: state.terms is None),
            (ResultCode.INVALID_AMOUNT, lambda: command.proceeds.amount < 0),
            (ResultCode.ALREADY_APPLIED, lambda: command.cause_id in state.handled),
            (ResultCode.SHIPMENT_NOT_PLEDGED, lambda: not state.pledged(command.shipment_id)),
        ]
    )
    if code is ResultCode.ALREADY_APPLIED:
        return code
    if code is not ResultCode.OK:
        if code is not ResultCode.FACILITY_UNKNOWN:
            state.handled[command.cause_id] = code
        return _reject(step, command.cause_id, code)
    shipment = state.shipment(command.shipment_id)
    shipment.sold = True
    if not shipment.proceeds_applied:
        shipment.pending_proceeds = PendingProceeds(
            cause_id=command.cause_id,
            source=RepaymentSource.SALE,
            amount=command.proceeds,
            at=command.at,
        )
    state.handled[command.cause_id] = code
    return code


def delivery_proceeds(shipment: ShipmentCollateral, cause_id: str, at: datetime) -> None:
    """Queue the proceeds of a delivered shipment (once; a sale reported first wins), value
    dated at the delivery event's time."""
    if shipment.sold or shipment.proceeds_applied or shipment.pending_proceeds is not None:
        return
    shipment.pending_proceeds = PendingProceeds(
        cause_id=cause_id, source=RepaymentSource.DELIVERY, at=at
    )


def settle_proceeds(step: Step) -> None:
    """Apply every queued proceeds that can be converted now (shipment ids in order)."""
    state = step.state
    terms = state.terms
    if terms is None or step.now is None:
        return
    waiting = [k for k, s in state.shipments.items() if s.pending_proceeds is not None]
    for shipment_id in sorted(waiting):  # nothing below queues proceeds: the list holds
        shipment = state.shipments[shipment_id]
        pending = shipment.pending_proceeds
        if pending is None:
            continue
        if shipment.principal <= 0:
            shipment.pending_proceeds, shipment.proceeds_applied = None, True
            continue
        received = pending.amount
        if received is None:
            value = secured_value(terms, shipment)  # the facility's share of the cargo
            if value is None:
                continue
            after_cut = value.amount * (1 - haircut_of(shipment, terms))
            received = Money(
                amount=round_half_even(after_cut, value.currency), currency=value.currency
            )
        if find_rate(state.fx, received.currency, terms.limit.currency) is None:
            continue  # wait quietly for a rate; the proceeds stay queued
        repay(
            step,
            cause_id=pending.cause_id,
            source=pending.source,
            received=received,
            shipment_id=shipment_id,
            value_date=pending.at,
        )
        shipment.pending_proceeds, shipment.proceeds_applied = None, True
