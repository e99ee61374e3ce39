"""One worker group per cluster, held as a lease on ``workers.lease``.

Why a lease: two worker groups on one cluster each run the shipment core and both engines for
every shipment and facility they are given, and both write to the shared output topics, so
ledgers fork. Kafka transactions fence a partition's previous owner *within* a group (same
transactional ids); a group with another app id has other ids and is not fenced. A check of
the consumer groups at start (:mod:`streams.guard`) misses a group whose workers are all
restarting at that moment (a fault run showed it: a second group started 2 s after a kill
and wrote events).

How: every worker appends a ``held`` record every ``term / 6`` seconds and a ``released``
record when it stops cleanly. :func:`fold` (pure) reads the records in log order with their
broker timestamps: the lease is free when no member's last renewal is younger than its
term; a group's record while another group holds it is void. Every reader of the same records
reaches the same holder, so of two groups that start at the same moment exactly one wins:
the one whose record the broker appended first.

- a worker starts only once the lease is free or already its group's (:func:`acquire`,
  waiting up to ``--other-group-wait``), else exits with status 3; a lease another group let
  run out without releasing it is taken only a whole term after it ran out, so a holder cut
  off by a broker restart, which renews as soon as Kafka is back, keeps it;
- while it runs it renews and re-reads (:class:`Keeper`); should another group ever hold the
  lease (its own renewals stopped longer than a term, and another group took over), the
  worker stops at once with status 3 rather than write beside it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from pydantic import ValidationError

from tradelane.contracts import WorkerLease
from tradelane.errors import OwnershipError
from tradelane.settings import KafkaSettings
from tradelane.topics import WORKERS_LEASE
from transport import kafka as clients
from transport.admin import ensure_topics

log = logging.getLogger(__name__)

TERM_S = 30.0
"""How long a renewal holds the lease. A group whose every worker died keeps it this long; a
broker restart shorter than this does not lose it."""
LOOKBACK_S = 600.0
"""How far back a reader folds the log (far more than a term: the holder then is certain)."""


class LeaseHeldError(OwnershipError):
    """Another worker group holds the lease."""


@dataclass(frozen=True)
class Holding:
    """Who holds the lease after some records: a group and its members' expiry times (ms), and
    whether its last member let go cleanly."""

    app_id: str | None = None
    members: dict[str, int] = field(default_factory=dict)
    released: bool = False

    def holder(self, now_ms: int) -> str | None:
        """The group holding the lease at ``now_ms``, or None when it is free."""
        return self.app_id if any(expiry > now_ms for expiry in self.members.values()) else None

    def lapsed(self, now_ms: int) -> str | None:
        """The group whose lease ran out at ``now_ms`` without being released: it may be dead,
        or only cut off from Kafka for a while (a broker restart)."""
        if self.app_id is None or self.released or self.holder(now_ms) is not None:
            return None
        return self.app_id


def fold(records: Iterable[tuple[int, WorkerLease]], start: Holding | None = None) -> Holding:
    """The holding after ``records`` ((broker timestamp ms, lease record), in log order)."""
    holding = start or Holding()
    for ts, record in records:
        live = {m: e for m, e in holding.members.items() if e > ts}
        app = holding.app_id if live else None
        if app is not None and record.app_id != app:
            continue  # another group holds it: void
        if record.state == "released":
            live.pop(record.member, None)
        else:
            live[record.member] = ts + int(record.term_s * 1000)
        if live:
            holding = Holding(record.app_id, live)
        elif record.state == "released":
            holding = Holding(record.app_id, {}, released=True)
        else:
            holding = Holding(holding.app_id, {}, holding.released)
    return holding


def member_id() -> str:
    """This process: host, pid and a random tag (a restarted pid is another member)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Keeper:
    """A worker's side of the lease: renews it and follows the log."""

    def __init__(
        self, kafka: KafkaSettings, app_id: str, member: str, term_s: float = TERM_S
    ) -> None:
        self.kafka, self.app_id, self.member, self.term_s = kafka, app_id, member, term_s
        self.holding = Holding()
        self._tp = TopicPartition(WORKERS_LEASE.name, 0)
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self._producer = await clients.started(
            lambda: clients.producer(self.kafka, linger_ms=0), "the lease writer"
        )
        self._consumer = await clients.started_reader(self.kafka, "lease", "the lease reader")
        self._consumer.assign([self._tp])
        since = int((time.time() - LOOKBACK_S) * 1000)
        found = await self._consumer.offsets_for_times({self._tp: since})
        at = found.get(self._tp)
        if at is None:
            await clients.fast_forward(self._consumer, self._tp)
        else:
            self._consumer.seek(self._tp, at.offset)

    async def stop(self, release: bool) -> None:
        try:
            if release and self._producer is not None:
                await asyncio.wait_for(self._write("released"), timeout=5)
        except Exception as exc:  # the lease then lapses after its term
            log.warning("could not release the worker lease: %r", exc)
        for client in (self._producer, self._consumer):
            if client is not None:
                await client.stop()

    async def acquire(self, wait_s: float) -> None:
        """Hold the lease for this worker's group, waiting up to ``wait_s`` for another group
        to release it or let it lapse; :class:`LeaseHeldError` after that."""
        deadline = time.monotonic() + wait_s
        while True:
            await self.catch_up()
            other = self._other() or self._recently_lapsed()
            if other is None:
                await self.renew()
                if self._other() is None:
                    return
                continue  # another group's record came first: look again
            if time.monotonic() >= deadline:
                raise LeaseHeldError(
                    f"worker group {other} holds this Kafka cluster's worker lease (a group "
                    "keeps it for its lease term after its last renewal). Two groups would both "
                    "write every shipment's events and every facility's ledger. Stop it, or "
                    "start this worker with its --app-id to share its work."
                )
            print(f"worker: waiting for worker group {other} to stop ...", flush=True)
            await asyncio.sleep(min(2.0, self.term_s / 6))  # polling the lease until the deadline

    async def renew(self) -> str | None:
        """Append a renewal and read up to it. Returns the other group holding the lease
        (this worker's record was void), or None while its group holds it."""
        await self._write("held")
        await self.catch_up()
        return self._other()

    def _recently_lapsed(self) -> str | None:
        """Another group whose lease ran out unreleased less than a term ago: taken over only
        a whole term after it ran out, because a holder cut off by a broker restart renews as
        soon as Kafka is back and must find its lease still its own."""
        now_ms = int(time.time() * 1000)
        lapsed = self.holding.lapsed(now_ms)
        if lapsed in (None, self.app_id):
            return None
        ran_out = max(self.holding.members.values())
        return lapsed if now_ms - ran_out < self.term_s * 1000 else None

    def _other(self) -> str | None:
        holder = self.holding.holder(int(time.time() * 1000))
        return holder if holder not in (None, self.app_id) else None

    async def _write(self, state: str) -> None:
        assert self._producer is not None
        record = WorkerLease(
            app_id=self.app_id, member=self.member, state=state, term_s=self.term_s
        )
        await self._producer.send_and_wait(
            WORKERS_LEASE.name, record.model_dump_json().encode(), key=self.app_id.encode()
        )

    async def catch_up(self) -> None:
        """Fold every record up to the log's current end."""
        assert self._consumer is not None
        end = (await self._consumer.end_offsets([self._tp]))[self._tp]
        while await self._consumer.position(self._tp) < end:
            batch = await self._consumer.getmany(self._tp, timeout_ms=1000)
            self.holding = fold(_parsed(batch.get(self._tp, [])), self.holding)

    async def keep(self) -> str:
        """Renew every ``term / 6`` until cancelled; return the other group's id if another
        group holds the lease (then this worker must stop writing)."""
        while True:
            await asyncio.sleep(self.term_s / 6)  # the renewal period
            try:
                other = await self.renew()
            except Exception as exc:  # Kafka away: the lease holds for a term meanwhile
                log.warning("worker lease renewal failed: %r", exc)
                continue
            if other is not None:
                log.critical("worker group %s holds the worker lease now", other)
                return other


