"""A facility's ledger (read whole from Kafka) and its funding calendar (from the read model).

The ledger's entries are not kept in memory, so ``/ledger`` reads them on request with the
finance package's own reader and verifies them, exactly as ``tradelane ledger verify`` does,
and states the position they fold to (:mod:`finance.positions`). Reading and verifying is
CPU-heavy, so it runs in a worker process through :class:`~api.off_loop.OffLoop`, cached
under the end offset of the facility's ``finance.ledger`` partition (one cheap round trip
to Kafka per request; an unchanged facility is answered from memory).

The calendar is a pure projection of what the read model already holds (the position its
ledger folds to, terms, the latest base and its collateral lines, bookings, ETAs and
milestones reached; :func:`calendar_inputs`), so it costs microseconds per shipment and is
computed in the request. No second run of the pledge engine: ``tradelane finance calendar``
folds the same topics into the same read model and calls the same functions.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor
from datetime import datetime

from aiokafka import TopicPartition

from api.models import (
    CalendarDayOut,
    CalendarLineOut,
    CalendarOut,
    CalendarWeekOut,
    CashGapOut,
    LedgerOut,
    LedgerPositionOut,
)
from api.off_loop import OffLoop
from api.projection import FacilityView, ReadModel
from api.settings import ApiSettings
from finance.calendar import (
    CalendarInputs,
    CalendarLine,
    FundingCalendar,
    ShipmentPlan,
    funding_calendar,
)
from finance.conditions import learn_booking
from finance.facility_state import ShipmentCollateral
from finance.ledger import verify
from finance.ledger_store import LedgerStore, StoredLedger, partition_for
from finance.positions import Position, fold
from tradelane.contracts import Milestone
from tradelane.contracts.finance import LedgerEntry
from tradelane.settings import KafkaSettings
from tradelane.topics import (
    FINANCE_CHECKPOINTS,
    FINANCE_EVENTS,
    FINANCE_FACILITIES,
    FINANCE_LEDGER,
    SHIPMENTS_EVENTS,
    SHIPMENTS_REGISTRY,
)
from transport import kafka as clients

Positions = tuple[tuple[str, int, int], ...]
"""(topic, partition, end offset) of every partition a computation reads."""


def ledger_inputs(facility_id: str) -> dict[str, list[str] | None]:
    """Topic → the keys read (``None``: every partition) for a facility's ledger."""
    return {FINANCE_LEDGER.name: [facility_id]}


def calendar_topics(facility_id: str, pledged: Iterable[str]) -> dict[str, list[str]]:
    """Topic → keys whose records make a facility's calendar (what ``tradelane finance
    calendar`` folds into a read model; the API's read model follows them all)."""
    shipments = sorted(set(pledged))
    return {
        FINANCE_FACILITIES.name: [facility_id],
        SHIPMENTS_REGISTRY.name: shipments,
        SHIPMENTS_EVENTS.name: shipments,
        FINANCE_EVENTS.name: [facility_id],
        FINANCE_LEDGER.name: [facility_id],
    }


def position_out(position: Position) -> LedgerPositionOut:
    """A position as the API states it (the same in the summary, ledger and calendar)."""
    return LedgerPositionOut(
        currency=position.currency,
        outstanding=str(position.principal),
        interest_due=str(position.interest_due),
        borrower_payable=str(position.borrower_payable),
        ledger_entries=position.entries,
        ledger_seq=position.head_seq,
        ledger_hash=position.head_hash,
        as_of=position.as_of,
        ledger_verified=position.verified,
    )


def shipment_plan(model: ReadModel, shipment_id: str) -> ShipmentPlan:
    """What the read model knows of a shipment's plan and progress."""
    view = model.shipments.get(shipment_id)
    if view is None:
        return ShipmentPlan(shipment_id)
    planned: dict[Milestone, datetime] = {}
    if view.booking is not None:
        scratch = ShipmentCollateral(shipment_id=shipment_id)
        learn_booking(scratch, view.booking)  # the engine's own reading of a booking's plan
        planned = dict(scratch.planned)
    known = {m.value: m for m in Milestone}
    reached = {known[k]: at for k, at in view.milestones.items() if k in known}
    return ShipmentPlan(shipment_id, planned, view.eta, reached)


