"""The borrower's credit profile in the pledge engine: the history folded from what the engine
sees, and the advance rates the score earns (docs/finance.md, "Credit profile").

Every facility keeps a :class:`finance.credit_profile.CreditHistory` in its state
(``FacilityState.credit``). What counts, and how each is counted once:

* a pledged shipment's record (:mod:`finance.conditions`) after each of its events or its
  booking: each milestone reached against its planned time (``planned``, from the booking),
  delivery in or out of spec, each temperature or humidity breach episode, tamper after
  departure; a ``ShockDetected`` counts once per shipment and UTC day. Each fact has a key,
  kept in the shipment's ``credited``: a redelivered event, or a later report of a milestone,
  finds its key there and counts nothing;
* an insurer's payout applied to the facility (``RepaymentReceived`` with source
  ``insurance``): a claim paid to the lender, once per ``cause_id`` (the engine decides each
  cause id once);
* a margin call: cured by a repayment, an instalment paid (on time when on or before its due
  day); expired, an instalment paid late (at least a day). A call cured by collateral
  recovering says nothing of the borrower. A call ends once, so it counts once.

With ``Facility.score_bands`` set, collateral is valued at
:func:`finance.credit_profile.advance_rates_for` (``FacilityState.advance_rates``), recomputed
whenever the history or the terms change. A change of rates because the score moved is
announced (``AdvanceRatesChanged``), as is a score that moved by 10 points or changed band
(``CreditScoreChanged``); a change of terms re-prices silently (its ``BorrowingBaseChanged``
says what it did). Without bands the history is kept all the same, so bands set later start
from the borrower's record, and nothing is announced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from finance.credit_profile import (
    ClaimObserved,
    CreditScore,
    ExcursionObserved,
    MilestoneObserved,
    Observation,
    RepaymentObserved,
    ShipmentDelivered,
    advance_rates_for,
    band_for,
    count_fact,
    days_late,
    rate_change,
    score,
)
from finance.facility_state import FacilityState, ShipmentCollateral
from finance.repayment_plan import Instalment
from finance.step import Step
from tradelane.contracts import BreachKind, Milestone, ShockDetected
from tradelane.contracts.credit import (
    SCORE_ANNOUNCE_POINTS,
    AdvanceRatesChanged,
    CreditScoreChanged,
    FactorMoved,
    ScoreFactor,
)
from tradelane.contracts.finance import (
    MarginCallCured,
    RepaymentReceived,
    RepaymentSource,
    ResultCode,
)

_BREACHES = tuple(kind.value for kind in BreachKind)
_HUMIDITY = BreachKind.HUMIDITY_HIGH.value


def profile_of(state: FacilityState) -> CreditScore:
    """The borrower's score now, with its factors (what the API shows)."""
    return score(state.credit.history)


def terms_changed(state: FacilityState) -> None:
    """New terms: the rates the held score earns under their bands (or none), applied without
    an announcement - the terms changed, not the score."""
    terms, credit = state.terms, state.credit
    if terms is None or terms.score_bands is None:
        credit.rates = credit.band = None
        return
    now = score(credit.history).score
    credit.rates = advance_rates_for(now, terms.score_bands, terms.advance_rates)
    credit.band = band_for(now, terms.score_bands).name
    if credit.announced is None:
        credit.announced = now


def shipment_facts(step: Step, shipment_id: str, data: object, at: datetime | None) -> None:
    """Count what the shipment's record shows and the history has not counted yet (after the
    shipment's event ``data`` or its booking, ``data`` None); ``at``: the input's time."""
    state = step.state
    shipment = state.shipments.get(shipment_id)
    if shipment is None or not state.pledged(shipment_id):
        return  # only the collateral of this facility speaks for its borrower
    found = [(key, seen) for key, seen in _facts(shipment, data) if key not in shipment.credited]
    if found:
        shipment.credited = [*shipment.credited, *(key for key, _ in found)]
        _fold(step, [seen for _, seen in found], at, "input")


def _facts(shipment: ShipmentCollateral, data: object) -> Iterator[tuple[str, Observation]]:
    for milestone, reached in shipment.reached.items():
        planned = shipment.planned.get(milestone)
        if planned is not None:
            yield (
                f"milestone:{milestone.value}",
                MilestoneObserved(milestone=milestone, planned=planned, reached=reached),
            )
    if Milestone.DELIVERED in shipment.reached:
        in_spec = shipment.in_spec.get(Milestone.DELIVERED, True)
        yield "delivered", ShipmentDelivered(in_spec=in_spec)
    for episode in [*shipment.open_conditions, *shipment.closed_conditions]:
        kind = episode.split(":", 1)[0]
        if kind in _BREACHES:
            label = "humidity" if kind == _HUMIDITY else "temperature"
            yield f"excursion:{episode}", ExcursionObserved(excursion=label)
    if shipment.tampered:
        yield "tamper", ExcursionObserved(excursion="tamper")
    if isinstance(data, ShockDetected):
        yield f"shock:{data.at.date().isoformat()}", ExcursionObserved(excursion="shock")


