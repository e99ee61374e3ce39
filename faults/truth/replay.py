"""Feed a delivery order through the pure cores, as the worker would, and keep what they said.

Every message goes through :func:`streams.topology.apply_to_shipment` (shipment core and the
insurance engine in the same step) in processing order, with ``received_at`` = its processing
time; the shipment events bound for the credit line are then run, in the order they were
produced, through the pledge engine, and a final day tick at the end of the run closes the
days, so every order accrues interest over the same days. The terms are those of
``tradelane simulate --pledge-to fac-truth --insure``: one demo credit line pledging every
shipment, a demo parametric policy per shipment, the simulated FX rates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import BaseModel

import streams.core
from faults.truth.orders import Delivery
from faults.truth.stream import Fleet
from finance import pledge_engine
from finance.demo_terms import demo_facility, demo_policy
from finance.fx_feed import simulated_rates
from finance.insurance.state import InsuranceState
from streams.topology import Context, ShipmentInput, apply_to_shipment
from tradelane.contracts import (
    ClaimEvent,
    Facility,
    FxRate,
    IngestedReading,
    IngestedStatus,
    Policy,
    ShipmentBooking,
    ShipmentEvent,
)
from tradelane.contracts.finance import DayTick, FinanceEvent

FACILITY_ID = "fac-truth"
FX_SEED = 7
"""The seed ``tradelane simulate`` publishes its FX rates with."""


@dataclass(slots=True)
class Outputs:
    """What the cores produced for one delivery order."""

    facility: Facility
    events: dict[str, ShipmentEvent] = field(default_factory=dict)
    """Shipment events by id (a redelivered cause re-emits the same id: kept once)."""
    claims: list[ClaimEvent] = field(default_factory=list)
    finance: list[FinanceEvent] = field(default_factory=list)
    horizon: datetime | None = None
    """The event time the final day tick reached: days before its date are closed."""


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@dataclass(frozen=True, slots=True)
class _Step:
    """What one delivered message caused in its shipment."""

    key: tuple[float, int]
    """(processing time, publish index): the global processing order."""
    events: tuple[ShipmentEvent, ...]
    claims: tuple[ClaimEvent, ...]
    finance: tuple[pledge_engine.EngineInput, ...]


Cache = dict[tuple[str, tuple[tuple[int, float], ...]], list[_Step]]
"""Per shipment, the steps of a delivered sequence, keyed by the exact sequence (publish
indices and processing times): orders that deliver a shipment's messages identically reuse
its run (a slow tracker changes one shipment, not the fleet)."""


@dataclass(frozen=True, slots=True)
class Terms:
    """The registries' records: the credit line, policies, FX rates."""

    facility: Facility
    policies: dict[str, Policy]
    fx: tuple[FxRate, ...]


def terms_for(fleet: Fleet, facility_id: str = FACILITY_ID) -> Terms:
    """``tradelane simulate --pledge-to fac-truth --insure``'s terms for ``fleet`` (a run on
    shared topics names its own credit line)."""
    bookings = {b.shipment_id: b for b in fleet.bookings}
    facility = demo_facility(facility_id, sorted(bookings))
    policies = {s: demo_policy(s, b.cargo.value, b.shipper) for s, b in sorted(bookings.items())}
    fx = simulated_rates(FX_SEED, min(b.booked_at for b in bookings.values()), count=1)
    return Terms(facility, policies, tuple(fx))


def _shipment(
    terms: Terms, booking: ShipmentBooking, deliveries: Sequence[Delivery]
) -> list[_Step]:
    """One shipment's delivered messages through :func:`apply_to_shipment`."""
    shipment = booking.shipment_id
    state = streams.core.new_state(shipment)
    insurance: InsuranceState | None = None
    priors: list[BaseModel] = [booking, terms.facility, terms.policies[shipment]]
    latest = booking
    facility_id = terms.facility.facility_id
    pledged = [facility_id]
    steps: list[_Step] = []
    for processed_at, msg in deliveries:
        item: ShipmentInput
        if msg.booking is not None:
            latest = item = msg.booking
        elif msg.reading is not None:
            item = IngestedReading(
                reading=msg.reading, received_at=utc(processed_at), mqtt_topic=msg.topic
            )
        elif msg.status is not None:
            item = IngestedStatus(
                status=msg.status, received_at=utc(processed_at), mqtt_topic=msg.topic
            )
        else:  # pragma: no cover - every message carries one of the three
            raise ValueError(f"empty message {msg.index}")
        context = Context(latest, pledged, True, priors)
        insurance, effects = apply_to_shipment(state, insurance, item, context)
        if effects.priors_applied:
            priors = []
        finance: list[pledge_engine.EngineInput] = [
            e for f, e in effects.to_facilities if f == facility_id
        ]
        finance += [c.data for c in effects.commands if c.subject == facility_id]
        if effects.events or effects.claims or finance:
            steps.append(
                _Step(
                    (processed_at, msg.index),
                    tuple(effects.events),
                    tuple(effects.claims),
                    tuple(finance),
                )
            )
    return steps


def finance_causes(cache: Cache) -> dict[int, str]:
    """Publish index → shipment of every delivered message whose step fed the credit line (a
    shipment event of a pledged shipment, a pledge decision, a lender payout), over the runs
    ``cache`` holds."""
    return {
        step.key[1]: shipment
        for (shipment, _), steps in cache.items()
        for step in steps
        if step.finance
    }


def replay(
    fleet: Fleet,
    deliveries: Sequence[Delivery],
    cache: Cache | None = None,
    terms: Terms | None = None,
) -> Outputs:
    """Run ``deliveries`` (a permutation of ``fleet.messages``) through the cores, under
    ``terms`` (default :func:`terms_for`; a cache serves one set of terms only)."""
    terms = terms_for(fleet) if terms is None else terms
    cache = {} if cache is None else cache
    per_shipment: dict[str, list[Delivery]] = {b.shipment_id: [] for b in fleet.bookings}
    for delivery in deliveries:
        per_shipment[delivery[1].shipment_id].append(delivery)
    steps: list[_Step] = []
    for booking in fleet.bookings:
        own = per_shipment[booking.shipment_id]
        key = (booking.shipment_id, tuple((m.index, at) for at, m in own))
        if key not in cache:
            cache[key] = _shipment(terms, booking, own)
        steps += cache[key]
    steps.sort(key=lambda s: s.key)
    out = Outputs(terms.facility)
    finance: list[pledge_engine.EngineInput] = [terms.facility, *terms.fx, *fleet.bookings]
    for step in steps:
        for event in step.events:
            out.events.setdefault(event.id, event)
        out.claims += step.claims
        finance += step.finance
    if fleet.messages:
        out.horizon = utc(max(m.event_at for m in fleet.messages))
        finance.append(DayTick(facility_id=terms.facility.facility_id, at=out.horizon))
    _, results = pledge_engine.run(pledge_engine.new_state(terms.facility.facility_id), finance)
    out.finance = [e for r in results for e in r.events]
    return out
