"""The inventory-pledge engine: ``apply(state, input) -> (next state, outputs)``, pure.

No I/O, no clock, no randomness: time is the event time carried by the input, ids derive from
the input, Decimal arithmetic runs in a fixed context. Given the same state and input it always
returns the same next state and the same outputs, which is what lets a Kafka consumer
re-process an input after a crash (at-least-once delivery) and lets anyone rebuild a facility
by replaying its inputs.

The rules are one in-place step (:mod:`tradelane.discipline`, the engines' state discipline):
:func:`apply_in_place` is the worker's, :func:`apply` runs the reference step on a copy.

Inputs (one facility per state; the caller routes by ``facility_id`` or by pledge):

==========================  ================================================================
``Facility``                terms from ``finance.facilities`` (pledges, rates, schedule...)
``ShipmentBooking``         a pledged shipment's cargo value and plan (``shipments.registry``)
``ShipmentEvent``           milestones, breaches, shock, tamper, silence... (``shipments.events``)
``FxRate``                  a rate from ``fx.rates`` (the latest ``as_of`` per pair is kept)
``DrawdownRequested``       a borrower's request for a milestone tranche (``finance.commands``)
``RepaymentReceived``       cash from the borrower or an insurer, once per ``cause_id``
``SaleReported``            pledged goods sold, with their proceeds
``DayTick``                 event time reached ``at``: close days (interest), expire calls
``PledgeDecided``           the collateral register's decision on a pledge of the facility's
                            (its own: the shipment is valued at most at ``granted``; a later
                            one of another facility: told only); once per ``decision_id``
``RepaymentDelayRequested`` the borrower asks to move an instalment of a staged repayment
``RepaymentDelayDecided``   plan; the bank answers (``finance.requests``, once per request id)
``TrancheDecision``         the borrower confirms, declines or resizes a tranche
``FxQuoteRequested``        the borrower asks for an FX rate to lock (``finance.fx_quotes``)
==========================  ================================================================

Each step: (1) inputs with an event time advance the facility clock (never backwards) and close
the days before it, posting each day's interest; (2) the input is applied; (3) queued proceeds
are repaid; (4) a changed base is reported and margin calls are opened, cured or expired.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, localcontext

from finance import credit, instalments, reminders
from finance.accrual import close_days
from finance.collateral import valuation
from finance.conditions import learn_booking, note_shipment_event
from finance.drawdowns import attempt, scheduled_share
from finance.facility_state import FacilityState, new_state
from finance.fx_quotes import request_quote
from finance.margin import settle_base
from finance.money import CONTEXT, pair
from finance.repayments import (
    delivery_proceeds,
    repayment_received,
    sale_reported,
    settle_proceeds,
)
from finance.step import Outputs, Step
from finance.tranche_decisions import deadlines_before, decide, expire_due, expire_passed
from finance.value_dating import open_window
from tradelane.contracts import (
    BreachEnded,
    DelayPredicted,
    DeviationEnded,
    EtaChanged,
    Facility,
    FxRate,
    Milestone,
    MilestoneReached,
    ShipmentBooking,
    ShipmentEvent,
    TrackerResumed,
)
from tradelane.contracts.finance import (
    DayTick,
    DrawdownRequested,
    PledgeDecided,
    RepaymentReceived,
    ResultCode,
    SaleReported,
)
from tradelane.contracts.fx_quotes import FxQuoteRequested
from tradelane.contracts.registries import PlanStart
from tradelane.contracts.seller import (
    RepaymentDelayDecided,
    RepaymentDelayRequested,
    TrancheDecision,
)
from tradelane.discipline import fold, on_a_copy

EngineInput = (
    Facility
    | ShipmentBooking
    | ShipmentEvent
    | FxRate
    | DrawdownRequested
    | RepaymentReceived
    | SaleReported
    | DayTick
    | PledgeDecided
    | TrancheDecision
    | RepaymentDelayRequested
    | RepaymentDelayDecided
    | FxQuoteRequested
)

__all__ = [
    "EngineInput",
    "FacilityState",
    "Outputs",
    "apply",
    "apply_in_place",
    "input_key",
    "new_state",
    "revalue_in_place",
    "run",
]


def apply(state: FacilityState, item: EngineInput) -> tuple[FacilityState, Outputs]:
    """The next state of ``state``'s facility after ``item``, and what it emitted: the
    reference path, :func:`revalue_in_place` on a copy (:func:`tradelane.discipline.on_a_copy`).

    ``state`` is not modified. Raises ``ValueError`` only for a routing mistake (a facility
    record or command addressed to another facility); rule outcomes are result codes.
    """
    return on_a_copy(revalue_in_place, _copy, state, item)


def apply_in_place(state: FacilityState, item: EngineInput) -> Outputs:
    """The worker's step: ``state`` itself becomes the next state, and the outputs are
    returned. For a caller that owns ``state`` (the worker keeps one per facility); the result
    is equal to :func:`apply`'s, input for input (a property test holds them together). If it
    raises, ``state`` may be half updated and must be discarded.

    Neither the whole facility is copied nor, for a shipment event, the borrowing base
    recomputed over every pledged shipment unless the event changed what its own shipment is
    worth (see :func:`_subject_value`), so a step costs the same for 10 shipments or 1,000.
    """
    return _step(state, item, revalue=False)


def revalue_in_place(state: FacilityState, item: EngineInput) -> Outputs:
    """The reference step, in place: the same rules as :func:`apply_in_place`, but every
    pledged shipment is valued again, every time (the collateral the state kept is dropped
    and the base is summed in full). The fast path's shortcuts are tested against it."""
    return _step(state, item, revalue=True)


