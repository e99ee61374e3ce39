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

from decimal import Decimal

from finance.collateral import current_base, haircut_of, valuation
from finance.conditions import impaired
from finance.facility_state import BookedMovement, FacilityState, ShipmentCollateral
from finance.money import round_down
from finance.results import first_failure
from finance.step import Step
from finance.value_dating import open_window, record
from tradelane.contracts import Milestone
from tradelane.contracts.finance import (
    Direction,
    DrawdownExecuted,
    DrawdownRejected,
    LedgerAccount,
    LedgerEntryKind,
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


def attempt(step: Step, shipment_id: str, milestone: Milestone, cause_event_id: str) -> ResultCode:
    """Decide one drawdown; on success post it and emit ``DrawdownExecuted``, else
    ``DrawdownRejected`` with the first broken rule. Returns the code."""
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
    if code is not ResultCode.OK:
        step.emit(
            DrawdownRejected(
                facility_id=state.facility_id,
                shipment_id=shipment_id,
                milestone=milestone,
                code=code,
                requested=None if amount is None or terms is None else step.money(amount),
                headroom=None if terms is None else step.money(base - state.principal),
                at=now,
            ),
            shipment_id,
            milestone.value,
            cause_event_id,
        )
        return code
    assert amount is not None
    _execute(step, state.shipment(shipment_id), milestone, amount, base, cause_event_id)
    return code


def _execute(
    step: Step,
    shipment: ShipmentCollateral,
    milestone: Milestone,
    amount: Decimal,
    base: Decimal,
    cause_event_id: str,
) -> None:
    state = step.state
    now = step.now
    found = valuation(state, shipment)
    assert now is not None
    assert found is not None
    assert state.terms is not None
    headroom = base - state.principal
    state.principal += amount
    shipment.principal += amount
    shipment.drawn[milestone] = amount
    if state.accrued_until is None:
        state.accrued_until = now.date()
        open_window(state, now)  # nothing was owed before the first tranche
    record(
        state,
        BookedMovement(
            at=now,
            cause_id=cause_event_id,
            kind="drawdown",
            shipment_id=shipment.shipment_id,
            amount=amount,
            principal={shipment.shipment_id: amount},
        ),
    )
    entry = step.post(
        LedgerEntryKind.DRAWDOWN,
        (shipment.shipment_id, milestone.value),
        cause_event_id,
        now,
        found.fx,
        [
            (LedgerAccount.LOAN_PRINCIPAL, Direction.DEBIT, amount),
            (LedgerAccount.FUNDING, Direction.CREDIT, amount),
        ],
    )
    step.emit(
        DrawdownExecuted(
            facility_id=state.facility_id,
            shipment_id=shipment.shipment_id,
            milestone=milestone,
            drawdown_id=derive_id(
                "drawdown", state.facility_id, shipment.shipment_id, milestone.value
            ),
            amount=step.money(amount),
            share=scheduled_share(state, milestone),
            headroom_before=step.money(headroom),
            outstanding_after=step.money(state.principal),
            fx=found.fx,
            at=now,
            ledger_seq=entry.seq,
            ledger_hash=entry.hash,
        ),
        shipment.shipment_id,
        milestone.value,
    )
