"""Rebuild one facility's engine state from Kafka, for tools that run outside the worker.

The finance worker keeps every facility's state in its table; a command-line tool has no
table, so it replays the facility's inputs through the same pure engine: the facility record
(``finance.facilities``), its pledged shipments' bookings (``shipments.registry``) and events
(``shipments.events``), all FX rates (``fx.rates``) and the facility's commands
(``finance.commands``), folded in event-time order. Compacted topics hold only the latest
record per key, so the rebuilt state prices with today's rates: right for a forecast such as
the funding calendar, not a substitute for the ledger (which records the rates it used).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol, TypeVar

from aiokafka import TopicPartition
from pydantic import BaseModel, ValidationError

from finance.facility_state import FacilityState, new_state
from finance.ledger_store import partition_for
from finance.pledge_engine import EngineInput, run
from tradelane import kafka as clients
from tradelane.contracts import Facility, FxRate, ShipmentBooking, ShipmentEvent
from tradelane.contracts.finance import (
    DayTick,
    DrawdownRequested,
    FinanceCommand,
    RepaymentReceived,
    SaleReported,
)
from tradelane.settings import KafkaSettings
from tradelane.topics import (
    FINANCE_COMMANDS,
    FINANCE_FACILITIES,
    FX_RATES,
    SHIPMENTS_EVENTS,
    SHIPMENTS_REGISTRY,
)


class Record(Protocol):
    """The fields of an aiokafka ``ConsumerRecord`` used here (aiokafka ships no types)."""

    offset: int
    key: bytes | None
    value: bytes | None


M = TypeVar("M", bound=BaseModel)


async def read_topic(
    settings: KafkaSettings, topic: str, keys: Iterable[str] | None = None, timeout_s: float = 30
) -> list[Record]:
    """Records of ``topic`` from offset 0 to its current end; with ``keys``, only the
    partitions those keys hash to and only records under them."""
    consumer = clients.consumer(settings, auto_offset_reset="latest")
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout_s
        partitions = consumer.partitions_for_topic(topic)
        while not partitions:
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {topic} has no partitions (created?)")
            await consumer._client.force_metadata_update()  # aiokafka has no public call
            partitions = consumer.partitions_for_topic(topic)
        wanted = None if keys is None else {k.encode() for k in keys}
        chosen = (
            sorted(partitions)
            if wanted is None
            else sorted({partition_for(k.decode(), len(partitions)) for k in wanted})
        )
        tps = [TopicPartition(topic, p) for p in chosen]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: list[Record] = []
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic} did not reach its end in time")
            for tp, batch in (await consumer.getmany(*tps, timeout_ms=500)).items():
                out += [
                    r for r in batch if r.offset < ends[tp] and (wanted is None or r.key in wanted)
                ]
        return out
    finally:
        await consumer.stop()


def _parse(model: type[M], records: Iterable[Record]) -> list[M]:
    parsed: list[M] = []
    for record in records:
        try:
            parsed.append(model.model_validate_json(record.value or b""))
        except ValidationError:
            continue  # a bad record is the producer's dead letter, not ours to judge here
    return parsed


def _when(item: EngineInput) -> datetime:
    if isinstance(item, FxRate):
        return item.as_of
    if isinstance(item, Facility | ShipmentBooking):
        raise TypeError("registry records have no event time; they are folded first")
    if isinstance(item, DrawdownRequested | RepaymentReceived | SaleReported | DayTick):
        return item.at
    return item.time


async def rebuild_state(settings: KafkaSettings, facility_id: str) -> FacilityState:
    """The facility's state as replaying its inputs from Kafka gives it."""
    keyed = [facility_id]
    facilities = _parse(Facility, await read_topic(settings, FINANCE_FACILITIES.name, keyed))
    if not facilities:
        raise LookupError(f"no facility {facility_id!r} on {FINANCE_FACILITIES.name}")
    terms = facilities[-1]
    pledged = sorted(set(terms.pledged_shipments))
    bookings = _parse(ShipmentBooking, await read_topic(settings, SHIPMENTS_REGISTRY.name, pledged))
    latest_booking = {b.shipment_id: b for b in bookings}
    timed: list[EngineInput] = []
    timed += _parse(FxRate, await read_topic(settings, FX_RATES.name))
    timed += _parse(ShipmentEvent, await read_topic(settings, SHIPMENTS_EVENTS.name, pledged))
    commands = _parse(FinanceCommand, await read_topic(settings, FINANCE_COMMANDS.name, keyed))
    timed += [c.data for c in commands if c.data.facility_id == facility_id]
    timed.sort(key=_when)  # stable: ties keep Kafka's order
    state, _ = run(new_state(facility_id), [terms, *latest_booking.values(), *timed])
    return state
