"""``tradelane demo``'s Kafka side of the picture: live feeds into the view, the wait for the
worker, and the closing summary read back from what the pipeline wrote.

The summary reads ``finance.events``, ``insurance.claims`` and ``shipments.events`` from the
offsets they had when the demo started (so a shared broker's history is not re-read) to their
ends, keeps this run's records, and reads and verifies each demo facility's ledger with
:class:`finance.ledger_store.LedgerStore` (imported lazily: the kernel's CLI imports the
packages built on it only inside functions).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from aiokafka import AIOKafkaConsumer, TopicPartition

from cli.demo_view import LedgerVerdict, Summary
from transport import kafka as clients
from transport.admin import members_with_partitions, topic_partitions

if TYPE_CHECKING:  # the kernel imports finance only lazily, inside functions
    from finance.ledger import VerifyResult
from tradelane.contracts import ClaimEvent, ShipmentEvent
from tradelane.contracts.finance import FinanceEvent, LedgerEntry
from tradelane.errors import ServiceError
from tradelane.settings import KafkaSettings
from tradelane.topics import FINANCE_EVENTS, INSURANCE_CLAIMS, SHIPMENTS_EVENTS

Ours = Callable[[bytes | None], bool]
"""Whether a record's key belongs to this run (its shipments, policies or facility)."""
SUMMARY_TOPICS = (SHIPMENTS_EVENTS.name, FINANCE_EVENTS.name, INSURANCE_CLAIMS.name)


async def await_assignment(consumer: AIOKafkaConsumer, timeout_s: float = 30.0) -> None:
    """Resolve the consumer's start positions before publishing, so nothing is skipped."""
    deadline = time.monotonic() + timeout_s
    while not consumer.assignment():
        if time.monotonic() > deadline:
            raise ServiceError(f"Kafka consumer got no partitions of {consumer.subscription()}")
        await consumer.getmany(timeout_ms=200)
    for tp in consumer.assignment():
        await consumer.position(tp)


async def feed(
    settings: KafkaSettings,
    topics: Sequence[str],
    ours: Ours,
    on_record: Callable[[str, bytes], None],
    stop: asyncio.Event,
    ready: asyncio.Event,
) -> None:
    """Hand each new record of ``topics`` that is ours to ``on_record`` until ``stop``; set
    ``ready`` once the consumer's positions are resolved."""
    consumer = await clients.started(
        lambda: clients.consumer(settings, *topics, auto_offset_reset="latest"),
        f"the demo's feed of {', '.join(topics)}",
    )
    try:
        await await_assignment(consumer)
        ready.set()
        while not stop.is_set():
            for tp, batch in (await consumer.getmany(timeout_ms=250)).items():
                for message in batch:
                    if message.value is not None and ours(message.key):
                        on_record(tp.topic, message.value)
    finally:
        await consumer.stop()


async def end_offsets(settings: KafkaSettings, topics: Iterable[str]) -> dict[TopicPartition, int]:
    """Where each partition of ``topics`` ends now (where this run's records will start)."""
    consumer = await clients.started(
        lambda: clients.consumer(settings, auto_offset_reset="latest"), "the demo's offsets reader"
    )
    try:
        tps = [tp for topic in topics for tp in await topic_partitions(consumer, topic)]
        return dict(await consumer.end_offsets(tps))
    finally:
        await consumer.stop()


