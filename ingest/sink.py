"""``tradelane sink``: ``tracker.readings`` → InfluxDB, in its own consumer group.

Offsets are committed only after InfluxDB accepted the batch, so a crash re-reads (and
re-writes, idempotently: see :mod:`ingest.points`) instead of losing points. Failed writes are
retried with jittered exponential back-off (:func:`tradelane.retry.retrying`), forever: the
sink falls behind rather than dropping data, and since it has its own consumer group it never
slows the state pipeline.

The ``shipment_id`` tag comes from ``shipments.registry`` (compacted): the sink reads it to its
end before writing anything, then keeps following it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync
from influxdb_client.client.write_api_async import WriteApiAsync

from ingest.points import to_lines
from ingest.sink_metrics import SinkMetrics
from tradelane.contracts import IngestedReading, ShipmentBooking
from tradelane.deadletters import for_error
from tradelane.retry import any_error, retrying, until_stopped
from tradelane.settings import InfluxSettings, KafkaSettings
from tradelane.topics import SHIPMENTS_REGISTRY, TRACKER_DEADLETTER, TRACKER_READINGS
from transport import kafka as clients
from transport.admin import topic_partitions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SinkConfig:
    group_id: str = "tradelane-sink"
    topic: str = TRACKER_READINGS.name
    batch_max: int = 5000
    poll_timeout_ms: int = 500
    retry_initial_s: float = 0.5
    retry_max_s: float = 30.0
    from_beginning: bool = True
    gzip: bool = True
    fetch_min_bytes: int = 256 * 1024
    fetch_max_wait_ms: int = 250


@dataclass
class SinkStats:
    points_written: int = 0
    batches: int = 0
    write_retries: int = 0
    bad_records: int = 0
    write_seconds: float = 0.0
    shipments_known: int = 0
    devices: dict[str, str] = field(default_factory=dict)


class Sink:
    """``make_consumer``, ``make_producer`` and ``make_influx`` build its clients (by default
    :mod:`transport.kafka`'s and an ``InfluxDBClientAsync``); unit tests pass doubles."""

    def __init__(
        self,
        kafka: KafkaSettings,
        influx: InfluxSettings,
        config: SinkConfig | None = None,
        make_consumer: clients.ConsumerFactory = clients.consumer,
        make_producer: clients.ProducerFactory = clients.producer,
        make_influx: Callable[[], InfluxDBClientAsync] | None = None,
    ) -> None:
        self.kafka = kafka
        self.influx = influx
        self.config = config or SinkConfig()
        self.make_consumer = make_consumer
        self.make_producer = make_producer
        self.make_influx = make_influx or self._influx_client
        self.stats = SinkStats()
        self.metrics = SinkMetrics()
        self.ready = asyncio.Event()
        self._follow: asyncio.Task[None] | None = None

    async def run(self, stop: asyncio.Event) -> None:
        registry = await clients.started(
            lambda: self.make_consumer(self.kafka, auto_offset_reset="latest"),
            "the sink's registry consumer",
        )
        try:
            deadletters = await clients.started(
                lambda: self.make_producer(self.kafka), "the sink's dead-letter producer"
            )
        except BaseException:
            await registry.stop()
            raise
        influx = self.make_influx()
        try:
            await self._load_registry(registry)
            follow = self._follow = asyncio.create_task(self._follow_registry(registry, stop))
            readings: AIOKafkaConsumer | None = None
            try:
                readings = await clients.started(self._readings_consumer, "the sink's consumer")
                await _await_assignment(readings)
                self.ready.set()
                await self._pump(readings, influx, deadletters, stop)
            finally:
                follow.cancel()
                await asyncio.gather(follow, return_exceptions=True)
                if readings is not None:
                    await readings.stop()
        finally:
            await influx.close()  # type: ignore[no-untyped-call]
            await deadletters.stop()
            await registry.stop()

    def _influx_client(self) -> InfluxDBClientAsync:
        return InfluxDBClientAsync(
            url=self.influx.url,
            token=self.influx.token.get_secret_value(),
            org=self.influx.org,
            enable_gzip=self.config.gzip,
        )

    def _readings_consumer(self) -> AIOKafkaConsumer:
        return self.make_consumer(
            self.kafka,
            self.config.topic,
            group_id=self.config.group_id,
            auto_offset_reset="earliest" if self.config.from_beginning else "latest",
            max_poll_records=self.config.batch_max,
            # Telemetry can wait a quarter of a second: a few large fetches, InfluxDB writes
            # and commits a second instead of one per trickle of readings. At 1,000 readings/s
            # the sink, InfluxDB and Kafka spent most of a core on the small ones.
            fetch_min_bytes=self.config.fetch_min_bytes,
            fetch_max_wait_ms=self.config.fetch_max_wait_ms,
        )

    # --- registry ---------------------------------------------------------------------------

    def _learn(self, value: bytes | None) -> None:
        if value is None:
            return
        try:
            booking = ShipmentBooking.model_validate_json(value)
        except Exception:  # the worker's registry follower dead-letters it
            log.warning("ignoring an invalid shipments.registry record")
            return
        for device in booking.trackers:
            self.stats.devices[device] = booking.shipment_id
        self.stats.shipments_known += 1

    async def _learn_all(self, batches: clients.Batches) -> None:
        for batch in batches.values():
            for rec in batch:
                self._learn(rec.value)

    async def _load_registry(self, consumer: AIOKafkaConsumer) -> None:
        tps = await topic_partitions(consumer, SHIPMENTS_REGISTRY.name)
        consumer.assign(tps)
        await clients.rewind(consumer, *tps)
        ends = await consumer.end_offsets(tps)
        await clients.read_to_end(consumer, ends, self._learn_all)

    async def _follow_registry(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        if not consumer.assignment():
            return
        await clients.follow(consumer, self._learn_all, stop, timeout_ms=1000)

    # --- readings → InfluxDB ----------------------------------------------------------------

    async def _pump(
        self,
        consumer: AIOKafkaConsumer,
        influx: InfluxDBClientAsync,
        deadletters: AIOKafkaProducer,
        stop: asyncio.Event,
    ) -> None:
        """Decode batch N+1 while InfluxDB ingests batch N; commit each batch's offsets only
        after its write succeeded, in order (one write in flight at a time)."""
        write_api = influx.write_api()
        in_flight: tuple[asyncio.Task[bool], dict[TopicPartition, int]] | None = None
        try:
            while not stop.is_set():
                self._check_follower()
                batches = await consumer.getmany(
                    timeout_ms=self.config.poll_timeout_ms, max_records=self.config.batch_max
                )
                if not batches:
                    continue
                offsets = {tp: msgs[-1].offset + 1 for tp, msgs in batches.items()}
                records = await self._decode(batches, deadletters)
                lines = to_lines(records, self.stats.devices)
                if in_flight is not None and not await self._settle(consumer, *in_flight):
                    in_flight = None
                    return
                in_flight = (asyncio.create_task(self._write(write_api, lines, stop)), offsets)
        finally:
            if in_flight is not None:
                await self._settle(consumer, *in_flight)

    def _check_follower(self) -> None:
        """If the registry follower failed, the sink fails too (exits non-zero, for its
        supervisor to restart it) instead of writing on with a shipment map that no longer
        follows the registry."""
        follow = self._follow
        if follow is None or not follow.done() or follow.cancelled():
            return
        error = follow.exception()
        if error is not None:
            raise RuntimeError(f"the sink's registry follower failed: {error!r}") from error

    async def _settle(
        self,
        consumer: AIOKafkaConsumer,
        write: asyncio.Task[bool],
        offsets: dict[TopicPartition, int],
    ) -> bool:
        """Wait for a batch's write; commit its offsets if it was written."""
        if not await write:
            return False  # abandoned on stop: not committed, so re-read on restart
        await consumer.commit(offsets)
        self.stats.batches += 1
        return True

    async def _decode(
        self, batches: dict[TopicPartition, list[Any]], deadletters: AIOKafkaProducer
    ) -> list[IngestedReading]:
        records: list[IngestedReading] = []
        for batch in batches.values():
            for rec in batch:
                try:
                    records.append(IngestedReading.model_validate_json(rec.value or b""))
                except Exception as exc:  # unreadable: a dead letter, and on to the next
                    self.stats.bad_records += 1
                    letter = for_error(
                        "sink",
                        rec.topic,
                        rec.partition,
                        rec.offset,
                        rec.key,
                        rec.value,
                        datetime.now(UTC),
                        exc,
                    )
                    self.metrics.deadlettered.labels(letter.reason.value).inc()
                    await deadletters.send_and_wait(
                        TRACKER_DEADLETTER.name,
                        letter.model_dump_json().encode(),
                        key=rec.topic.encode(),
                    )
        return records

    async def _write(self, write_api: WriteApiAsync, lines: list[str], stop: asyncio.Event) -> bool:
        """Write until InfluxDB accepts (True), retrying with back-off and no deadline (the sink
        falls behind rather than drop points); False if stopped while retrying."""
        if not lines:
            return True
        failed = False

        async def attempt() -> bool:
            if failed and stop.is_set():
                return False
            started = time.perf_counter()
            # Line protocol timestamps are nanoseconds: the client's default precision.
            await write_api.write(bucket=self.influx.bucket, record=lines)
            took = time.perf_counter() - started
            self.stats.write_seconds += took
            self.stats.points_written += len(lines)
            self.metrics.write_seconds.observe(took)
            self.metrics.points_written.inc(len(lines))
            return True

        def retrying_in(exc: BaseException, pause_s: float) -> None:
            nonlocal failed
            failed = True
            self.stats.write_retries += 1
            self.metrics.write_failures.inc()
            log.warning(
                "InfluxDB write of %d points failed (%s); retrying in %.1fs",
                len(lines),
                exc,
                pause_s,
            )

        return await retrying(
            attempt,
            what="InfluxDB write",
            deadline_s=None,
            # any failure: the client raises its own, aiohttp's and OSError; dropping points
            # is never the answer, and a stop ends the wait
            retriable=any_error,
            base_s=self.config.retry_initial_s,
            max_s=self.config.retry_max_s,
            on_retry=retrying_in,
            sleep=until_stopped(stop),
        )


async def _await_assignment(consumer: AIOKafkaConsumer, timeout_s: float = 60.0) -> None:
    """Return once the group gave us partitions and their start offsets are resolved, so that
    "ready" means every reading produced from now on will be written."""
    deadline = time.monotonic() + timeout_s
    while not consumer.assignment():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no partitions assigned after {timeout_s:.0f}s")
        await asyncio.sleep(0.05)  # the group join runs in the consumer's background task
    for tp in consumer.assignment():
        await consumer.position(tp)
