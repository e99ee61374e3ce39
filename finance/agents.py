"""The pledge engine inside the worker: a thin faust agent around
:func:`finance.pledge_engine.apply` (the insurance engine runs in the shipment step,
:mod:`streams.hotpath`, since it is keyed by shipment like the shipment state).

Routing:
- the shipment step sends each event of a pledged shipment to ``{app}-finance-in``, once per
  pledging facility (key facility id);
- ``finance.commands`` (key facility id; insurers' payouts to lenders among them) →
  ``{app}-finance-in``.
The pledge agent keeps each facility's state in a table keyed by facility. Before applying an
input it brings the state up to date with the registries held in memory (facility terms,
bookings, FX rates): each of those is applied once per process when it is new or changed, and
the engine ignores what it already knows, so a restart re-applies harmlessly.

Outputs: finance events → ``finance.events`` and ledger entries → ``finance.ledger`` (key
facility id, in this order).
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
from pydantic import BaseModel

from finance import pledge_engine
from finance.facility_state import FacilityState
from finance.shell import COMMAND, PledgeShell
from streams.app import engines_app_id
from streams.registries import Registries
from tradelane.contracts import Envelope, ShipmentEvent
from tradelane.topics import (
    DAY_MS,
    FINANCE_COMMANDS,
    FINANCE_EVENTS,
    FINANCE_LEDGER,
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
    """Add the pledge agent to the worker's app (the insurance engine runs in the shipment
    step, :mod:`streams.hotpath`, which also routes pledged shipments' events here)."""
    finance_commands = _raw_topic(app, FINANCE_COMMANDS.name)
    finance_in = _raw_topic(app, finance_topic(app_id), FINANCE_EVENTS.partitions, True)
    finance_out = _raw_topic(app, FINANCE_EVENTS.name)
    ledger_out = _raw_topic(app, FINANCE_LEDGER.name)
    facilities = app.Table(
        "facilities", key_type=bytes, value_type=bytes, partitions=FINANCE_EVENTS.partitions
    )
    pledge_memo = _Memo()
    pledge_shell = PledgeShell()

    @app.agent(finance_commands)
    async def route_commands(stream: Any) -> None:
        async for key, value in stream.items():
            await finance_in.send(key=key, value=COMMAND + value)

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


def finance_topic(app_id: str) -> str:
    return f"{app_id}-finance-in"


def internal_topics(app_id: str) -> tuple[KafkaTopic, ...]:
    """The engines' own topics (routing and table changelogs), for the worker to create before
    faust subscribes: one missing at subscription is only seen at a later metadata refresh, and
    the agents that send to it wait meanwhile."""
    week = 7 * DAY_MS
    by_facility = FINANCE_EVENTS.partitions
    return (
        KafkaTopic(
            finance_topic(app_id), by_facility, "delete", ShipmentEvent, "facility_id", week
        ),
        KafkaTopic(
            f"{engines_app_id(app_id)}-facilities-changelog",
            by_facility,
            "compact",
            FacilityState,
            "facility_id",
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
