"""``tradelane bridge``: MQTT → Kafka with a no-loss acknowledgement chain.

How nothing is lost:
- The bridge holds a persistent MQTT session (clean start off, session expiry set), so while
  it is down the broker queues its messages.
- paho runs with manual acks. A message is acknowledged to the broker (PUBACK) only after
  Kafka acknowledged the record it became (reading or dead letter), and acks go out in the
  order messages arrived. A crash at any moment leaves every unacknowledged message with the
  broker, which redelivers it to the next bridge of the share group: duplicates, never gaps.
- If a Kafka send fails (after the producer's own retries) the bridge stops without acking
  anything after it, and exits non-zero; its supervisor restarts it and the broker redelivers.

One thread: paho is driven by the asyncio event loop (:class:`transport.mqtt.AsyncioLoopAdapter`),
so a message goes from socket to validation (the pure :func:`ingest.intake.intake`) to the Kafka
producer without a thread hand-off; sends are not awaited one by one, and acks go out as Kafka
confirms.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from opentelemetry.trace import TracerProvider
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from ingest.adapters.registry import select
from ingest.bridge_metrics import BridgeMetrics
from ingest.intake import IntakeLimits, dead_letter, intake, intake_status
from ingest.seen import RecentlySeen
from ingest.tracing import bridge_tracing, end_when_sent
from tradelane import deadletters
from tradelane.contracts import DeadLetter, DeadLetterReason, IngestedReading, IngestedStatus
from tradelane.errors import ServiceError
from tradelane.retry import retrying
from tradelane.settings import KafkaSettings, MqttSettings
from tradelane.topics import (
    MQTT_ROOT,
    STATUS_FILTER,
    TRACKER_DEADLETTER,
    TRACKER_READINGS,
    TRACKER_STATUS,
    shared,
)
from transport import kafka as clients
from transport.metrics import MetricsServer, start_serving
from transport.mqtt import AsyncioLoopAdapter, make_client

log = logging.getLogger(__name__)


class BridgeFailedError(ServiceError):
    """Kafka refused a record; unacknowledged MQTT messages stay with the broker."""


RECEIVED_AT_PROPERTY = "tradelane-received-at"
"""The MQTT 5 user property a replay stamps with a message's simulated receive time."""


def replayed_receive_time(msg: mqtt.MQTTMessage) -> datetime | None:
    """The receive time a replaying publisher put on ``msg`` (ISO 8601 with a zone), if any."""
    pairs = getattr(getattr(msg, "properties", None), "UserProperty", None) or []
    for name, value in pairs:
        if name == RECEIVED_AT_PROPERTY:
            try:
                at = datetime.fromisoformat(value)
            except ValueError:
                return None
            return at if at.tzinfo is not None else None
    return None


@dataclass(frozen=True)
class BridgeConfig:
    client_id: str = "tradelane-bridge-1"
    share_group: str | None = "tradelane-bridges"
    mqtt5: bool = True
    session_expiry_s: int = 7 * 24 * 3600
    receive_maximum: int = 10000
    adapters: tuple[str, ...] = ()
    limits: IntakeLimits = field(default_factory=IntakeLimits)
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = 9108
    linger_ms: int = 5
    send_timeout_s: float = 120.0
    """How long a record may wait for Kafka (a broker restarting, leaders moving) before the
    bridge gives up and stops, leaving it unacked with the MQTT broker: aiokafka's 40 s
    default was shorter than a loaded broker's restart."""
    statuses: bool = True
    """Also forward device status (online / offline last will) to ``tracker.status``."""
    replay_clock: bool = False
    """Take a message's receive time from its MQTT 5 user property :data:`RECEIVED_AT_PROPERTY`
    when it carries one. For replaying a simulated stream (``tradelane bench truth
    --pipeline``), whose processing times are simulated: the rules that judge a reading by how
    late it was received then see what the pure replay sees. Off by default, since with it a
    publisher chooses its own receive time."""


@dataclass
class _Pending:
    mid: int
    qos: int
    future: asyncio.Future[object]
    sent_at: float