def calendar_inputs(model: ReadModel, view: FacilityView) -> CalendarInputs:
    """A facility's calendar inputs, from the read model alone."""
    if view.facility is None:
        raise LookupError(f"facility {view.facility_id!r} has no terms yet")
    pledged = sorted(set(view.facility.pledged_shipments))
    return CalendarInputs(
        terms=view.facility,
        position=view.position,
        base=view.base,
        collateral=dict(view.collateral),
        shipments={s: shipment_plan(model, s) for s in pledged},
        repaid_shipment=dict(view.repaid_shipment),
        instalments={s: list(plan.values()) for s, plan in view.seller.plans.items()},
    )


async def end_offsets(
    settings: KafkaSettings, inputs: Mapping[str, list[str] | None], timeout_s: float = 10.0
) -> Positions:
    """The current end offset of every partition ``inputs`` name."""
    consumer = clients.consumer(settings, auto_offset_reset="latest")
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout_s
        tps: list[TopicPartition] = []
        for topic, keys in sorted(inputs.items()):
            left = max(0.0, deadline - time.monotonic())
            partitions = await clients.partitions(consumer, topic, deadline_s=left)
            chosen = (
                set(partitions)
                if keys is None
                else {partition_for(k, len(partitions)) for k in keys}
            )
            tps += [TopicPartition(topic, p) for p in sorted(chosen)]
        ends = await asyncio.wait_for(consumer.end_offsets(tps), timeout_s)
        return tuple((tp.topic, tp.partition, ends[tp]) for tp in tps)
    finally:
        await consumer.stop()


def read_ledger(settings: KafkaSettings, facility_id: str) -> LedgerOut:
    """The verified ledger and the position it folds to (runs in a worker process)."""

    async def read() -> LedgerOut:
        stored = await LedgerStore(settings).read(facility_id)
        return ledger_out(facility_id, list(stored.entries), len(stored.unreadable))

    return asyncio.run(read())


def read_stored(settings: KafkaSettings, facility_id: str) -> StoredLedger:
    """The facility's stored entries and signed checkpoints, unverified: what an export
    writes (runs in a worker process; the verdict is the reader's, offline)."""
    return asyncio.run(LedgerStore(settings).read(facility_id))


def ledger_out(facility_id: str, entries: list[LedgerEntry], unreadable: int = 0) -> LedgerOut:
    result = verify(facility_id, entries)
    return LedgerOut(
        facility_id=facility_id,
        entries=entries,
        unreadable=unreadable,
        verified=not result.problems and not unreadable,
        head_hash=result.head_hash,
        position=position_out(fold(facility_id, entries)),
    )


def calendar(model: ReadModel, view: FacilityView, start: datetime, days: int) -> FundingCalendar:
    """The facility's funding calendar, projected from the read model."""
    return funding_calendar(calendar_inputs(model, view), start, days=days)


def default_start(view: FacilityView) -> datetime | None:
    """The facility's last event time (its ledger head's, or its latest finance event's): the
    calendar's default start, so a replay or a simulation is seen at its own time, never at
    the reader's clock. ``None`` for a facility without events."""
    stamps = [t for t in (view.position.as_of, view.updated_at) if t is not None]
    return max(stamps) if stamps else None


def calendar_out(cal: FundingCalendar, position: Position) -> CalendarOut:
    return CalendarOut(
        facility_id=cal.facility_id,
        currency=cal.currency,
        start=cal.start,
        end=cal.end,
        outstanding=str(cal.outstanding),
        base=str(cal.base),
        headroom=str(cal.headroom),
        position=position_out(position),
        lines=[_line_out(line) for line in cal.lines],
        days=[
            CalendarDayOut(
                day=r.day,
                **{k: str(getattr(r, k)) for k in _DAY_AMOUNTS},
                unpriced=r.unpriced,
            )
            for r in cal.days
        ],
        weeks=[
            CalendarWeekOut(start=w.start, last=w.last, **{k: str(getattr(w, k)) for k in _WEEK})
            for w in cal.weeks
        ],
        warnings=[
            CashGapOut(day=g.day, due=str(g.due), available=str(g.available), short=str(g.short))
            for g in cal.warnings
        ],
        firm_days=cal.firm_days,
    )