def _parsed(messages: Iterable[ConsumerRecord[bytes, bytes]]) -> list[tuple[int, WorkerLease]]:
    out: list[tuple[int, WorkerLease]] = []
    for m in messages:
        try:
            out.append((m.timestamp, WorkerLease.model_validate_json(m.value or b"")))
        except ValidationError:
            log.warning("unreadable worker lease record skipped")
    return out


async def acquire(
    kafka: KafkaSettings, app_id: str, member: str, term_s: float, wait_s: float
) -> None:
    """Take the lease for ``app_id`` before a worker starts (see :meth:`Keeper.acquire`)."""
    await ensure_topics(kafka, (WORKERS_LEASE,))
    keeper = Keeper(kafka, app_id, member, term_s)
    await keeper.start()
    try:
        await keeper.acquire(wait_s)
    finally:
        await keeper.stop(release=False)  # the worker's own keeper renews under the same member


async def hold(kafka: KafkaSettings, app_id: str, member: str, term_s: float) -> None:
    """A running worker's lease task: renew until cancelled (a clean stop releases); if another
    group holds the lease, end the process at once with status 3 (no commit, no flush: its
    open transactions are aborted, and nothing of it is read)."""
    keeper = Keeper(kafka, app_id, member, term_s)
    await keeper.start()
    try:
        other = await keeper.keep()
    except asyncio.CancelledError:
        await keeper.stop(release=True)
        raise
    print(f"worker {app_id}: stopped: worker group {other} holds the lease", flush=True)
    os._exit(3)
