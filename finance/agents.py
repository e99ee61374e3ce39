"""The pledge and insurance engines inside the worker: thin faust agents around
:func:`finance.pledge_engine.apply` and :func:`finance.insurance.apply`.

Routing:
- ``shipments.events`` → per pledging facility → ``{app}-finance-in`` (key facility id), and
  → ``{app}-insurance-in`` (key shipment id);
- ``finance.commands`` (key facility id) → ``{app}-finance-in``;
- ``insurance.commands`` (key shipment id) → ``{app}-insurance-in``.
Each engine agent keeps its state in a table keyed like its input topic. Before applying an
input it brings the state up to date with the registries held in memory (facility terms,
bookings, FX rates, policies): each of those is applied once per process when it is new or
changed, and the engines ignore what they already know, so a restart re-applies harmlessly.

Outputs: finance events → ``finance.events`` and ledger entries → ``finance.ledger`` (key
facility id, in this order); claim events → ``insurance.claims`` (key policy id); a payout to a
pledging lender → ``RepaymentReceived`` on ``finance.commands`` (key facility id), which the
pledge agent then applies once per cause id.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
from pydantic import BaseModel

from finance import pledge_engine
from finance.facility_state import FacilityState
from finance.insurance.state import InsuranceState
from finance.shell import COMMAND, DECISION, EVENT, InsuranceShell, PledgeShell
from streams.registries import Registries
from tradelane.contracts import Envelope, ShipmentEvent
from tradelane.topics import (
    DAY_MS,
    FINANCE_COMMANDS,
    FINANCE_EVENTS,
    FINANCE_LEDGER,
    INSURANCE_CLAIMS,
    INSURANCE_COMMANDS,
    SHIPMENTS_EVENTS,
    KafkaTopic,
)


def _raw_topic(
    app: faust.App, name: str, partitions: int | None = None, internal: bool = False
) -> Any:
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
        internal=internal,
    )


class _Memo:
    """What this process already fed an engine state, so each registry record is applied once
    per process (a restart applies them again; the engines ignore what they know).

    Registries replace a record object whenever a new version arrives, so identity tells a
    new version from one already applied without serialising anything."""

    def __init__(self) -> None:
        self.applied: dict[tuple[str, str, str], BaseModel] = {}

    def fresh(self, key: str, record: BaseModel) -> bool:
        slot = (key, type(record).__name__, _record_key(record))
        if self.applied.get(slot) is record:
            return False
        self.applied[slot] = record
        return True


def _record_key(record: BaseModel) -> str:
    for name in ("facility_id", "policy_id", "shipment_id"):
        value = getattr(record, name, None)
        if isinstance(value, str):
            return value
    base, quote = getattr(record, "base", ""), getattr(record, "quote", "")
    return f"{base}/{quote}"


def install(app: faust.App, app_id: str, registries: Registries, ready: asyncio.Event) -> None:
    """Add the pledge and insurance agents to the worker's app."""
    events_in = _raw_topic(app, SHIPMENTS_EVENTS.name)
    finance_commands = _raw_topic(app, FINANCE_COMMANDS.name)
    decisions = _raw_topic(app, INSURANCE_COMMANDS.name)
    finance_in = _raw_topic(app, finance_topic(app_id), FINANCE_EVENTS.partitions, True)
    insurance_in = _raw_topic(app, insurance_topic(app_id), SHIPMENTS_EVENTS.partitions, True)
    finance_out = _raw_topic(app, FINANCE_EVENTS.name)
    ledger_out = _raw_topic(app, FINANCE_LEDGER.name)
    claims_out = _raw_topic(app, INSURANCE_CLAIMS.name)
    facilities = app.Table(
        "facilities", key_type=bytes, value_type=bytes, partitions=FINANCE_EVENTS.partitions
    )
    policies = app.Table(
        "insurance", key_type=bytes, value_type=bytes, partitions=SHIPMENTS_EVENTS.partitions
    )
    pledge_memo, insurance_memo = _Memo(), _Memo()
    pledge_shell, insurance_shell = PledgeShell(), InsuranceShell()

    @app.agent(events_in)
    async def fan_out(stream: Any) -> None:
        async for key, value in stream.items():
            await ready.wait()
            shipment = key.decode()
            for facility_id in sorted(registries.pledges.get(shipment, ())):
                await finance_in.send(key=facility_id.encode(), value=EVENT + value)
            if shipment in registries.policies:
                await insurance_in.send(key=key, value=EVENT + value)

    @app.agent(finance_commands)
    async def route_commands(stream: Any) -> None:
        async for key, value in stream.items():
            await finance_in.send(key=key, value=COMMAND + value)

    @app.agent(decisions)
    async def route_decisions(stream: Any) -> None:
        async for key, value in stream.items():
            await insurance_in.send(key=key, value=DECISION + value)

    @app.agent(finance_in)
    async def pledge(stream: Any) -> None:
        outs = {"events": finance_out, "ledger": ledger_out}
        async for key, value in stream.items():
            await ready.wait()
            facility_id = key.decode()

            def sync(item: pledge_engine.EngineInput, facility_id: str = facility_id) -> list[Any]:
                return _pledge_sync(registries, pledge_memo, facility_id, item)

            for dest, out_key, out_value in pledge_shell.handle(facilities, key, value, sync):
                await outs[dest].send(key=out_key, value=out_value)

    @app.agent(insurance_in)
    async def insurance(stream: Any) -> None:
        outs = {"claims": claims_out, "commands": finance_commands}
        async for key, value in stream.items():
            await ready.wait()
            shipment = key.decode()

            def prior(shipment: str = shipment) -> list[Any]:
                return _insurance_sync(registries, insurance_memo, shipment)

            for dest, out_key, out_value in insurance_shell.handle(policies, key, value, prior):
                await outs[dest].send(key=out_key, value=out_value)


