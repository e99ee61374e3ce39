"""What the engines must have produced: the pure engines run offline over the same input.

The oracle folds each shipment's booking and its readings (as the bridge wrote them to
``tracker.readings``, in partition order, redelivered copies included) through
:func:`streams.topology.apply_to_shipment`, the function the worker's hot path calls: the
shipment core, the insurance engine in the same step, and the inputs of the pledge engine (per
facility: the shipment's events and a lender's payout as its repayment), which the oracle then
runs. No Kafka, no clock: the same input gives the same answer every time.

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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel

import streams.core
from finance import pledge_engine
from streams.topology import Context, apply_to_shipment
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


def _inputs_in_order(
    booking: ShipmentBooking, update: ShipmentBooking | None, readings: Iterable[IngestedReading]
) -> Iterator[ShipmentBooking | IngestedReading]:
    """The booking, then the readings, with the customs update placed before the first reading
    stamped after the clearance (or last)."""
    yield booking
    cleared = None if update is None else update.customs_cleared_at
    for item in readings:
        if update is not None and cleared is not None and item.reading.ts > cleared:
            yield update
            update = None
        yield item
    if update is not None:
        yield update


def shipment_events(
    booking: ShipmentBooking, update: ShipmentBooking | None, readings: Iterable[IngestedReading]
) -> list[ShipmentEvent]:
    """One shipment's events (no engines)."""
    state = streams.core.new_state(booking.shipment_id)
    events: list[ShipmentEvent] = []
    for item in _inputs_in_order(booking, update, readings):
        events += streams.core.apply_in_place(state, item)
    return events


def _shipment(
    inputs: Inputs, shipment: str, pledged: Sequence[str], out: Outcomes
) -> list[tuple[str, pledge_engine.EngineInput]]:
    """Run one shipment through :func:`streams.topology.apply_to_shipment`, as the worker
    does; record its events and claims; return its inputs for the pledge engine."""
    booking = inputs.bookings[shipment]
    policies = list(inputs.policies.get(shipment, ()))
    priors: list[BaseModel] = [booking, *(inputs.facilities[f] for f in pledged), *policies]
    state, insurance = streams.core.new_state(shipment), None
    finance: list[tuple[str, pledge_engine.EngineInput]] = [(f, booking) for f in pledged]
    for item in _inputs_in_order(
        booking, inputs.updates.get(shipment), inputs.readings.get(shipment, ())
    ):
        context = Context(state.booking or booking, pledged, bool(policies), priors)
        insurance, effects = apply_to_shipment(state, insurance, item, context)
        if effects.priors_applied:
            priors = []
        out.shipment_events |= {e.id: e.model_dump_json() for e in effects.events}
        _record_claims(out, effects.claims)
        finance += effects.to_facilities
        finance += [(c.subject, c.data) for c in effects.commands]
    return finance


def expected(inputs: Inputs) -> Outcomes:
    """The outcomes of a clean, fault-free pass over ``inputs``."""
    out = Outcomes()
    pledged: dict[str, list[str]] = defaultdict(list)
    for facility in inputs.facilities.values():
        for shipment in facility.pledged_shipments:
            pledged[shipment].append(facility.facility_id)
    finance_inputs: dict[str, list[pledge_engine.EngineInput]] = {
        f: [terms, *inputs.fx] for f, terms in inputs.facilities.items()
    }
    for shipment in sorted(inputs.bookings):
        for facility_id, item in _shipment(inputs, shipment, sorted(pledged[shipment]), out):
            if facility_id in finance_inputs:
                finance_inputs[facility_id].append(item)

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
