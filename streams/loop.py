"""A worker loop: one consumer group, its input in batches, its state in memory.

A loop reads its input topics with ``getmany`` and handles whatever one fetch returned as a
batch, through a :class:`Stage` (pure: no I/O):

- records of routed topics become records of the stage's keyed topics (a repartition: readings
  are keyed by device, shipment state by shipment);
- records of keyed topics (whose partitions are the stage's state partitions) are applied to
  states held in memory (:mod:`streams.store`), one partition's records at a time, and what
  they caused is produced at once, with the changelog records of the states they changed;
- every ``commit_interval_ms`` (100 ms) and at every rebalance, each state partition's
  transaction is committed with that partition's input offset (:mod:`streams.transactions`:
  fencing and atomic hand-overs); routed inputs' offsets are committed after the producer
  has flushed their re-keyed copies.

With ``TRADELANE_KAFKA_TRANSACTIONS=false`` (or a broker without idempotent producers) the
same loop runs at least once and unfenced: effects first, each batch's changelog records once
Kafka has acknowledged its effects (:meth:`PartitionLoop._produce`), offsets after a flush.

The worker runs two: the shipment loop (:class:`streams.hotpath.HotPath`, group = the app id)
and the pledge loop (:class:`streams.pledge_stage.PledgeStage`, group ``{app}-pledge``).

Why not faust agents: faust handles every record through its stream machinery (an event
object, a queue, sensors, acks) and writes a table's changelog record per assignment; that cost
more than the shipment core itself and held a worker near 1,000 readings/s. The loops run
inside the faust worker (``app.task``), which keeps the process, its signals and its settings
(session timeout and heartbeat are faust's ``broker_session_timeout`` and
``broker_heartbeat_interval``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from streams.loop_timing import LoopTiming
from streams.metrics import LoopMetrics, WorkerMetrics
from streams.ownership import Ownership
from streams.stage import Message, Record, RecordFailedError, Stage
from streams.store import Send
from streams.tracing import BatchTrace, batch_trace
from streams.transactions import NotOwnedError, Transactions
from tradelane import deadletters
from tradelane.contracts import DeadLetterReason
from tradelane.retry import retrying
from tradelane.settings import KafkaSettings
from tradelane.topics import TRACKER_DEADLETTER
from transport import kafka as clients
from transport.tracing import Headers

log = logging.getLogger(__name__)

FETCH_MAX_RECORDS = 1_000
"""Most records one batch handles. A batch runs without yielding to the event loop, and
aiokafka's heartbeats run on it: a batch that takes longer than the session timeout on a
loaded machine gets the worker thrown out of its group while it keeps writing."""

SLICE_S = 0.02
"""Work between two yields to the event loop while a batch is applied (see
:meth:`PartitionLoop._apply_in_slices`)."""
FETCH_MAX_WAIT_MS = 20
"""How long the broker may hold a fetch that finds no new data (the client's default is
500 ms). A consumer has one fetch in flight per broker, and it leaves out the partitions whose
records are still being handled: new data on those waits until that fetch returns. With the
default, a fetch of the idle partitions (statuses, commands) held every busy partition back for
up to half a second per hop."""


POISON_KEPT = 10_000
"""Most records a loop remembers as failing to apply (see :class:`RecordFailedError`)."""


class _Replay(Exception):  # noqa: N818 - a restart, not an error
    """Restart from the last commit at once (a record was quarantined)."""


RESTARTABLE: tuple[type[BaseException], ...] = (
    KafkaError,
    NotOwnedError,
    OSError,
    TimeoutError,
    _Replay,
)
"""What makes a loop restart from its last commit: Kafka refusing a send or a commit (fenced,
a rebalance, a broker gone for longer than the clients retry) and a quarantined record. Any
other exception is a bug of the loop itself: it is raised, and the worker exits
(:func:`streams.app.fatal`) for its supervisor to restart it, rather than run on half alive."""


@dataclass(frozen=True)
class LoopConfig:
    group: str
    topics: tuple[str, ...]
    session_timeout_ms: int = 60_000
    heartbeat_interval_ms: int = 3_000


class PartitionLoop:
    """One consumer group's loop around a :class:`Stage`."""

    def __init__(
        self,
        kafka: KafkaSettings,
        config: LoopConfig,
        stage: Stage,
        ready: asyncio.Event,
        metrics: LoopMetrics | None = None,
    ) -> None:
        """``metrics``: this loop's series (:mod:`streams.metrics`); unset, counted in a
        registry of its own that nothing serves."""
        self.kafka, self.config, self.stage, self.ready = kafka, config, stage, ready
        self.metrics = metrics or WorkerMetrics().loop(config.group, stage.stores)
        self.owner = Ownership(kafka, stage)
        self.batches = 0
        self.restarts = 0
        self._touched: set[TopicPartition] = set()
        """Partitions with records handled since the last commit."""
        self._committed: dict[TopicPartition, int] = {}
        """What this loop last committed per partition since its assignment."""
        self._lock = asyncio.Lock()
        self._last_commit = time.monotonic()
        self._interval = kafka.commit_interval_ms / 1000
        self._txns: Transactions | None = None
        """The state partitions' transactional producers (None: at least once, unfenced)."""
        self._producer: AIOKafkaProducer | None = None
        self._tail: asyncio.Future[None] | None = None
        """The last batch's changelog writer (see :meth:`_produce`)."""
        self._suspended = False
        """Set when a commit was refused: nothing is applied until the next assignment."""
        self._in_batch = False
        """Set while a batch is being handled (a stop then must not commit)."""
        self._failure: Exception | None = None
        """An error of the rebalance listener, raised by the loop (which restarts)."""
        self._consumer: AIOKafkaConsumer | None = None
        self.timing = LoopTiming(config.group)
        self._slice = 64
        """Records per slice of a batch, adapted so that a slice takes about ``SLICE_S``."""
        self.poison: dict[tuple[str, int, int], str] = {}
        """Records that failed to apply, (topic, partition, offset) → why: dead-lettered
        instead of applied when they come again (kept across the loop's restarts)."""

    async def run(self) -> None:
        """Consume until cancelled (the worker stopping). A failure (Kafka refusing a send, a
        broker gone for longer than the clients retry) restarts the loop from the last
        commit with its states reloaded from the changelogs: at least once, never ahead."""
        # aiokafka's producer builds a debug record per send when its logger is left at the
        # root's level: 4 % of a worker's time. It follows faust's level, never below info.
        quiet = max(logging.getLogger("faust").getEffectiveLevel(), logging.INFO)
        logging.getLogger("aiokafka").setLevel(quiet)
        await retrying(
            self._run_replaying,
            what=f"loop {self.config.group}",
            deadline_s=None,  # a worker's loop never gives up: it waits out any outage
            retriable=lambda exc: isinstance(exc, RESTARTABLE),
            base_s=1.0,
            max_s=30.0,
            healthy_s=60.0,  # a loop that ran a minute before failing is not crash-looping
            on_retry=self._restarting,
        )

    async def _run_replaying(self) -> None:
        """:meth:`_run_once`, again and again; after a quarantined record (:class:`_Replay`)
        at once, after any other restartable failure only once the states were dropped (the
        caller's back-off then runs)."""
        while True:
            try:
                await self._run_once()
            except RESTARTABLE as exc:
                self.restarts += 1
                self.stage.drop(set(self.stage.stores[0][0].partitions))
                self.owner = Ownership(self.kafka, self.stage)
                if not isinstance(exc, _Replay):
                    raise
                log.warning("loop %s: %s; replaying from its last commit", self.config.group, exc)

    def _restarting(self, exc: BaseException, pause_s: float) -> None:
        log.error(
            "loop %s failed (%r); restarting from its last commit in %.0f s",
            self.config.group,
            exc,
            pause_s,
        )

    async def _run_once(self) -> None:
        self._touched.clear()
        self._committed.clear()
        self._tail = None
        self._failure = None
        self._in_batch = False
        self._producer = clients.producer(self.kafka)
        if self.kafka.exactly_once:
            self._txns = Transactions(self.kafka, self.config.group)
        self._consumer = clients.consumer(
            self.kafka,
            group_id=self.config.group,
            session_timeout_ms=self.config.session_timeout_ms,
            heartbeat_interval_ms=self.config.heartbeat_interval_ms,
            max_poll_interval_ms=300_000,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            # keyed topics are co-partitioned: partition p of each goes to the same member
            partition_assignment_strategy=(RangePartitionAssignor,),
        )
        try:
            await self._producer.start()
            await self._consumer.start()
            self._consumer.subscribe(list(self.config.topics), listener=_Listener(self))
            # the group is joined (and the partitions' producers claimed) in the background
            # while the registries are read to their end; nothing is applied before that
            await self.ready.wait()
            while True:
                t0 = time.perf_counter()
                batches = await self._consumer.getmany(
                    timeout_ms=100, max_records=FETCH_MAX_RECORDS
                )
                t1 = time.perf_counter()
                if self._failure is not None:
                    raise self._failure
                async with self._lock:
                    await self._handle(batches)
                t2 = time.perf_counter()
                if time.monotonic() - self._last_commit >= self._interval:
                    await self._commit()
                if self.metrics.due():
                    await self._sample()
                self.timing.add(t0, t1, t2, time.perf_counter(), batches)
        except asyncio.CancelledError:
            # a clean stop commits what was handled; one in the middle of a batch commits
            # nothing (the batch's offsets would pass records it never applied)
            await self._stop(commit=not self._in_batch)
            raise
        except BaseException:
            await self._stop(commit=False)  # a failed batch's effects may be lost: re-read it
            raise

    async def _stop(self, commit: bool) -> None:
        if not commit:
            self._touched.clear()
            if self._tail is not None:
                self._tail.cancel()
                self._tail = None
        else:
            try:
                async with self._lock:
                    await self._commit()
            except Exception as exc:  # stopping anyway: the next owner re-reads from the commit
                log.warning("final commit failed: %r", exc)
        if self._txns is not None:
            await self._txns.close()  # a failed batch's open transactions are aborted
        if self._consumer is not None:
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()

    async def _handle(
        self, batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> None:
        self._in_batch = True
        sends: list[Send] = []
        records: list[Record] = []
        trace = batch_trace()  # None unless tracing is on: then no per-record work for it
        self.metrics.batch(sum(len(messages) for messages in batches.values()))
        for tp, messages in batches.items():
            if not messages:
                continue
            if tp.topic in self.stage.keyed:
                await self._owned_loaded()
                if self._suspended or tp.partition not in self.owner:
                    self._rewind(tp, messages[0].offset)  # mid-rebalance: read them again
                    continue
                records += [
                    (tp.topic, tp.partition, m.key or b"", m.value or b"", m.offset)
                    for m in messages
                ]
                if trace is not None:
                    trace.read(tp.topic, tp.partition, messages)
            elif trace is None:
                sends += self.stage.route(tp.topic, messages)
            else:
                sends += self._route_traced(tp.topic, messages, trace)
            self._touched.add(tp)
        await self._apply_in_slices(records, sends, trace)
        self.batches += 1
        self._in_batch = False

    async def _owned_loaded(self) -> None:
        """Recover the owned partitions not loaded yet (timed when there were some)."""
        started = time.perf_counter()
        if await self.owner.ready():
            self.metrics.recovered(time.perf_counter() - started)

    async def _sample(self) -> None:
        """Lag per assigned partition (from the end offsets the fetches reported: read
        committed, the last stable offset) and the stores' sizes, into the metrics."""
        consumer = self._consumer
        if consumer is None:
            return
        lag: dict[tuple[str, int], int] = {}
        for tp in consumer.assignment():
            end = consumer.last_stable_offset(tp)
            if end is None or end < 0:
                end = consumer.highwater(tp)
            if end is None:
                continue  # nothing fetched from it yet
            with contextlib.suppress(IllegalStateError):  # revoked meanwhile
                lag[(tp.topic, tp.partition)] = max(0, end - await consumer.position(tp))
        self.metrics.sample(lag)

    def _route_traced(self, topic: str, messages: list[Message], trace: BatchTrace) -> list[Send]:
        """:meth:`Stage.route`, one message at a time, so that each routed copy carries its
        own record's trace headers across the repartition."""
        sends: list[Send] = []
        for m in messages:
            routed = self.stage.route(topic, [m])
            trace.routed(routed, m)
            sends += routed
        return sends

    async def _apply_in_slices(
        self, records: list[Record], sends: list[Send], trace: BatchTrace | None = None
    ) -> None:
        """Apply ``records`` in slices of about ``SLICE_S`` of work, producing each slice's
        effects before the next and yielding between them. One loop's burst (a hundred
        departures of one facility, each valuing its whole collateral) no longer holds the
        other loop, the heartbeats and the producer for a second, and the first records of a
        large batch leave before the last are applied."""
        await self._produce(None, sends, trace)
        done = 0
        while done < len(records):
            part = records[done : done + self._slice]
            started = time.perf_counter()
            for partition, group in _by_partition(part):
                await self._produce(partition, self._apply(group, trace), trace)
            done += len(part)
            if part:
                took = max(time.perf_counter() - started, 1e-4)
                self._slice = max(1, min(FETCH_MAX_RECORDS, int(len(part) * SLICE_S / took)))
            if done < len(records):
                await asyncio.sleep(0)  # let the other loop, heartbeats and the producer run

    def _apply(self, group: list[Record], trace: BatchTrace | None = None) -> list[Send]:
        """The stage applied to one partition's run of records, the quarantined ones
        dead-lettered instead (their letters go into the partition's transaction with the
        offset that passes them). A record that fails now is quarantined and the loop
        replays from its last commit (:class:`RecordFailedError`)."""
        letters: list[Send] = []
        if self.poison:
            kept: list[Record] = []
            for record in group:
                why = self.poison.get((record[0], record[1], record[4]))
                if why is None:
                    kept.append(record)
                else:
                    letters.append(self._letter(record, why))
            group = kept
        try:
            if trace is None:
                return letters + self.stage.apply(group)
            return letters + self.stage.apply(group, trace)
        except RecordFailedError as failed:
            topic, partition, _key, _value, offset = group[failed.index]
            if len(self.poison) >= POISON_KEPT:
                self.poison.clear()  # met again, they fail again and are quarantined again
            self.poison[(topic, partition, offset)] = deadletters.describe(failed.cause)
            log.error(
                "loop %s: %s/%d@%d failed to apply (%r); it will be dead-lettered",
                self.config.group,
                topic,
                partition,
                offset,
                failed.cause,
                exc_info=failed.cause,
            )
            raise _Replay(f"{topic}/{partition}@{offset} quarantined") from failed

    def _letter(self, record: Record, why: str) -> Send:
        topic, partition, key, value, offset = record
        letter = deadletters.for_record(
            f"worker:{self.config.group}",
            topic,
            partition,
            offset,
            key,
            value,
            datetime.now(UTC),
            DeadLetterReason.APPLY_FAILED,
            why,
        )
        return (TRACKER_DEADLETTER.name, topic.encode(), letter.model_dump_json().encode(), None)

    def _rewind(self, tp: TopicPartition, offset: int) -> None:
        """Records of a partition fetched while a rebalance was under way are not applied: the
        consumer goes back to them, so they are fetched again once the partition's owner is
        known (this worker, or another one that will read them from the committed offset)."""
        assert self._consumer is not None
        # no longer assigned here (IllegalStateError): the new owner starts at the commit
        with contextlib.suppress(IllegalStateError):
            self._consumer.seek(tp, offset)

    async def _produce(
        self, partition: int | None, sends: list[Send], trace: BatchTrace | None = None
    ) -> None:
        """Produce what the inputs of state ``partition`` (None: routed inputs) caused.

        With transactions, everything goes into the partition's open transaction at once.
        Without, a batch's effects are produced now, and its states' changelog records only
        once Kafka has acknowledged every effect: a worker killed in between leaves a
        changelog that has not seen the batch, so its next owner applies the batch again and
        sends the same effects again (same ids), instead of continuing from a state whose
        effects were lost.

        The wait for acknowledgements runs beside the next batches, chained so that the
        changelog records of successive batches are sent in batch order; every commit (and
        every rebalance) waits for the chain first."""
        self.metrics.sends(sends)
        if self._txns is not None and partition is not None:
            await self._txns.send(partition, sends, trace)
            return
        if not sends:
            return
        assert self._producer is not None
        changelogs = {topic for _, topic in self.stage.stores}
        acks = [
            await self._producer.send(
                s[0], s[2], key=s[1], partition=s[3], headers=_headers(trace, s)
            )
            for s in sends
            if s[0] not in changelogs
        ]
        states = [s for s in sends if s[0] in changelogs]
        self._tail = asyncio.ensure_future(self._after(acks, states, self._tail))

    async def _after(
        self,
        acks: list[asyncio.Future[Any]],
        states: list[Send],
        previous: asyncio.Future[None] | None,
    ) -> None:
        if previous is not None:
            await previous
        if acks:
            await asyncio.gather(*acks)
        assert self._producer is not None
        for topic, key, value, partition in states:
            await self._producer.send(topic, value, key=key, partition=partition)

    async def _settle(self) -> None:
        """Wait until every batch's changelog records have been handed to the producer."""
        tail, self._tail = self._tail, None
        if tail is not None:
            await tail

    async def _commit(self) -> None:
        """Flush what was produced, then commit what produced it. A commit the group refuses
        (it is rebalancing) is given up: those records are read again by their next owner."""
        self._last_commit = time.monotonic()
        if self._consumer is None or self._producer is None:
            return
        await self._settle()
        assigned = self._consumer.assignment()
        offsets = await self._handled(assigned)
        self._touched.clear()
        if not offsets:
            return
        if self._txns is not None:
            keyed = {tp: o for tp, o in offsets.items() if tp.topic in self.stage.keyed}
            await self._txns.commit(keyed)  # ProducerFenced: another worker owns one now
            self._committed.update(keyed)
            offsets = {tp: o for tp, o in offsets.items() if tp not in keyed}
        await self._producer.flush()
        if offsets:
            try:
                await self._consumer.commit(offsets)
                self._committed.update(offsets)
            except CommitFailedError as exc:
                # The group has moved on: this worker may no longer own what it holds. It
                # applies nothing more until the rebalance tells it what it owns.
                self._suspended = True
                log.warning("commit refused (the group rebalanced); suspended: %s", exc)

    async def _handled(self, assigned: set[TopicPartition]) -> dict[TopicPartition, int]:
        """The offsets to commit: past every record handled since the last commit, and past
        the transaction markers that follow them. A reader skips a transaction's commit
        marker without returning a record for it, so committing the last record's offset + 1
        would leave the group one record short of the end of every partition a transaction
        wrote to, for good. The consumer's position counts them, and at a commit it is
        exactly the next unhandled offset (every record a fetch returned has been applied,
        routed or rewound by then)."""
        assert self._consumer is not None
        offsets: dict[TopicPartition, int] = {}
        for tp in (self._touched | set(self._committed)) & assigned:
            position = await self._consumer.position(tp)
            if position > self._committed.get(tp, -1):
                offsets[tp] = position
        return offsets

    async def revoked(self, tps: set[TopicPartition]) -> None:
        async with self._lock:
            try:
                await self._commit()
            except Exception as exc:  # the group moved on: the next owner re-reads
                log.warning("commit before rebalance failed: %r", exc)
            self._touched.clear()
            self._committed.clear()
            await self.owner.revoked(self._state_partitions(tps))

    async def assigned(self, tps: set[TopicPartition]) -> None:
        self.metrics.rebalanced()
        partitions = self._state_partitions(tps)
        async with self._lock:  # no batch is applied until its partitions have producers
            await self.owner.assigned(partitions)
            if self._txns is not None:
                # A producer is kept only for a partition whose states were kept (it came
                # back and no one wrote meanwhile); any other partition gets a new one,
                # which fences its previous owner before its changelog and offsets are read.
                kept = partitions & self.stage.stores[0][0].partitions
                try:
                    await self._txns.release(self._txns.held - kept)
                    await self._txns.claim(partitions)
                except Exception as exc:  # the consumer swallows a listener's errors
                    self._failure = exc
            self._suspended = False

    def _state_partitions(self, tps: set[TopicPartition]) -> set[int]:
        return {tp.partition for tp in tps if tp.topic in self.stage.keyed}


def _headers(trace: BatchTrace | None, send: Send) -> Headers | None:
    return None if trace is None else trace.headers(send)


def _by_partition(records: list[Record]) -> list[tuple[int, list[Record]]]:
    """``records`` cut into runs of one state partition, in order (a batch holds each
    partition's records together)."""
    runs: list[tuple[int, list[Record]]] = []
    for record in records:
        if runs and runs[-1][0] == record[1]:
            runs[-1][1].append(record)
        else:
            runs.append((record[1], [record]))
    return runs


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: PartitionLoop) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._loop.revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._loop.assigned(assigned)