def finance_topic(app_id: str) -> str:
    return f"{app_id}-finance-in"


def insurance_topic(app_id: str) -> str:
    return f"{app_id}-insurance-in"


def internal_topics(app_id: str) -> tuple[KafkaTopic, ...]:
    """The engines' own topics (routing and table changelogs), for the worker to create before
    faust subscribes: one missing at subscription is only seen at a later metadata refresh, and
    the agents that send to it wait meanwhile."""
    week = 7 * DAY_MS
    by_facility, by_shipment = FINANCE_EVENTS.partitions, SHIPMENTS_EVENTS.partitions
    return (
        KafkaTopic(
            finance_topic(app_id), by_facility, "delete", ShipmentEvent, "facility_id", week
        ),
        KafkaTopic(
            insurance_topic(app_id), by_shipment, "delete", ShipmentEvent, "shipment_id", week
        ),
        KafkaTopic(
            f"{app_id}-facilities-changelog", by_facility, "compact", FacilityState, "facility_id"
        ),
        KafkaTopic(
            f"{app_id}-insurance-changelog", by_shipment, "compact", InsuranceState, "shipment_id"
        ),
    )


def _pledge_sync(
    registries: Registries, memo: _Memo, facility_id: str, item: pledge_engine.EngineInput
) -> list[pledge_engine.EngineInput]:
    """Registry records the facility's state must know before ``item``: its terms, the
    booking of the shipment the item concerns, and the FX rates."""
    prior: list[pledge_engine.EngineInput] = []
    terms = registries.facilities.get(facility_id)
    if terms is not None and memo.fresh(facility_id, terms):
        prior.append(terms)
    shipment = item.subject if isinstance(item, Envelope) else None
    booking = registries.bookings.get(shipment) if shipment else None
    if booking is not None and memo.fresh(facility_id, booking):
        prior.append(booking)
    prior += [rate for rate in registries.fx.values() if memo.fresh(facility_id, rate)]
    return prior


def _insurance_sync(registries: Registries, memo: _Memo, shipment: str) -> list[Any]:
    prior: list[Any] = []
    booking = registries.bookings.get(shipment)
    if booking is not None and memo.fresh(shipment, booking):
        prior.append(booking)
    for facility_id in sorted(registries.pledges.get(shipment, ())):
        facility = registries.facilities.get(facility_id)
        if facility is not None and memo.fresh(shipment, facility):
            prior.append(facility)
    prior += [p for p in registries.policies.get(shipment, {}).values() if memo.fresh(shipment, p)]
    return prior
