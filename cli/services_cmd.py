"""``tradelane services up|down|status``: real services on loopback for dev and CI."""

from __future__ import annotations

import argparse

from devtools.services import manager

HELP = """\
Manage the real services the pipeline and its tests run against, natively on loopback, with
their data under $TRADELANE_HOME (default ./.tradelane) and downloads/builds cached under
$TRADELANE_CACHE (default ~/.cache/tradelane), shared by every clone on the machine:

  mosquitto  Debian's mosquitto package (apt-get installs it when missing and run as root)
  kafka      Apache Kafka 4.x, single node, KRaft; jars fetched once from Maven Central
  influxdb   InfluxDB 2.8 influxd, built once from its Go module (about 5 min the first time)

Endpoints come from TRADELANE_MQTT_URL, TRADELANE_KAFKA_BOOTSTRAP_SERVERS and
TRADELANE_INFLUX_URL. 'up' is idempotent: running services are left as they are.
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
        p.set_defaults(handler=handler)


def _up(args: argparse.Namespace) -> int:
    statuses = manager.up(args.names)
    if any(s.name == "kafka" for s in statuses):
        _prepare_kafka()
    print("\nServices ready:")
    for s in statuses:
        print(f"  {s.name:<10} {s.endpoint:<28} {s.version}")
    return 0


def _prepare_kafka() -> None:
    """Topics, and the broker's group and transaction topics, made before the first demo."""
    import asyncio

    from tradelane.settings import KafkaSettings
    from transport.admin import prepare_broker

    outcomes = asyncio.run(prepare_broker(KafkaSettings()))
    counts = {a: sum(1 for o in outcomes if o.action == a) for a in ("created", "exists")}
    print(f"kafka: {counts['created']} topics created, {counts['exists']} already there")
    for o in outcomes:
        if o.action == "mismatch":
            print(f"kafka: topic {o.name} differs from its contract: {o.detail}")


def _down(args: argparse.Namespace) -> int:
    for name, stopped in manager.down(args.names).items():
        print(f"{name}: {'stopped' if stopped else 'was not running'}")
    return 0


def _status(args: argparse.Namespace) -> int:
    all_ready = True
    for s in manager.status(args.names):
        state = "ready" if s.ready else ("running, not ready" if s.running else "stopped")
        all_ready &= s.ready
        pid = f"pid {s.pid}" if s.pid else ""
        print(f"{s.name:<10} {state:<20} {s.endpoint:<28} {s.version} {pid}".rstrip())
    return 0 if all_ready else 1
