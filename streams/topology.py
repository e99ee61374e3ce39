"""The one topology: what one input does to one shipment, and where its effects go.

Pure (no Kafka, no clock). The worker's hot path (:mod:`streams.hotpath`) calls
:func:`apply_to_shipment` for every input of a shipment's partition; the fault suite's oracle
(:mod:`faults.oracle`) calls the same function offline. So the routing of inputs to the
shipment core and the engines is written once:

1. a shipment's latest booking is applied first when the state has not seen it yet (the
   registry can move ahead of the readings);
2. the input goes through :func:`streams.core.apply_in_place` (bookings, readings,
   statuses) or, for an insurer's decision, straight to the insurance engine;
3. every shipment event of an insured shipment goes through the insurance engine in the same
   step (same key, same partition: no hop), after the registry records the insurance state
   must know first (``insurance_priors``);
4. every shipment event goes to each facility the shipment is pledged to (the pledge engine is
   keyed by facility, so that stays one hop), and a payout to a pledging lender becomes a
   ``RepaymentReceived`` command for that facility.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from finance.facility_state import pledged_set
from finance.insurance import apply_in_place as insure_in_place
from finance.insurance import repayment
from finance.insurance.engine import copy_state
from finance.insurance.state import InsuranceState
from streams.core import apply_in_place
from streams.rules import DEFAULT_RULES, StreamRules
from streams.state import ShipmentState
from tradelane.contracts import (
    ClaimDecision,
    ClaimEvent,
    Facility,
    IngestedReading,
    IngestedStatus,
    ShipmentBooking,
    ShipmentEvent,
)
from tradelane.contracts.finance import FinanceCommand

ShipmentInput = IngestedReading | ShipmentBooking | IngestedStatus | ClaimDecision


@dataclass(frozen=True, slots=True)
class Context:
    """What the registries say about one shipment when an input arrives."""

    booking: ShipmentBooking | None = None
    """The shipment's latest booking."""
    pledged_to: Sequence[str] = ()
    """Ids of the facilities the shipment is pledged to, sorted."""
    insured: bool = False
    """Whether any policy covers the shipment."""
    insurance_priors: Sequence[Any] = ()
    """Registry records (booking, facilities, policies) the insurance state must see before
    this input; the engine ignores records it already knows."""


@dataclass(slots=True)
class Effects:
    """Everything one input caused, in the order it must be published."""

    events: list[ShipmentEvent] = field(default_factory=list)
    claims: list[ClaimEvent] = field(default_factory=list)
    commands: list[FinanceCommand] = field(default_factory=list)
    """Repayments to pledging lenders (to ``finance.commands``, keyed by facility)."""
    to_facilities: list[tuple[str, ShipmentEvent]] = field(default_factory=list)
    """(facility id, shipment event) for the pledge engine."""
    priors_applied: bool = False
    """Whether the context's insurance priors reached the insurance state (they do only with
    the first input that reaches the engine)."""


def apply_to_shipment(
    state: ShipmentState,
    insurance: InsuranceState | None,
    item: ShipmentInput,
    context: Context,
    rules: StreamRules = DEFAULT_RULES,
) -> tuple[InsuranceState | None, Effects]:
    """Apply ``item`` to the shipment's ``state`` (in place) and to its insurance state
    (returned, never mutated; ``None`` while the shipment is not insured and has no state)."""
    out = Effects()
    if context.insurance_priors:
        context = _narrowed(context, state.shipment_id)
    if isinstance(item, ClaimDecision):
        return _insure(insurance, context, item, out), out
    latest = context.booking
    if latest is not None and not isinstance(item, ShipmentBooking) and state.booking != latest:
        out.events += apply_in_place(state, latest, rules)
    out.events += apply_in_place(state, item, rules)
    for event in out.events:
        if context.insured:
            insurance = _insure(insurance, context, event, out)
            context = _without_priors(context)
        out.to_facilities += [(facility, event) for facility in context.pledged_to]
    return insurance, out


def _insure(
    insurance: InsuranceState | None,
    context: Context,
    item: ShipmentEvent | ClaimDecision,
    out: Effects,
) -> InsuranceState:
    """The insurance engine's in-place step (:mod:`tradelane.discipline`) on one copy of the
    held state, for the priors and the item together: the held state is never mutated (a
    failed batch is undone by dropping what it put), and comes back itself when nothing
    changed, so the caller writes nothing."""
    held = insurance if insurance is not None else InsuranceState()
    working = copy_state(held)
    changed = False
    out.priors_applied = out.priors_applied or bool(context.insurance_priors)
    for record in (*context.insurance_priors, item):
        step = insure_in_place(working, record)
        changed = changed or step.changed
        out.claims += step.claims
        out.commands += [c for c in map(repayment, step.claims) if c is not None]
    return working if changed else held


def _narrowed(context: Context, shipment_id: str) -> Context:
    """The priors as one shipment's insurance state needs them: a facility names only this
    shipment among those it pledges (or none). The state keeps one pledge per shipment named,
    so a whole facility made every shipment's state as large as the credit line (700 pledges
    in each, serialised with every change of each) and its first event O(shipments)."""
    priors = [
        r.model_copy(
            update={"pledged_shipments": [shipment_id] if shipment_id in pledged_set(r) else []}
        )
        if isinstance(r, Facility)
        else r
        for r in context.insurance_priors
    ]
    return Context(context.booking, context.pledged_to, context.insured, priors)


def _without_priors(context: Context) -> Context:
    if not context.insurance_priors:
        return context
    return Context(context.booking, context.pledged_to, context.insured, ())
