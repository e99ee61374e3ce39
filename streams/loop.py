"""The hot loop: the worker's consumer of readings and shipment inputs, in batches.

One consumer (group = the worker's app id) reads ``tracker.readings``, ``tracker.status``,
``insurance.commands`` and the internal ``{app}-by-shipment`` topic with ``getmany`` and
handles whatever a fetch returned as one batch:

- records of the input topics are routed to ``{app}-by-shipment`` keyed by shipment id (the
  one repartition hop: readings are keyed by device, state by shipment);
- records of ``{app}-by-shipment`` go to :class:`streams.hotpath.HotPath` (shipment core and
  insurance engine on states held in memory), whose outputs are produced at once;
- offsets are committed every ``COMMIT_INTERVAL_S`` and at every rebalance, always after the
  producer has flushed: a committed input's effects (events, claims, pledge inputs, the
  changelog record of its state) are in Kafka before its offset is.

Why not a faust agent per hop: faust handles every record through its stream machinery (an
event object, a queue, sensors, acks), which cost more than the shipment core itself and held
a worker near 1,000 readings/s. The loop runs inside the faust worker (an ``app.task``), beside
the pledge agent, and uses the same session timeout settings.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from pydantic import ValidationError

from streams.hotpath import DECISION, READING, STATUS, HotPath, Send
from streams.ownership import Ownership
from streams.registries import Registries
from tradelane import kafka as clients
from tradelane.contracts import IngestedReading
from tradelane.settings import KafkaSettings
from tradelane.topics import INSURANCE_COMMANDS, TRACKER_READINGS, TRACKER_STATUS

log = logging.getLogger(__name__)

COMMIT_INTERVAL_S = 0.5
"""How often processed offsets are committed (a crash re-reads at most this much input)."""
FETCH_MAX_RECORDS = 5_000
"""Most records one batch handles."""


@dataclass
class LoopStats:
    readings: int = 0
    unrouted: int = 0
    invalid: int = 0
    batches: int = 0


@dataclass(frozen=True)
class LoopConfig:
    group: str
    by_shipment: str
    decisions: bool
    """Route insurers' decisions (``insurance.commands``): when the engines run."""
    session_timeout_ms: int = 60_000
    heartbeat_interval_ms: int = 3_000

    @property
    def topics(self) -> list[str]:
        inputs = [TRACKER_READINGS.name, TRACKER_STATUS.name, self.by_shipment]
        return inputs + ([INSURANCE_COMMANDS.name] if self.decisions else [])


class HotLoop:
    def __init__(
        self,
        kafka: KafkaSettings,
        config: LoopConfig,
        hot: HotPath,
        registries: Registries,
        ready: asyncio.Event,
    ) -> None:
        self.kafka, self.config, self.hot, self.registries = kafka, config, hot, registries
        self.ready = ready
        self.owner = Ownership(kafka, hot)
        self.stats = LoopStats()
        self._positions: dict[TopicPartition, int] = {}
        self._lock = asyncio.Lock()
        self._last_commit = time.monotonic()
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def run(self) -> None:
        """Consume until cancelled (the worker stopping)."""
        # aiokafka's producer builds a debug record per send when its logger is left at the
        # root's level: 4 % of a worker's time. It follows faust's level, never below info.
        quiet = max(logging.getLogger("faust").getEffectiveLevel(), logging.INFO)
        logging.getLogger("aiokafka").setLevel(quiet)
        await self.ready.wait()
        self._producer = clients.producer(self.kafka)
        self._consumer = clients.consumer(
            self.kafka,
            group_id=self.config.group,
            session_timeout_ms=self.config.session_timeout_ms,
            heartbeat_interval_ms=self.config.heartbeat_interval_ms,
            max_poll_interval_ms=300_000,
        )
        await self._producer.start()
        await self._consumer.start()
        try:
            self._consumer.subscribe(self.config.topics, listener=_Listener(self))
            while True:
                batches = await self._consumer.getmany(
                    timeout_ms=100, max_records=FETCH_MAX_RECORDS
                )
                async with self._lock:
                    await self._handle(batches)
                    if time.monotonic() - self._last_commit >= COMMIT_INTERVAL_S:
                        await self._commit()
        finally:
            await self._stop()

    async def _stop(self) -> None:
        try:
            async with self._lock:
                await self._commit()
        except Exception as exc:  # stopping anyway: the next owner re-reads from the last commit
            log.warning("final commit failed: %r", exc)
        if self._consumer is not None:
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()

    async def _handle(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        sends: list[Send] = []
        records: list[tuple[int, bytes, bytes]] = []
        for tp, messages in batches.items():
            if not messages:
                continue
            if tp.topic == self.config.by_shipment:
                await self.owner.ready()
                if tp.partition not in self.owner:
                    continue  # revoked meanwhile: its next owner reads it
                records += [(tp.partition, m.key, m.value) for m in messages]
            else:
                sends += self._route(tp.topic, messages)
            self._positions[tp] = messages[-1].offset + 1
        sends += self.hot.apply_batch(records)
        assert self._producer is not None
        for topic, key, value, partition in sends:
            await self._producer.send(topic, value, key=key, partition=partition)
        self.stats.batches += 1

    def _route(self, topic: str, messages: Sequence[ConsumerRecord]) -> list[Send]:
        target = self.config.by_shipment
        if topic == INSURANCE_COMMANDS.name:
            return [(target, m.key, DECISION + m.value, None) for m in messages if m.key]
        if topic == TRACKER_STATUS.name:
            devices = self.registries.devices
            shipments = [(devices.get(m.key.decode()) if m.key else None, m) for m in messages]
            return [(target, s.encode(), STATUS + m.value, None) for s, m in shipments if s]
        sends: list[Send] = []
        for m in messages:
            shipment = self._shipment_of(m.key, m.value)
            if shipment is not None:
                sends.append((target, shipment, READING + m.value, None))
        return sends

    def _shipment_of(self, key: bytes | None, value: bytes) -> bytes | None:
        """The shipment a reading belongs to: by its key (the device id), and by the reading
        itself only when the key names no booked device; None when no booking names it."""
        self.stats.readings += 1
        devices = self.registries.devices
        shipment = devices.get(key.decode()) if key else None
        if shipment is None:
            try:
                shipment = devices.get(IngestedReading.model_validate_json(value).reading.device_id)
            except ValidationError:
                self.stats.invalid += 1
                return None
        if shipment is None:
            self.stats.unrouted += 1
            return None
        return shipment.encode()

    async def _commit(self) -> None:
        """Flush what was produced, then commit what produced it."""
        self._last_commit = time.monotonic()
        if not self._positions or self._consumer is None or self._producer is None:
            return
        await self._producer.flush()
        assigned = self._consumer.assignment()
        offsets = {tp: o for tp, o in self._positions.items() if tp in assigned}
        self._positions.clear()
        if offsets:
            await self._consumer.commit(offsets)

    async def revoked(self, tps: set[TopicPartition]) -> None:
        async with self._lock:
            try:
                await self._commit()
            except Exception as exc:  # the group moved on: the next owner re-reads
                log.warning("commit before rebalance failed: %r", exc)
            self._positions.clear()
            await self.owner.revoked(self._shipment_partitions(tps))

    async def assigned(self, tps: set[TopicPartition]) -> None:
        await self.owner.assigned(self._shipment_partitions(tps))

    def _shipment_partitions(self, tps: set[TopicPartition]) -> set[int]:
        return {tp.partition for tp in tps if tp.topic == self.config.by_shipment}


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: HotLoop) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._loop.revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._loop.assigned(assigned)