def repayment(step: Step, command: RepaymentReceived) -> None:
    """An insurer's payout applied to the facility: a claim paid to the lender."""
    if step.result is ResultCode.OK and command.source is RepaymentSource.INSURANCE:
        _fold(step, [ClaimObserved()], command.at, "input")


def instalment_paid(step: Step, shipment: ShipmentCollateral, inst: Instalment) -> None:
    """An instalment of a staged repayment plan paid in full: on time or late against its due
    date (counted once per instalment, even if a value-dated correction reopens and closes it
    again)."""
    key = f"instalment:{inst.instalment_id}"
    if inst.closed_at is None or key in shipment.credited:
        return
    shipment.credited = [*shipment.credited, key]
    seen = RepaymentObserved(due=inst.due, paid_at=inst.closed_at)
    _fold(step, [seen], inst.closed_at, key)


@dataclass(frozen=True, slots=True)
class OpenCall:
    """A margin call open before the base was settled (its fields, as they were)."""

    margin_call_id: str
    due_at: datetime
    expired: bool


def open_call(state: FacilityState) -> OpenCall | None:
    call = state.margin_call
    return None if call is None else OpenCall(call.margin_call_id, call.due_at, call.expired)


def after_settle(step: Step, before: OpenCall | None, settle: Callable[[Step], None]) -> None:
    """Count how the margin call open before ``settle`` ended, if it did; when that moves the
    rates, settle the base again at them (its events keyed apart from the first settling).

    Once is enough: a call cured raises the rates (no call is open to judge again), a call
    expired lowers them but stays open and expired (nothing ends it but a cure)."""
    found = _call_outcome(step, before)
    if not found or not _fold(step, found, step.now, "settle"):
        return
    key = step.cause_key
    step.cause_key = f"{key}:credit"
    try:
        settle(step)
    finally:
        step.cause_key = key


def _call_outcome(step: Step, before: OpenCall | None) -> list[Observation]:
    now = step.now
    if before is None or before.expired or now is None:
        return []
    call = step.state.margin_call
    if call is not None and call.margin_call_id == before.margin_call_id:
        if not call.expired:
            return []  # still running
        late = max(days_late(before.due_at, now), 1)
        return [RepaymentObserved(due=before.due_at, paid_at=before.due_at + timedelta(late))]
    cured = [
        e.data
        for e in step.events
        if isinstance(e.data, MarginCallCured) and e.data.margin_call_id == before.margin_call_id
    ]
    if cured and cured[0].cured_by == "repayment":
        return [RepaymentObserved(due=before.due_at, paid_at=now)]
    return []


def _fold(step: Step, found: Sequence[Observation], at: datetime | None, phase: str) -> bool:
    """Add ``found`` to the history and apply what the new score earns; True when the rates
    collateral is valued at changed (the caller's base must be valued again in full)."""
    state = step.state
    credit = state.credit
    old = credit.history
    new = old
    for seen in found:
        new = count_fact(new, seen)
    credit.history = new
    terms = state.terms
    if terms is None or at is None:
        return False
    after = score(new)
    if terms.score_bands is None:  # a profile to show the borrower, no rates to move
        # the score before is needed only until one was announced (scored once per fact)
        previous = score(old).score if credit.announced is None else credit.announced
        _announce(step, after, None, None, previous, at, phase)
        return False
    before = score(old)
    bands = terms.score_bands
    held = dict(state.advance_rates)
    rates = advance_rates_for(after.score, bands, terms.advance_rates)
    band = band_for(after.score, bands).name
    previous_band = credit.band or band_for(before.score, bands).name
    if rates != held:
        change = rate_change(before, after, bands, terms.advance_rates)
        moved = [] if change is None else list(change.moved)
        step.emit(
            AdvanceRatesChanged(
                facility_id=state.facility_id,
                cause_id=step.cause_key,
                old_band=previous_band,
                new_band=band,
                old_score=before.score,
                new_score=after.score,
                old_rates=held,
                new_rates=rates,
                moved=[FactorMoved.model_validate(m.model_dump()) for m in moved],
                at=at,
            ),
            step.cause_key,
            phase,
        )
        state._collateral = None  # every line's value moved, not one shipment's
    if rates != held or credit.rates is None:
        credit.rates = rates  # kept as it was otherwise: the fast path sees the rates held
    credit.band = band
    _announce(step, after, band, previous_band, before.score, at, phase)
    return rates != held


def _announce(
    step: Step,
    now: CreditScore,
    band: str | None,
    previous_band: str | None,
    previous: int,
    at: datetime,
    phase: str,
) -> None:
    """A score 10 points away from the one last announced, or in another band, is shown."""
    credit = step.state.credit
    reference = previous if credit.announced is None else credit.announced
    if abs(now.score - reference) < SCORE_ANNOUNCE_POINTS and band == previous_band:
        return
    step.emit(
        CreditScoreChanged(
            facility_id=step.state.facility_id,
            cause_id=step.cause_key,
            score=now.score,
            previous_score=reference,
            band=band,
            previous_band=previous_band,
            factors=[ScoreFactor.model_validate(f.model_dump()) for f in now.factors],
            at=at,
        ),
        step.cause_key,
        phase,
    )
    credit.announced = now.score