def _copy(state: FacilityState) -> FacilityState:
    return state.model_copy(deep=True)


def _step(state: FacilityState, item: EngineInput, revalue: bool) -> Outputs:
    """The one engine step (the module docstring's four stages), in place on ``state``;
    ``revalue``: value the whole collateral again instead of the shipment ``item`` concerns."""
    with localcontext(CONTEXT):
        if revalue:
            state._collateral = None  # the reference path values everything, every time
        step = Step(state, input_key(item), state.clock)
        before = None if revalue else _subject_value(state, item)
        rates = state.credit.rates
        _dispatch(step, item)
        expire_passed(step)
        reminders.daily(step)
        settle_proceeds(step)
        instalments.settle(step)
        # A score that moved the advance rates moved every shipment's value, not one.
        same = (
            before is not None
            and state.credit.rates is rates
            and _eligible(state, before[0]) == before[1]
        )
        call = credit.open_call(state)
        settle_base(step, base_unchanged=same, subject=None if before is None else before[0])
        credit.after_settle(step, call, settle_base)
        return step.outputs()


_NOT_SHIPMENT_EVENTS = (
    Facility,
    ShipmentBooking,
    FxRate,
    DrawdownRequested,
    RepaymentReceived,
    SaleReported,
    DayTick,
    PledgeDecided,
    TrancheDecision,
    RepaymentDelayRequested,
    RepaymentDelayDecided,
    FxQuoteRequested,
)


def _subject_value(state: FacilityState, item: EngineInput) -> tuple[str, Decimal] | None:
    """For a shipment event on a facility whose base is settled, the event's shipment and its
    eligible value before the event; ``None`` when the base must be recomputed in full.

    Why this is enough: ``state.base`` equals the full borrowing base after every step that
    ends with terms and a clock (:func:`finance.margin.settle_base` sets it), so at the start
    of such a step it is the sum of every pledged shipment's eligible value. A shipment event
    changes no terms, no FX rate and no other shipment's value inputs (cargo value,
    milestones, sale, severities, tamper), so if its own shipment's eligible value is the same
    afterwards, the full sum - the same terms added in the same order - is ``state.base``.
    A booking is such an input too: it sets its own shipment's cargo value and plan only (the
    worker feeds each shipment's booking before its first event, and valuing every shipment
    for it made a hundred departures on one line cost seconds)."""
    if state.terms is None or state.clock is None:
        return None
    if isinstance(item, ShipmentBooking | PledgeDecided):  # its own shipment's value only
        return item.shipment_id, _eligible(state, item.shipment_id)
    if isinstance(item, _NOT_SHIPMENT_EVENTS):
        return None
    return item.subject, _eligible(state, item.subject)