async def read_since(
    settings: KafkaSettings, start: dict[TopicPartition, int], ours: Ours, timeout_s: float = 60
) -> dict[str, list[bytes]]:
    """Every record that is ours from ``start`` to the partitions' current ends, per topic."""
    consumer = await clients.started(  # positioned explicitly
        lambda: clients.consumer(settings, auto_offset_reset="latest"), "the demo's summary reader"
    )
    out: dict[str, list[bytes]] = {}
    try:
        consumer.assign(list(start))
        end = await consumer.end_offsets(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        pending = {tp for tp in start if end[tp] > start[tp]}
        deadline = time.monotonic() + timeout_s
        while pending:
            if time.monotonic() > deadline:
                raise ServiceError(f"reading this run's records did not finish in {timeout_s} s")
            for tp, batch in (await consumer.getmany(*pending, timeout_ms=500)).items():
                for r in batch:
                    if r.offset < end[tp] and r.value is not None and ours(r.key):
                        out.setdefault(tp.topic, []).append(r.value)
            pending = {tp for tp in pending if await consumer.position(tp) < end[tp]}
        return out
    finally:
        await consumer.stop()


async def summarise(
    settings: KafkaSettings,
    start: dict[TopicPartition, int],
    ours: Ours,
    facilities: Sequence[str],
) -> Summary:
    """The run's summary from Kafka: its events since ``start``, and each facility's ledger,
    read and verified by :class:`~finance.ledger_store.LedgerStore`."""
    from finance.ledger_store import LedgerStore

    records = await read_since(settings, start, ours)
    store = LedgerStore(settings)
    entries: list[LedgerEntry] = []
    verdicts = []
    for facility in facilities:
        result = await store.verify(facility)
        problems = tuple(str(p) for p in result.problems)
        verdicts.append(
            LedgerVerdict(facility, result.ok, result.entries, problems, _signed(result))
        )
        entries.extend((await store.read(facility)).entries)
    return Summary.build(
        entries,
        [FinanceEvent.model_validate_json(v) for v in records.get(FINANCE_EVENTS.name, [])],
        [ClaimEvent.model_validate_json(v) for v in records.get(INSURANCE_CLAIMS.name, [])],
        [
            ShipmentEvent.model_validate_json(v)
            for v in records.get(SHIPMENTS_EVENTS.name, [])
            if b'"tamper_detected"' in v  # the only shipment events the summary counts
        ],
        verdicts,
    )


SYNCED = re.compile(r"Successfully synced group (\S+) with generation")
"""aiokafka's line (at info) when a consumer joined its group and got its assignment."""


def _log_since(log: Path, offset: int) -> str:
    try:
        with log.open("rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def _last_line(log: Path, offset: int) -> str:
    """Why the worker exited: its own last message (``worker …``), else the last line that is
    not part of a traceback."""
    lines = [line for line in _log_since(log, offset).splitlines() if line[:1] not in ("", " ")]
    own = [line for line in lines if line.startswith("worker")]
    other = [line for line in lines if not line.startswith("Traceback")]
    found = own or other
    return found[-1][:300] if found else ""


def synced_groups(log: Path, offset: int) -> set[str]:
    """The groups the worker's log reports joined and assigned after byte ``offset``."""
    return set(SYNCED.findall(_log_since(log, offset)))


def _signed(result: VerifyResult) -> str:
    """How far the facility's signed checkpoints reach, as ``tradelane ledger verify`` says."""
    signed = result.signatures
    if signed is None:
        return ""
    if signed.signed_seq is None:
        return f"{signed.checkpoints} checkpoints, none signed"
    return (
        f"{signed.checkpoints} checkpoints, signed to seq {signed.signed_seq} by key "
        f"{', '.join(signed.key_ids)}"
    )


async def await_worker(
    settings: KafkaSettings,
    groups: Sequence[str],
    worker: subprocess.Popen[bytes],
    log: tuple[Path, int],
    progress: Callable[[str], None],
    stop: asyncio.Event,
    deadline_s: float = 180.0,
) -> float:
    """Return (the seconds it took) once each of the worker's consumer ``groups`` holds its
    partitions: the coordinator describes it stable with an assigned member, or the worker's
    log (``log``: path, and its size when the worker started) says it synced the group (the
    embedded Tansu broker describes no assignments). Readings published from then on are
    processed as they come. Fails if the worker exits or the deadline passes; returns early
    when ``stop`` is set (Ctrl-C)."""
    started = time.monotonic()
    next_note = started + 5
    waiting = list(groups)
    while waiting and not stop.is_set():
        if worker.poll() is not None:
            last = _last_line(*log)
            raise ServiceError(
                f"the worker exited with status {worker.returncode}"
                + (f": {last}" if last else "")
                + f" (see {log[0]})"
            )
        synced = synced_groups(*log)
        waiting = [
            g for g in waiting if g not in synced and await members_with_partitions(settings, g) < 1
        ]
        now = time.monotonic()
        if waiting and now > started + deadline_s:
            raise ServiceError(
                f"the worker's groups {', '.join(waiting)} got no partitions in "
                f"{deadline_s:.0f} s; see {log[0]}"
            )
        if waiting and now >= next_note:
            next_note = now + 5
            progress(
                f"  waiting for the worker: {len(waiting)} of {len(groups)} consumer groups "
                f"not assigned yet ({now - started:.0f} s)"
            )
        if waiting:
            with contextlib.suppress(TimeoutError):  # polling the coordinator under a deadline
                await asyncio.wait_for(stop.wait(), 0.25)
    return time.monotonic() - started
