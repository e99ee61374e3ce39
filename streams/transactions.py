"""Fencing: each state partition's outputs, changelog and input offsets in one Kafka transaction.

A loop that owns state partition ``p`` writes everything ``p``'s inputs caused (events, claims,
commands, the pledge engine's inputs, the changelog records of ``p``'s states) and the input
offset of ``p`` through one transactional producer whose id is ``{group}-{p}``. Kafka then
gives three guarantees the loop relies on:

- **fencing**: the worker that is given ``p`` next starts a producer with the same id, which
  bumps its epoch; the previous owner (a worker that stalled past its session timeout and still
  believes it owns ``p``) is refused on its next send or commit (``ProducerFenced``), and its
  open transaction is aborted. It can no longer write state, events, ledger entries or commands
  for ``p``;
- **atomicity**: a batch's effects, the states they leave and the offsets that caused them
  become visible together or not at all, so a new owner's changelog always matches the
  committed input position (no state missing readings whose offsets were committed);
- **isolation**: every reader uses ``read_committed`` (:func:`transport.kafka.consumer_options`)
  and never sees an aborted write, so a zombie's last records never reach a ledger.

One producer per state partition (Kafka's original exactly-once design) rather than one per
process: the per-process design needs the consumer group's generation in the transactional
offset commit (KIP-447), which aiokafka does not send. Routed inputs (readings keyed by
device, re-keyed by shipment) are not part of a transaction: their re-keyed copies are written
at least once, and the shipment core ignores a reading it has applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition

from streams.store import Send
from streams.tracing import BatchTrace
from tradelane.errors import OwnershipError
from tradelane.settings import KafkaSettings
from transport import kafka as clients

log = logging.getLogger(__name__)

TRANSACTION_TIMEOUT_MS = 15_000
"""How long the coordinator keeps a transaction open before aborting it. A worker that died
mid-transaction holds back ``read_committed`` readers of the partitions it wrote to until its
transaction is aborted: by its successor's producer at once, or by this timeout when no one
takes its partitions over. It must exceed a commit interval plus the slowest batch."""


class NotOwnedError(OwnershipError):
    """A partition's inputs were to be produced while this loop holds no producer for it (it
    was given up meanwhile): the loop restarts from its last commit."""


class Transactions:
    """The transactional producers of one loop's owned state partitions."""

    def __init__(self, kafka: KafkaSettings, group: str) -> None:
        self._kafka, self._group = kafka, group
        self._producers: dict[int, AIOKafkaProducer] = {}
        self._open: set[int] = set()
        self._beginning: dict[int, asyncio.Future[None]] = {}
        self._acks: dict[int, list[asyncio.Future[Any]]] = {}

    @property
    def held(self) -> frozenset[int]:
        return frozenset(self._producers)

    def transactional_id(self, partition: int) -> str:
        return f"{self._group}-{partition}"

    async def claim(self, partitions: Iterable[int]) -> None:
        """Start a producer for each of ``partitions``: this fences their previous owners and
        waits until those owners' open transactions are committed or aborted, so the
        changelogs and offsets read next are final."""
        new = sorted(set(partitions) - set(self._producers))
        if not new:
            return
        started = await asyncio.gather(*(self._start(p) for p in new), return_exceptions=True)
        for partition, result in zip(new, started, strict=True):
            if isinstance(result, AIOKafkaProducer):
                self._producers[partition] = result
        failed = [r for r in started if isinstance(r, BaseException)]
        if failed:
            raise failed[0]
        log.info("%s: transactional producers for partitions %s", self._group, new)

    async def _start(self, partition: int) -> AIOKafkaProducer:
        return await clients.started(
            lambda: clients.producer(
                self._kafka,
                transactional_id=self.transactional_id(partition),
                transaction_timeout_ms=TRANSACTION_TIMEOUT_MS,
            ),
            f"transactional producer {self.transactional_id(partition)}",
        )

    async def release(self, partitions: Iterable[int]) -> None:
        """Stop the producers of ``partitions`` (given up), aborting what they left open."""
        gone = [p for p in partitions if p in self._producers]
        await asyncio.gather(*(self._close(p) for p in gone))

    async def close(self) -> None:
        await self.release(list(self._producers))

    async def _close(self, partition: int) -> None:
        producer = self._producers.pop(partition)
        if partition in self._open:
            self._open.discard(partition)
            with contextlib.suppress(Exception):  # fenced or broker gone: the next owner aborts
                await producer.abort_transaction()
        self._drop_acks(partition)
        with contextlib.suppress(Exception):
            await producer.stop()

    async def send(
        self, partition: int, sends: Iterable[Send], trace: BatchTrace | None = None
    ) -> None:
        """Produce ``sends`` (caused by inputs of ``partition``) in its open transaction,
        each with the trace headers ``trace`` keeps for it."""
        producer = await self._begun(partition)
        acks = self._acks.setdefault(partition, [])
        _raise_failed(acks)
        for send in sends:
            topic, key, value, part = send
            headers = None if trace is None else trace.headers(send)
            acks.append(await producer.send(topic, value, key=key, partition=part, headers=headers))

    async def _begun(self, partition: int) -> AIOKafkaProducer:
        producer = self._producers.get(partition)
        if producer is None:
            raise NotOwnedError(f"{self._group}: partition {partition} has no producer (not owned)")
        if partition not in self._open:
            # shielded: a loop cancelled half way through a begin (a stop) must not begin
            # the same transaction twice in its final commit (the producer refuses that)
            begin = self._beginning.get(partition)
            if begin is None:
                begin = self._beginning[partition] = asyncio.ensure_future(
                    self._begin(partition, producer)
                )
            await asyncio.shield(begin)
        return producer

    async def _begin(self, partition: int, producer: AIOKafkaProducer) -> None:
        try:
            await producer.begin_transaction()
            self._open.add(partition)
        finally:
            self._beginning.pop(partition, None)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit each partition's open transaction with the input offsets of that partition
        (``offsets`` may name partitions whose inputs caused no output). Raises
        ``ProducerFenced`` when another worker has taken a partition over."""
        partitions = self._open | {tp.partition for tp in offsets}
        results = await asyncio.gather(
            *(self._commit_one(p, offsets) for p in sorted(partitions)), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _commit_one(self, partition: int, offsets: dict[TopicPartition, int]) -> None:
        producer = await self._begun(partition)
        mine = {tp: o for tp, o in offsets.items() if tp.partition == partition}
        try:
            if mine:
                await producer.send_offsets_to_transaction(mine, self._group)
            await producer.commit_transaction()
        finally:  # a commit that succeeded means every send did
            self._open.discard(partition)
            self._drop_acks(partition)

    def _drop_acks(self, partition: int) -> None:
        """Forget ``partition``'s delivery futures, retrieving their errors so that a fenced
        producer's failed sends are not reported again as never retrieved."""
        acks = self._acks.pop(partition, [])
        for ack in acks:
            if ack.done() and not ack.cancelled():
                ack.exception()
            else:
                ack.add_done_callback(_retrieve)


def _raise_failed(acks: list[asyncio.Future[Any]]) -> None:
    """Raise the error of the first failed delivery in ``acks`` (a fenced producer's sends
    fail one by one; the loop stops at its next batch instead of at its next commit), and
    forget the leading ones that succeeded."""
    done = 0
    for ack in acks:
        if not ack.done():
            break
        done += 1
        if not ack.cancelled() and ack.exception() is not None:
            raise ack.exception()  # type: ignore[misc]
    del acks[:done]


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