def _eligible(state: FacilityState, shipment_id: str) -> Decimal:
    """What ``shipment_id`` adds to the borrowing base now."""
    shipment = state.shipments.get(shipment_id)
    if shipment is None or not state.pledged(shipment_id):
        return Decimal(0)
    found = valuation(state, shipment)
    return Decimal(0) if found is None else found.eligible


def run(state: FacilityState, items: Iterable[EngineInput]) -> tuple[FacilityState, list[Outputs]]:
    """Fold ``items`` through :func:`apply` (replays, tests, the calendar's rebuild): one
    copy of ``state``, then the reference step in place for each item."""
    return fold(revalue_in_place, _copy, state, items)


def input_key(item: EngineInput) -> str:
    """A stable key for an input: the id of the envelope or command, or a digest."""
    match item:
        case FxRate():
            return f"fx:{pair(item.base, item.quote)}:{item.as_of.isoformat()}"
        case Facility() | ShipmentBooking():
            digest = hashlib.sha256(item.model_dump_json().encode()).hexdigest()[:32]
            return f"{type(item).__name__.lower()}:{digest}"
        case DrawdownRequested():
            return item.request_id
        case TrancheDecision():
            return f"decision:{item.request_id}"
        case RepaymentDelayRequested():
            return f"delay:{item.request_id}"
        case RepaymentDelayDecided():
            return f"delay-decision:{item.request_id}"
        case FxQuoteRequested():
            return f"fx_quote:{item.request_id}"
        case RepaymentReceived() | SaleReported():
            return item.cause_id
        case DayTick():
            return f"tick:{item.at.isoformat()}"
        case PledgeDecided():
            return f"pledge:{item.decision_id}"
        case _:  # a shipment event (a parametrised envelope cannot be a class pattern)
            return item.id


def _own(step: Step, facility_id: str) -> None:
    if facility_id != step.state.facility_id:
        raise ValueError(f"input for facility {facility_id!r} routed to {step.state.facility_id!r}")


def _dispatch(step: Step, item: EngineInput) -> None:
    state = step.state
    match item:
        case Facility():
            _own(step, item.facility_id)
            if state.terms is None or state.terms.limit.currency == item.limit.currency:
                state.terms = item  # a currency change after the fact is not applied
                credit.terms_changed(state)
        case ShipmentBooking():
            learn_booking(state.shipment(item.shipment_id), item)
            credit.shipment_facts(step, item.shipment_id, None, step.now)
        case FxRate():
            key = pair(item.base, item.quote)
            held = state.fx.get(key)
            if held is None or item.as_of > held.as_of:
                state.fx[key] = item
        case DrawdownRequested():
            _own(step, item.facility_id)
            _advance(step, item.at)
            if item.request_id in state.handled:
                step.result = ResultCode.ALREADY_APPLIED
                return
            step.result = attempt(
                step, item.shipment_id, item.milestone, item.request_id, item.at, consent=True
            )
            if step.result is not ResultCode.FACILITY_UNKNOWN:
                state.handled[item.request_id] = step.result
        case RepaymentReceived():
            _own(step, item.facility_id)
            _advance(step, item.at)
            step.result = repayment_received(step, item)
            credit.repayment(step, item)
        case SaleReported():
            _own(step, item.facility_id)
            _advance(step, item.at)
            step.result = sale_reported(step, item)
            instalments.sold(step, item, step.result)
        case DayTick():
            _own(step, item.facility_id)
            _advance(step, item.at)
        case TrancheDecision():
            _own(step, item.facility_id)
            _advance(step, item.at)
            decide(step, item)
        case RepaymentDelayRequested():
            _own(step, item.facility_id)
            _advance(step, item.at)
            instalments.delay_requested(step, item)
        case RepaymentDelayDecided():
            _own(step, item.facility_id)
            _advance(step, item.at)
            instalments.delay_decided(step, item)
        case FxQuoteRequested():
            _own(step, item.facility_id)
            _advance(step, item.at)
            request_quote(step, item)
        case PledgeDecided():
            _own(step, item.facility_id)
            _pledge_decided(step, item)
        case _:  # a shipment event
            _advance(step, item.time)
            _shipment_event(step, item)