class Bridge:
    def __init__(
        self,
        mqtt_settings: MqttSettings,
        kafka_settings: KafkaSettings,
        config: BridgeConfig | None = None,
        make_producer: clients.ProducerFactory = clients.producer,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        """``make_producer`` builds the Kafka producer (:func:`transport.kafka.producer`;
        unit tests pass a double's); ``tracer_provider`` records its spans (default: the
        global one, which records nothing unless ``cli.tracing`` configured it)."""
        self.mqtt_settings = mqtt_settings
        self.kafka_settings = kafka_settings
        self.make_producer = make_producer
        self.config = config or BridgeConfig()
        self.adapters = select(list(self.config.adapters))
        self.metrics = BridgeMetrics()
        self.seen = RecentlySeen()
        self.subscribed = asyncio.Event()
        self._inbox: deque[tuple[str, bytes, int, int, datetime]] = deque()
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._reconnect: asyncio.Task[None] | None = None
        self._pending: deque[_Pending] = deque()
        self._failure: BaseException | None = None
        self._client: mqtt.Client | None = None
        self.metrics_port: int | None = None
        self.tracing = bridge_tracing(tracer_provider)

    # --- MQTT side (paho thread) ------------------------------------------------------------

    def _mqtt_client(self, loop: asyncio.AbstractEventLoop) -> mqtt.Client:
        client = make_client(
            self.mqtt_settings,
            self.config.client_id,
            mqtt5=self.config.mqtt5,
            manual_ack=True,
            persistent_session=True,
        )
        filters = [f for a in self.adapters for f in a.subscriptions()]
        if self.config.statuses:
            filters.append(STATUS_FILTER)
        if self.config.share_group and self.config.mqtt5:
            filters = [shared(f, self.config.share_group) for f in filters]

        def on_connect(c: mqtt.Client, _u: object, _f: object, rc: object, _p: object) -> None:
            if getattr(rc, "is_failure", False):
                log.error("MQTT connection refused: %s", rc)
                return
            self.metrics.mqtt_connected.set(1)
            c.subscribe([(f, 1) for f in filters])

        def on_subscribe(
            _c: mqtt.Client, _u: object, _mid: int, codes: list[ReasonCode], _p: Properties
        ) -> None:
            failed = [c for c in codes if c.is_failure]
            if failed:
                log.error("MQTT subscription refused: %s", failed)
                return
            self.subscribed.set()

        def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
            # Runs on the event loop thread (see AsyncioLoopAdapter): no hand-off needed.
            received = datetime.now(UTC)
            if self.config.replay_clock:
                received = replayed_receive_time(msg) or received
            self._inbox.append((msg.topic, bytes(msg.payload), msg.mid, msg.qos, received))
            self._wakeup.set()

        def on_disconnect(_c: mqtt.Client, _u: object, _f: object, rc: object, _p: object) -> None:
            self.metrics.mqtt_connected.set(0)
            if not self._stopping:
                log.warning("MQTT connection lost (%s); reconnecting", rc)
                self._reconnect = loop.create_task(self._reconnect_loop(client))

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_message = on_message
        client.on_disconnect = on_disconnect
        return client

    async def _reconnect_loop(self, client: mqtt.Client) -> None:
        """Reconnect after a lost connection, with back-off and no deadline (the bridge has
        nothing to do without its broker; stopping it cancels this)."""

        async def attempt() -> None:
            if not self._stopping:
                client.reconnect()

        def failed(exc: BaseException, pause_s: float) -> None:
            log.warning("MQTT reconnect failed (%s); retrying in %.1fs", exc, pause_s)

        await retrying(
            attempt,
            what="MQTT reconnect",
            deadline_s=None,
            retriable=lambda exc: isinstance(exc, OSError),  # refused, unreachable, reset
            base_s=0.5,
            max_s=30.0,
            on_retry=failed,
        )

    def _connect(self, client: mqtt.Client) -> None:
        s = self.mqtt_settings
        if self.config.mqtt5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = self.config.session_expiry_s
            props.ReceiveMaximum = self.config.receive_maximum
            client.connect(s.host, s.port, s.keepalive_s, clean_start=False, properties=props)
        else:
            client.connect(s.host, s.port, s.keepalive_s)

    # --- Kafka side (asyncio) ---------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Bridge until ``stop`` is set; raises :class:`BridgeFailedError` if Kafka refuses."""
        loop = asyncio.get_running_loop()
        producer = await self._start_producer()
        metrics_runner = await self._start_metrics()
        client = self._mqtt_client(loop)
        self._client = client
        driver = AsyncioLoopAdapter(loop, client)
        self._connect(client)
        stopper = asyncio.create_task(_relay(stop, self._wakeup))
        try:
            while not stop.is_set() and self._failure is None:
                await self._wakeup.wait()
                self._wakeup.clear()
                inbox = self._inbox
                while inbox and self._failure is None:
                    await self._forward(producer, *inbox.popleft())
            if self._failure is not None:
                raise BridgeFailedError(f"Kafka send failed: {self._failure}") from self._failure
            # Orderly stop: let in-flight sends finish so their messages get acked.
            await producer.flush()
            await asyncio.sleep(0)  # run the done-callbacks scheduled by the flush
            self._release_acks()
        finally:
            self._stopping = True
            stopper.cancel()
            if self._reconnect is not None:
                self._reconnect.cancel()
            client.disconnect()
            await driver.stop()
            await producer.stop()
            if metrics_runner is not None:
                await metrics_runner.stop()

    async def _start_producer(self) -> AIOKafkaProducer:
        """The producer, started, once Kafka knows the topics it writes to (the MQTT side is
        connected only then, so nothing is received that could not be forwarded)."""
        producer = await clients.started(
            lambda: self.make_producer(
                self.kafka_settings,
                client_id=self.config.client_id,
                linger_ms=self.config.linger_ms,
                max_batch_size=256 * 1024,
                request_timeout_ms=int(self.config.send_timeout_s * 1000),
            ),
            f"bridge {self.config.client_id}'s producer",
        )
        try:
            for topic in (TRACKER_READINGS, TRACKER_STATUS, TRACKER_DEADLETTER):
                await clients.partitions(producer, topic.name)
        except BaseException:
            await producer.stop()
            raise
        return producer

    async def _forward(
        self,
        producer: AIOKafkaProducer,
        topic: str,
        payload: bytes,
        mid: int,
        qos: int,
        received_at: datetime,
    ) -> None:
        m = self.metrics
        m.received_total.inc()
        record, value = self._decode(topic, payload, received_at)
        if isinstance(record, DeadLetter):
            m.deadlettered_total.labels(record.reason.value).inc()
            key = (record.mqtt_topic or "").encode()
            target = TRACKER_DEADLETTER.name
        elif isinstance(record, IngestedStatus):
            key = record.status.device_id.encode()
            target = TRACKER_STATUS.name
        else:
            reading = record.reading
            if self.seen.check_and_add((reading.device_id, reading.seq)):
                m.duplicates_total.inc()
            key = reading.device_id.encode()
            target = TRACKER_READINGS.name
        span, headers = None, None
        if self.tracing is not None:  # a replay's receive time is simulated: not the span's
            arrived = datetime.now(UTC) if self.config.replay_clock else received_at
            span, headers = self.tracing.receive(topic, arrived, target, key)
        try:
            future = await producer.send(target, value, key=key, headers=headers)
        except KafkaError as exc:  # no room or no metadata within the send timeout
            if span is not None:
                span.end()
            self._fail(exc)
            return
        if span is not None:
            end_when_sent(span, future)
        pending = _Pending(mid, qos, future, time.perf_counter())
        self._pending.append(pending)
        m.inflight_gauge.set(len(self._pending))
        future.add_done_callback(lambda _f: self._release_acks())
        if isinstance(record, IngestedReading):
            future.add_done_callback(self._count_forwarded)

    def _decode(
        self, topic: str, payload: bytes, received_at: datetime
    ) -> tuple[IngestedReading | IngestedStatus | DeadLetter, bytes]:
        """The record one message becomes, serialised. Whatever decoding or serialising
        raises makes the message a dead letter too: an exception that escaped here would
        leave the message unacknowledged, redelivered after every restart."""
        record: IngestedReading | IngestedStatus | DeadLetter
        try:
            if topic.endswith("/status") and topic.startswith(MQTT_ROOT):
                record = intake_status(topic, payload, received_at, self.config.limits)
            else:
                record = intake(topic, payload, received_at, self.adapters, self.config.limits)
            return record, record.model_dump_json().encode()
        except Exception as exc:  # see the docstring: never leave a message unacknowledged
            log.warning("message on %.200s could not be decoded: %r", topic, exc)
            record = dead_letter(
                topic,
                payload,
                received_at,
                DeadLetterReason.DECODER_ERROR,
                deadletters.describe(exc),
            )
            return record, record.model_dump_json().encode()

    def _fail(self, error: BaseException) -> None:
        """Stop forwarding: a send Kafka refused (or that could not be queued) is never acked,
        nor anything after it. The pump is woken to end the run now: waiting for the next MQTT
        message could be forever, since the broker sends no more once the unacked in-flight
        window is full, and a bridge that lives on without forwarding is never restarted."""
        self.metrics.send_failures_total.inc()
        if self._failure is None:
            self._failure = error
        self._wakeup.set()

    def _count_forwarded(self, future: asyncio.Future[object]) -> None:
        if not future.cancelled() and future.exception() is None:
            self.metrics.forwarded_total.inc()

    def _release_acks(self) -> None:
        """Ack, in arrival order, every message whose record Kafka has confirmed."""
        client = self._client
        now = time.perf_counter()
        latency = self.metrics.kafka_send_latency
        while self._pending and self._pending[0].future.done():
            head = self._pending[0]
            error = None if head.future.cancelled() else head.future.exception()
            if head.future.cancelled() or error is not None:
                self._fail(error or RuntimeError("send cancelled"))
                return  # never ack this one or anything after it
            self._pending.popleft()
            latency.observe(now - head.sent_at)
            if client is not None and head.qos > 0:
                client.ack(head.mid, head.qos)
        self.metrics.inflight_gauge.set(len(self._pending))

    # --- metrics endpoint -------------------------------------------------------------------

    async def _start_metrics(self) -> MetricsServer | None:
        c = self.config
        server = await start_serving(self.metrics.registry, c.metrics_host, c.metrics_port)
        self.metrics_port = None if server is None else server.port
        return server


async def _relay(source: asyncio.Event, target: asyncio.Event) -> None:
    """Set ``target`` when ``source`` is set (wakes the pump when asked to stop)."""
    await source.wait()
    target.set()
