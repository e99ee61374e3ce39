"""``tradelane demo``: what runs. Brokers (the configured ones when they answer, else embedded
ones), then the stages: the bridge, the sink (when InfluxDB answers) and the fleet in this
process; the worker and the API as child processes (:mod:`devtools.children`); the feeds of
what they write (:func:`cli.demo_feed.feed`) into the printer (:mod:`cli.demo_printer`), and
the heartbeats timed MQTT -> Kafka on the same readings feed. Every stage runs until one
``stop`` event, which :func:`cli.running.stop_on_signals` sets on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiokafka import TopicPartition

from cli.demo_feed import SUMMARY_TOPICS, Ours, await_worker, end_offsets, feed, summarise
from cli.demo_printer import Printer, status_text, with_spinner
from cli.demo_view import Summary
from devtools import children
from devtools.provisioning import provision_local_fleet
from devtools.services.embedded import EmbeddedBroker, start_mqtt, start_tansu
from tradelane.contracts import IngestedReading, ShipmentBooking, TrackerReading
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
from transport.mqtt import forget_session, make_client
from transport.probes import free_port, http_json, kafka_ready_async, port_open

if TYPE_CHECKING:  # the kernel imports the stages only lazily, inside the command
    from devices.config import FleetConfig
    from devices.fleet import FleetProgress
    from devices.plan import FleetPlan
    from ingest.sink import Sink

HEARTBEAT_DEVICE = "demo-heartbeat"


# --- brokers ---------------------------------------------------------------------------------


@dataclass
class Stack:
    """What the demo started, so it can stop exactly that."""

    embedded: list[EmbeddedBroker] = field(default_factory=list)

    def close(self) -> None:
        for broker in reversed(self.embedded):
            broker.stop()


def resolve_mqtt(
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


async def resolve_kafka(
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


# --- the child processes ---------------------------------------------------------------------


def _run_dir() -> Path:
    return ServicesSettings().home.resolve() / "run"


def worker_log() -> Path:
    return _run_dir() / "demo-worker.log"


def api_log() -> Path:
    return _run_dir() / "demo-api.log"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _kafka_env(kafka: KafkaSettings) -> dict[str, str]:
    """The demo's Kafka for a child process (it reads its settings from the environment)."""
    return {
        "TRADELANE_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "TRADELANE_KAFKA_IDEMPOTENCE": str(kafka.idempotence).lower(),
        "TRADELANE_KAFKA_SECURITY_PROTOCOL": kafka.security_protocol,
    }


def spawn_worker(kafka: KafkaSettings, app_id: str, from_now: bool) -> subprocess.Popen[bytes]:
    """The stream processor runs as its own process (faust owns its event loop).
    ``from_now``: skip the inputs' history (a shared broker); an empty one has none.
    At info, its log says when each consumer group synced (what the demo waits for)."""
    args = ["worker", "--loglevel", "info", "--app-id", app_id]
    return children.spawn(
        args + (["--from-now"] if from_now else []), worker_log(), env=_kafka_env(kafka)
    )


def spawn_api(kafka: KafkaSettings, port: int) -> subprocess.Popen[bytes]:
    """``tradelane api`` on 127.0.0.1:``port`` against the demo's Kafka, with the demo keys."""
    return children.spawn(
        ["api", "--port", str(port)],
        api_log(),
        env=_kafka_env(kafka),
        unset=["TRADELANE_API_KEYS_FILE"],
    )


# --- the pipeline ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RunIds:
    """Ids of this run: a shared broker keeps earlier runs' (and tests') shipments, and a
    worker group that had committed would first work through their backlog; a rerun of the
    same shipment ids would be taken for redeliveries."""

    run: str

    @property
    def prefix(self) -> str:
        return f"demo{self.run}"

    @property
    def facility(self) -> str:
        return f"demo-line-{self.run}"

    @property
    def app_id(self) -> str:
        return f"{WORKER_PREFIX}-demo-{self.run}"

    def ours(self, key: bytes | None) -> bool:
        """A record of this run's fleet (shipment, policy ``pol-…`` or facility key)."""
        if not key:
            return False
        text = key.decode(errors="replace")
        return text.startswith((self.prefix, f"pol-{self.prefix}", self.facility))