def _pledge_decided(step: Step, decision: PledgeDecided) -> None:
    """The collateral register decided on a pledge of this facility's shipment: its own (the
    shipment is valued at most at what it secures from now on) or a later one, of another
    facility, that was capped or refused (announced only). Published once per decision; the
    facility clock does not move (the decision follows the shipment's input, whose event
    reaches the facility next)."""
    state = step.state
    key = f"pledge:{decision.decision_id}"
    if key in state.handled:
        return  # a redelivered decision: its first application stands
    state.handled[key] = ResultCode.OK
    if decision.concerns == "own_pledge":
        shipment = state.shipment(decision.shipment_id)
        shipment.pledge_code, shipment.pledge_granted = decision.code, decision.granted
    step.emit(decision, decision.decision_id)


RETRIED_ON_CLEARING = (ResultCode.TRACKER_UNHEALTHY, ResultCode.CARGO_IMPAIRED)
"""Automatic tranches rejected for a condition that can clear: tried again when it does."""


def _shipment_event(step: Step, event: ShipmentEvent) -> None:
    state = step.state
    shipment_id = event.subject
    shipment = state.shipment(shipment_id)
    eta = shipment.eta
    note_shipment_event(shipment, event.data)
    credit.shipment_facts(step, shipment_id, event.data, event.time)
    data = event.data
    if isinstance(data, TrackerResumed | BreachEnded | DeviationEnded):
        _retry_cleared(step, shipment_id, event.id, event.time)
        return
    if isinstance(data, EtaChanged | DelayPredicted):
        reminders.eta_observed(step, shipment, eta)
        return
    if not isinstance(data, MilestoneReached) or not state.pledged(shipment_id):
        return
    milestone = data.milestone
    if milestone is Milestone.DELIVERED and instalments.governed(state):
        instalments.start(step, shipment, PlanStart.DELIVERED, event.time)
    elif milestone is Milestone.DELIVERED:
        delivery_proceeds(shipment, event.id, event.time)
    terms = state.terms
    if (
        terms is not None
        and terms.auto_drawdown
        and scheduled_share(state, milestone) > 0
        and milestone not in shipment.attempted
        and milestone not in shipment.drawn
    ):
        step.result = attempt(step, shipment_id, milestone, event.id, event.time)
        shipment.attempted[milestone] = step.result


def _retry_cleared(step: Step, shipment_id: str, cause_event_id: str, at: datetime) -> None:
    """A tracker resumed or a breach or deviation ended: try again, once per clearing event,
    every automatic tranche of the shipment that was rejected for such a condition. Every
    rule is checked again (a tranche still impaired is rejected again, with the clearing event
    as its cause); the tranche's ledger id is its (shipment, milestone), so none is paid
    twice."""
    state = step.state
    terms = state.terms
    shipment = state.shipment(shipment_id)
    if terms is None or not terms.auto_drawdown or not state.pledged(shipment_id):
        return
    key = f"retry:{cause_event_id}"
    if key in state.handled:
        return  # a redelivered clearing event retries nothing, whatever happened in between
    state.handled[key] = ResultCode.OK
    for milestone, result in list(shipment.attempted.items()):
        if result in RETRIED_ON_CLEARING and milestone not in shipment.drawn:
            shipment.attempted[milestone] = step.result = attempt(
                step, shipment_id, milestone, cause_event_id, at
            )


def _advance(step: Step, at: datetime) -> None:
    """Move the facility clock to ``at`` (if later) and accrue every day it closed; each
    closed day is kept for value dating (:mod:`finance.value_dating`). On the way the clock
    stops at each deadline of a tranche waiting for the borrower, which expires there, so
    the books do not depend on which input happened to move the clock past it."""
    state = step.state
    target = at if state.clock is None else max(state.clock, at)
    for deadline in deadlines_before(state, target):
        _move_clock(step, deadline if state.clock is None else max(state.clock, deadline))
        expire_due(step, deadline)
    _move_clock(step, target)


def _move_clock(step: Step, clock: datetime) -> None:
    state = step.state
    state.clock = step.now = clock
    if state.accrued_until is not None:
        open_window(state, clock)  # a state written before the window was kept
        close_days(step, clock.date())
        instalments.flag_overdue(step)
