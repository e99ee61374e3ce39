"""What the engines must have produced: the pure engines run offline over the same input.

The oracle folds each shipment's booking and its readings (as the bridge wrote them to
``tracker.readings``, in partition order, redelivered copies included) through
:func:`streams.core.step`, then feeds the resulting shipment events to the insurance engine
(per shipment) and to the pledge engine (per facility), with a lender's payout handed back to
the pledge engine as its repayment, exactly as the worker's agents wire them. No Kafka, no
clock: the same input gives the same answer every time.

What a fault run compares with it, and why only that: the identities of the drawdowns (one per
facility, shipment and milestone) and of the claim events (one per claim, kind and share). Both
are independent of how the worker's partitions interleaved shipments, so a mismatch can only be
a lost or a doubled effect. Amounts are not compared: interest and repayment timing depend on
that interleaving (the ledger's own hash chain guards amounts; the run verifies it).

A shipment's booking update at customs clearance is placed among its readings by event time,
where the simulator published it; the run uses one tracker per shipment, so which tracker's
reading crossed a geofence cannot depend on arrival order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import streams.core
from finance import pledge_engine
from finance.insurance import apply as insure
from finance.insurance.handoff import repayment
from finance.insurance.state import InsuranceState
from tradelane.contracts import (
    ClaimEvent,
    Facility,
    FxRate,
    IngestedReading,
    Policy,
    ShipmentBooking,
    ShipmentEvent,
)
from tradelane.contracts.finance import DrawdownExecuted


@dataclass(frozen=True, slots=True)
class Drawdown:
    facility_id: str
    shipment_id: str
    milestone: str


@dataclass(slots=True)
class Outcomes:
    """Effects keyed by their deterministic ids (from the oracle or observed on Kafka)."""

    shipment_events: dict[str, str] = field(default_factory=dict)
    """event id -> the event's JSON"""
    drawdowns: dict[str, Drawdown] = field(default_factory=dict)
    """drawdown id -> what it financed"""
    claims: dict[str, str] = field(default_factory=dict)
    """claim event id -> its kind"""


@dataclass(frozen=True, slots=True)
class Inputs:
    """Everything the run fed the pipeline, as read back from Kafka and the manifest."""

    bookings: Mapping[str, ShipmentBooking]
    """shipment id -> its booking as first published"""
    updates: Mapping[str, ShipmentBooking]
    """shipment id -> the booking republished at customs clearance"""
    readings: Mapping[str, Sequence[IngestedReading]]
    """shipment id -> its readings in the order Kafka holds them"""
    facilities: Mapping[str, Facility]
    policies: Mapping[str, Sequence[Policy]]
    """shipment id -> its policies"""
    fx: Sequence[FxRate]


def shipment_events(
    booking: ShipmentBooking, update: ShipmentBooking | None, readings: Iterable[IngestedReading]
) -> list[ShipmentEvent]:
    """One shipment's events: the booking, then its readings, with the customs update placed
    before the first reading stamped after the clearance."""
    state = streams.core.new_state(booking.shipment_id)
    events = streams.core.step(state, booking)
    cleared = None if update is None else update.customs_cleared_at
    for item in readings:
        if update is not None and cleared is not None and item.reading.ts > cleared:
            events += streams.core.step(state, update)
            update = None
        events += streams.core.step(state, item)
    if update is not None:
        events += streams.core.step(state, update)
    return events


def expected(inputs: Inputs) -> Outcomes:
    """The outcomes of a clean, fault-free pass over ``inputs``."""
    out = Outcomes()
    events_of: dict[str, list[ShipmentEvent]] = {}
    for shipment, booking in sorted(inputs.bookings.items()):
        events = shipment_events(
            booking, inputs.updates.get(shipment), inputs.readings.get(shipment, ())
        )
        events_of[shipment] = events
        out.shipment_events |= {e.id: e.model_dump_json() for e in events}

    pledged: dict[str, list[str]] = defaultdict(list)
    for facility in inputs.facilities.values():
        for shipment in facility.pledged_shipments:
            pledged[shipment].append(facility.facility_id)

    # Insurance per shipment; a payout to the lender becomes a repayment input that follows
    # the shipment event that caused it into the facility's stream.
    finance_inputs: dict[str, list[pledge_engine.EngineInput]] = {
        f: [terms, *inputs.fx] for f, terms in inputs.facilities.items()
    }
    for shipment, events in sorted(events_of.items()):
        booking = inputs.bookings[shipment]
        state = InsuranceState()
        priors: list[ShipmentBooking | Facility | Policy] = [booking]
        priors += [inputs.facilities[f] for f in sorted(pledged[shipment])]
        priors += list(inputs.policies.get(shipment, ()))
        for prior in priors:
            state, raised = insure(state, prior)
            _record_claims(out, raised)
        for facility_id in pledged[shipment]:
            finance_inputs[facility_id].append(booking)
        for event in events:
            claims: list[ClaimEvent] = []
            if inputs.policies.get(shipment):
                state, claims = insure(state, event)
                _record_claims(out, claims)
            for facility_id in pledged[shipment]:
                finance_inputs[facility_id].append(event)
            for claim in claims:
                command = repayment(claim)
                if command is not None and command.subject in finance_inputs:
                    finance_inputs[command.subject].append(command.data)

    for facility_id, items in sorted(finance_inputs.items()):
        _, outputs = pledge_engine.run(pledge_engine.new_state(facility_id), items)
        for result in outputs:
            for finance_event in result.events:
                if isinstance(finance_event.data, DrawdownExecuted):
                    d = finance_event.data
                    out.drawdowns[d.drawdown_id] = Drawdown(
                        d.facility_id, d.shipment_id, d.milestone.value
                    )
    return out


def _record_claims(out: Outcomes, claims: Iterable[ClaimEvent]) -> None:
    for claim in claims:
        out.claims[claim.id] = claim.data.kind