class Pipeline:
    """The stages the demo runs in this process: bridge, sink (if InfluxDB answers), fleet;
    the worker and the API as child processes; the feeds into the printer."""

    def __init__(
        self,
        brokers: tuple[MqttSettings, bool, KafkaSettings],
        stop: asyncio.Event,
        printer: Printer,
        fresh_kafka: bool = False,
    ) -> None:
        from ingest.bridge import Bridge, BridgeConfig

        self.mqtt_settings, self.mqtt5, self.kafka_settings = brokers
        self.stop = stop
        self.printer = printer
        self.fresh_kafka = fresh_kafka
        """Kafka was started by the demo (empty): the worker needs no ``--from-now``."""
        self.bridge = Bridge(
            self.mqtt_settings.as_principal(BRIDGE),
            self.kafka_settings,
            BridgeConfig(
                client_id="tradelane-demo-bridge",
                share_group="tradelane-demo" if self.mqtt5 else None,
                mqtt5=self.mqtt5,
                metrics_port=None,
                session_expiry_s=300,
            ),
        )
        self.sink: Sink | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.api: subprocess.Popen[bytes] | None = None
        self.progress: FleetProgress | None = None
        self.ids = RunIds(uuid.uuid4().hex[:6])
        self.facilities: list[str] = []
        self.worker_log = (worker_log(), 0)
        """The worker's log file and its size when the worker started."""
        self.since: dict[TopicPartition, int] = {}
        """Where the summarised topics ended before this run's first record."""
        self.heartbeats: asyncio.Queue[int] = asyncio.Queue()
        """Sequence numbers of the heartbeat readings the readings feed saw."""
        self.tasks: list[asyncio.Task[object]] = []

    async def start(self, args: argparse.Namespace) -> None:
        self.tasks.append(asyncio.create_task(self.bridge.run(self.stop)))
        await asyncio.wait_for(self.bridge.subscribed.wait(), 30)
        print("Bridge subscribed: MQTT -> tracker.readings / tracker.deadletter")
        self.since = await end_offsets(self.kafka_settings, SUMMARY_TOPICS)
        self.worker_log = (worker_log(), _size(worker_log()))
        self.worker = spawn_worker(self.kafka_settings, self.ids.app_id, not self.fresh_kafka)
        print(
            f"Worker started (pid {self.worker.pid}): readings -> shipment state -> "
            "shipments.events" + (", pledge and insurance engines" if args.finance else "")
        )
        await self._start_feeds()
        await self._start_sink()
        if args.api:
            self._start_api(args.api_port)
        if args.webhooks and args.finance:
            self._start_webhooks()
        plan = await self._plan_and_pledge(args) if args.trackers else None
        await self._await_worker(args.finance)
        self.printer.display.start()
        if plan is not None and not self.stop.is_set():
            self._start_fleet(args, plan)
        self._spawn(self.printer.tick(self.stop, self.status_text))

    def _spawn(self, stage: Coroutine[Any, Any, object]) -> None:
        self.tasks.append(asyncio.create_task(stage))

    async def _start_feeds(self) -> None:
        """Consumers of the worker's outputs (into the view) and of the readings (the
        temperature column and the heartbeats), each positioned before anything is published."""
        feeds: tuple[tuple[tuple[str, ...], Ours], ...] = (
            ((SHIPMENTS_EVENTS.name, FINANCE_EVENTS.name, INSURANCE_CLAIMS.name), self.ids.ours),
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

    def _on_record(self, topic: str, value: bytes) -> None:
        if topic != TRACKER_READINGS.name:
            self.printer.event(topic, value)
            return
        reading = IngestedReading.model_validate_json(value).reading
        if reading.device_id == HEARTBEAT_DEVICE:
            self.heartbeats.put_nowait(reading.seq)
        self.printer.reading(reading)

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

        notice = self.printer.display.notice
        self._spawn(run_demo_webhooks(self.kafka_settings, DEMO_BANK, self.stop, notice))

    async def _plan_and_pledge(self, args: argparse.Namespace) -> tuple[FleetConfig, FleetPlan]:
        from devices.config import FleetConfig
        from devices.plan import plan_fleet

        config = FleetConfig(
            start=datetime.now(UTC).replace(microsecond=0) - timedelta(days=40),
            trackers=args.trackers,
            scenario=args.scenario,
            speedup=args.speedup,
            duration_s=None,
            prefix=self.ids.prefix,
        )
        plan = await asyncio.get_running_loop().run_in_executor(None, plan_fleet, config)
        bookings = [s.booking for s in plan.shipments]
        for booking in bookings:
            self.printer.view.book(booking, pledged=args.finance)
        if args.finance:
            await _pledge_and_insure(
                self.kafka_settings, bookings, self.ids.facility, args.confirm_hours
            )
            self.facilities.append(self.ids.facility)
        return config, plan

    async def _await_worker(self, finance: bool) -> None:
        """Wait (under a deadline, with progress) until the worker's loops hold their
        partitions: readings published before would wait for its first rebalance."""
        from streams.app import pledge_group

        worker = self.worker
        assert worker is not None
        groups = [self.ids.app_id, *([pledge_group(self.ids.app_id)] if finance else [])]
        print(f"Waiting for the worker to join its consumer groups ({', '.join(groups)})")
        took = await with_spinner(
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
            if not self.stop.is_set():
                self.printer.display.notice("Fleet finished: every tracker retired")
                if not args.heartbeats:
                    self.stop.set()

        self.tasks.append(asyncio.create_task(fleet()))
        self.printer.display.notice(
            f"Fleet: {args.trackers} trackers, scenario {args.scenario}, "
            f"{args.speedup:g}x simulated time"
        )

    def _on_progress(self, progress: FleetProgress) -> None:
        self.progress = progress

    def _start_api(self, wanted_port: int) -> None:
        """The API (and dashboard) as its own process, like the worker; its URL is announced
        once it answers (it takes seconds to start: the first events should not wait)."""
        port = wanted_port if wanted_port and not port_open("127.0.0.1", wanted_port) else 0
        port = port or free_port()
        self.api = spawn_api(self.kafka_settings, port)
        self._spawn(self._announce_api(self.api, port))

    async def _announce_api(self, api: subprocess.Popen[bytes], port: int) -> None:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while await asyncio.to_thread(http_json, url + "/healthz") is None:
            if api.poll() is not None or time.monotonic() > deadline:
                self.printer.display.notice(f"API did not start (see {api_log()})")
                return
            await asyncio.sleep(0.2)  # polling the API's health under a deadline
        self.printer.display.notice(
            f"Dashboard {url}/?key=demo-operator-key  (API docs {url}/docs)"
        )
        self.printer.display.notice(f"Seller's page {url}/seller?key=demo-borrower-key")

    def status_text(self) -> str:
        stats = self.sink.stats if self.sink is not None else None
        return status_text(self.bridge.metrics, self.progress, stats, self.printer.events_seen)

    async def close(self) -> None:
        """Stop every stage: the children (SIGTERM, SIGKILL after 60 s) while the tasks in
        this process end on ``stop``; then the last events shown, and any stage's error."""
        procs = [child for child in (self.worker, self.api) if child is not None]
        ending = asyncio.create_task(asyncio.to_thread(children.finish, *procs))
        results = await asyncio.gather(*self.tasks, return_exceptions=True)
        await ending
        self.printer.display.finish()
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                print(f"  a stage stopped with an error: {result!r}")
        # The demo is ephemeral: drop its bridge session so the broker stops queueing for it.
        with contextlib.suppress(OSError, TimeoutError):
            forget_session(self.mqtt_settings, self.bridge.config.client_id, mqtt5=self.mqtt5)

    async def summary(self) -> Summary:
        """What the pipeline produced in this run, read back from Kafka."""
        return await summarise(self.kafka_settings, self.since, self.ids.ours, self.facilities)

    async def heartbeat_crossed(self, seq: int, deadline_s: float) -> bool:
        """Whether the heartbeat ``seq`` reached ``tracker.readings`` within ``deadline_s``
        (``False`` too once ``stop`` is set)."""
        deadline = time.monotonic() + deadline_s
        while not self.stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            with contextlib.suppress(TimeoutError):  # waking up to notice ``stop``
                if await asyncio.wait_for(self.heartbeats.get(), min(left, 0.2)) == seq:
                    return True
        return False


async def heartbeats(pipeline: Pipeline, count: int, interval_s: float) -> int:
    """Publish a heartbeat reading every ``interval_s`` until ``count`` crossed (0: until
    ``stop``), each timed until the readings feed sees it on ``tracker.readings``."""
    settings, stop, display = pipeline.mqtt_settings, pipeline.stop, pipeline.printer.display
    publisher = make_client(settings, "tradelane-demo-heartbeat", mqtt5=pipeline.mqtt5)
    crossed = 0
    publisher.connect(settings.host, settings.port, settings.keepalive_s)
    publisher.loop_start()
    try:
        first_seq = time.time_ns() // 1_000_000  # strictly increases across demo runs
        if not stop.is_set():
            display.notice(
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
            if not await pipeline.heartbeat_crossed(reading.seq, deadline_s=30.0):
                if stop.is_set():
                    break
                raise ServiceError(f"heartbeat seq {reading.seq} did not reach Kafka in 30 s")
            crossed += 1
            display.heartbeat(
                f"  heartbeat {crossed}: seq {reading.seq} on {TRACKER_READINGS.name} after "
                f"{(time.perf_counter() - sent) * 1000:.1f} ms"
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
    finally:
        publisher.loop_stop()
        publisher.disconnect()
    return crossed


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
