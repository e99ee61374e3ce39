"""Finance data the read model does not hold: a facility's ledger and its funding calendar.

Both are read on request from Kafka by the finance package's own readers (the ledger store
and the state rebuild), so the API shows exactly what ``tradelane ledger`` and ``tradelane
finance calendar`` show, verified the same way. Reading and replaying is CPU-heavy (a
facility of 400 shipments took 38 s), so it runs in a worker process through
:class:`~api.off_loop.OffLoop`, cached under the end offsets of the partitions it reads: the
ledger under its facility's ``finance.ledger`` partition, the rebuilt state under every input
partition. A request first asks Kafka for those offsets (one cheap round trip); an unchanged
facility is then answered from memory.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor
from datetime import datetime

from aiokafka import TopicPartition

from api.models import CalendarLineOut, CalendarOut, LedgerOut
from api.off_loop import OffLoop
from api.settings import ApiSettings
from finance.calendar import funding_calendar
from finance.facility_state import FacilityState
from finance.ledger import verify
from finance.ledger_store import LedgerStore, partition_for
from finance.rebuild import rebuild_state
from tradelane import kafka as clients
from tradelane.settings import KafkaSettings
from tradelane.topics import (
    FINANCE_COMMANDS,
    FINANCE_FACILITIES,
    FINANCE_LEDGER,
    FX_RATES,
    SHIPMENTS_EVENTS,
    SHIPMENTS_REGISTRY,
)

Positions = tuple[tuple[str, int, int], ...]
"""(topic, partition, end offset) of every partition a computation reads."""


def ledger_inputs(facility_id: str) -> dict[str, list[str] | None]:
    """Topic → the keys read (``None``: every partition) for a facility's ledger."""
    return {FINANCE_LEDGER.name: [facility_id]}


def calendar_inputs(facility_id: str, pledged: Iterable[str]) -> dict[str, list[str] | None]:
    """Topic → keys read by :func:`finance.rebuild.rebuild_state` for a facility."""
    shipments = sorted(set(pledged))
    return {
        FINANCE_FACILITIES.name: [facility_id],
        FINANCE_COMMANDS.name: [facility_id],
        FX_RATES.name: None,
        SHIPMENTS_REGISTRY.name: shipments,
        SHIPMENTS_EVENTS.name: shipments,
    }


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
            partitions = consumer.partitions_for_topic(topic)
            while not partitions:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"topic {topic} has no partitions (created?)")
                await consumer._client.force_metadata_update()  # aiokafka has no public call
                partitions = consumer.partitions_for_topic(topic)
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
    """The verified ledger (runs in a worker process)."""

    async def read() -> LedgerOut:
        stored = await LedgerStore(settings).read(facility_id)
        result = verify(facility_id, stored.entries)
        return LedgerOut(
            facility_id=facility_id,
            entries=list(stored.entries),
            unreadable=len(stored.unreadable),
            verified=not result.problems and not stored.unreadable,
            head_hash=result.head_hash,
        )

    return asyncio.run(read())


def rebuild_facility(settings: KafkaSettings, facility_id: str) -> FacilityState:
    """The facility state replayed from Kafka (runs in a worker process; the state pickles
    back to the API process)."""
    return asyncio.run(rebuild_state(settings, facility_id))


def calendar_out(state: FacilityState, start: datetime, days: int) -> CalendarOut:
    cal = funding_calendar(state, start, days=days)
    return CalendarOut(
        facility_id=cal.facility_id,
        currency=cal.currency,
        start=cal.start,
        end=cal.end,
        outstanding=str(cal.outstanding),
        base=str(cal.base),
        lines=[
            CalendarLineOut(
                day=line.day,
                kind=line.kind,
                shipment_id=line.shipment_id,
                milestone=line.milestone.value,
                amount=None if line.amount is None else str(line.amount.amount),
                overdue=line.overdue,
            )
            for line in cal.lines
        ],
    )


def process_pool(workers: int) -> ProcessPoolExecutor:
    """Worker processes started fresh (``spawn``): forking a process that runs an event loop
    and threads is unsafe."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


class FinanceReads:
    """Ledger and calendar of one facility, read from Kafka off the event loop when asked.

    ``positions``, ``ledger_reader`` and ``rebuild`` are the Kafka edges; tests replace them.
    The latter two must be picklable module-level functions when ``executor`` is a process pool.
    """

    def __init__(
        self,
        settings: KafkaSettings,
        api: ApiSettings | None = None,
        executor: Executor | None = None,
        positions: Callable[[KafkaSettings, Mapping[str, list[str] | None]], Awaitable[Positions]]
        | None = None,
        ledger_reader: Callable[[KafkaSettings, str], LedgerOut] = read_ledger,
        rebuild: Callable[[KafkaSettings, str], FacilityState] = rebuild_facility,
    ) -> None:
        api = api or ApiSettings()
        self.settings = settings
        self.max_shipments = api.calendar_max_shipments
        self._executor = executor
        self._workers = api.read_workers
        self._positions = positions or end_offsets
        self._ledger_reader = ledger_reader
        self._rebuild = rebuild
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

    async def calendar(
        self, facility_id: str, start: datetime, days: int, pledged: Iterable[str] = ()
    ) -> CalendarOut:
        at = await self._positions(self.settings, calendar_inputs(facility_id, pledged))
        state = await self.off_loop.run(
            ("state", facility_id, at), self._rebuild, self.settings, facility_id
        )
        return await asyncio.to_thread(calendar_out, state, start, days)


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
