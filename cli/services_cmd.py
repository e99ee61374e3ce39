"""``tradelane services up|down|status``: real services on loopback for dev and CI."""

from __future__ import annotations

import argparse

from devtools.services import manager
from tradelane.errors import UsageError
from tradelane.settings import ServicesSettings

HELP = """\
Manage the real services the pipeline and its tests run against, natively on loopback, with
their data under $TRADELANE_HOME (default ./.tradelane) and downloads/builds cached under
$TRADELANE_CACHE (default ~/.cache/tradelane), shared by every clone on the machine:

  mosquitto  Debian's mosquitto package (apt-get installs it when missing and run as root)
  kafka      Apache Kafka 4.x, single node, KRaft; jars fetched once from Maven Central
  influxdb   InfluxDB 2.8 influxd, built once from its Go module (about 5 min the first time)

Endpoints come from TRADELANE_MQTT_URL, TRADELANE_KAFKA_BOOTSTRAP_SERVERS and
TRADELANE_INFLUX_URL. 'up' is idempotent: running services are left as they are.

--kafka-brokers 3 (or TRADELANE_KAFKA_BROKERS=3) runs a Kafka cluster instead of one broker:
node N listens on P+2(N-1) and its controller on the port after (P = the first bootstrap
server's port: 9092/9093, 9094/9095, 9096/9097), data under $TRADELANE_HOME/kafka-N, topics
with 3 replicas and min.insync.replicas=2. 'down' and 'status' find a running cluster by
themselves. Point clients at every node (docs/operations.md, "Scaling out").
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "services",
        help="start/stop/inspect local Mosquitto, Kafka, InfluxDB",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    names_help = f"services to act on (default: all of {', '.join(manager.SERVICE_TYPES)})"
    for action, text, handler in (
        ("up", "install if missing, start, wait until healthy, print endpoints", _up),
        ("down", "stop the services this project started (by recorded pid)", _down),
        ("status", "report each service: running, healthy, endpoint, version", _status),
    ):
        p = actions.add_parser(action, help=text, description=text)
        p.add_argument("names", nargs="*", metavar="NAME", help=names_help)
        p.add_argument(
            "--kafka-brokers",
            type=int,
            metavar="N",
            help="Kafka nodes: 1 (a single broker) or a cluster of N on loopback "
            "(default: TRADELANE_KAFKA_BROKERS, else 1; down/status find a running cluster)",
        )
        p.set_defaults(handler=handler)


def _settings(args: argparse.Namespace) -> ServicesSettings:
    """The services' settings, with ``--kafka-brokers`` when given."""
    if args.kafka_brokers is None:
        return ServicesSettings()
    if not 1 <= args.kafka_brokers <= 9:
        raise UsageError("--kafka-brokers takes 1 to 9")
    return ServicesSettings(kafka_brokers=args.kafka_brokers)


def _up(args: argparse.Namespace) -> int:
    statuses = manager.up(args.names, _settings(args))
    kafka = [s for s in statuses if s.name == "kafka"]
    if kafka:
        _prepare_kafka(kafka[0].endpoint)
    print("\nServices ready:")
    for s in statuses:
        print(f"  {s.name:<10} {s.endpoint:<28} {s.version}")
    if kafka and "," in kafka[0].endpoint:
        print(f"\nClients: export TRADELANE_KAFKA_BOOTSTRAP_SERVERS={kafka[0].endpoint}")
    return 0


def _prepare_kafka(bootstrap: str) -> None:
    """Topics, and the broker's group and transaction topics, made before the first demo."""
    import asyncio

    from tradelane.settings import KafkaSettings
    from transport.admin import prepare_broker

    settings = KafkaSettings().model_copy(update={"bootstrap_servers": bootstrap})
    outcomes = asyncio.run(prepare_broker(settings))
    counts = {a: sum(1 for o in outcomes if o.action == a) for a in ("created", "exists")}
    print(f"kafka: {counts['created']} topics created, {counts['exists']} already there")
    for o in outcomes:
        if o.action == "mismatch":
            print(f"kafka: topic {o.name} differs from its contract: {o.detail}")


def _down(args: argparse.Namespace) -> int:
    for name, stopped in manager.down(args.names, _settings(args)).items():
        print(f"{name}: {'stopped' if stopped else 'was not running'}")
    return 0


def _status(args: argparse.Namespace) -> int:
    all_ready = True
    for s in manager.status(args.names, _settings(args)):
        state = "ready" if s.ready else ("running, not ready" if s.running else "stopped")
        all_ready &= s.ready
        pid = f"pid {s.pid}" if s.pid else ""
        print(f"{s.name:<10} {state:<20} {s.endpoint:<28} {s.version} {pid}".rstrip())
    return 0 if all_ready else 1