_DAY_AMOUNTS = (
    "opening", "drawdowns", "repayments", "interest", "outstanding", "interest_due", "base",
    "headroom", "due", "available", "short",
)  # fmt: skip
_WEEK = ("drawdowns", "repayments", "interest", "outstanding", "headroom_min", "short")


def _line_out(line: CalendarLine) -> CalendarLineOut:
    return CalendarLineOut(
        day=line.day,
        kind=line.kind,
        shipment_id=line.shipment_id,
        milestone=None if line.milestone is None else line.milestone.value,
        amount=None if line.amount is None else str(line.amount.amount),
        overdue=line.overdue,
        status=line.status,
        basis=line.basis,
        dated_from=line.dated_from,
        eta=line.eta,
        certainty=line.certainty,
        instalment_id=line.instalment_id,
    )


def process_pool(workers: int) -> ProcessPoolExecutor:
    """Worker processes started fresh (``spawn``): forking a process that runs an event loop
    and threads is unsafe."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


class FinanceReads:
    """The ledger of one facility, read from Kafka off the event loop when asked.

    ``positions`` and ``ledger_reader`` are the Kafka edges; tests replace them. The latter
    must be a picklable module-level function when ``executor`` is a process pool.
    """

    def __init__(
        self,
        settings: KafkaSettings,
        api: ApiSettings | None = None,
        executor: Executor | None = None,
        positions: Callable[[KafkaSettings, Mapping[str, list[str] | None]], Awaitable[Positions]]
        | None = None,
        ledger_reader: Callable[[KafkaSettings, str], LedgerOut] = read_ledger,
    ) -> None:
        api = api or ApiSettings()
        self.settings = settings
        self._executor = executor
        self._workers = api.read_workers
        self._positions = positions or end_offsets
        self._ledger_reader = ledger_reader
        self.off_loop = OffLoop(
            executor or _Lazy(lambda: process_pool(self._workers)),
            api.read_pending_max,
            api.read_timeout_s,
        )

    def close(self) -> None:
        """Stop the worker processes, a computation under way included: it would otherwise
        hold the server's exit for as long as it runs (the process pool waits for it)."""
        executor = self.off_loop.executor
        pool = executor.made if isinstance(executor, _Lazy) else executor
        if isinstance(pool, ProcessPoolExecutor):
            workers = list((getattr(pool, "_processes", None) or {}).values())  # no public call
            pool.shutdown(wait=False, cancel_futures=True)
            for worker in workers:
                worker.terminate()

    async def ledger(self, facility_id: str) -> LedgerOut:
        at = await self._positions(self.settings, ledger_inputs(facility_id))
        return await self.off_loop.run(
            ("ledger", facility_id, at), self._ledger_reader, self.settings, facility_id
        )

    async def stored(self, facility_id: str) -> StoredLedger:
        """The stored entries and checkpoints for an export, cached like :meth:`ledger`."""
        inputs = {FINANCE_LEDGER.name: [facility_id], FINANCE_CHECKPOINTS.name: [facility_id]}
        at = await self._positions(self.settings, inputs)
        return await self.off_loop.run(
            ("stored", facility_id, at), read_stored, self.settings, facility_id
        )


class _Lazy(Executor):
    """An executor made on first use: a process pool costs nothing until a ledger is asked."""

    def __init__(self, make: Callable[[], Executor]) -> None:
        self._make = make
        self._made: Executor | None = None

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self._made is None:
            self._made = self._make()
        return self._made.submit(fn, *args, **kwargs)

    @property
    def made(self) -> Executor | None:
        return self._made

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self._made is not None:
            self._made.shutdown(wait=wait, cancel_futures=cancel_futures)
