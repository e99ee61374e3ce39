"""``tradelane`` entry point: parse, dispatch, turn known failures into clear exits."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from pydantic import ValidationError

from cli import (
    access_cmd,
    api_cmd,
    bench_cmd,
    bridge_cmd,
    demo_cmd,
    faults_cmd,
    finance_cmd,
    ledger_cmd,
    schemas_cmd,
    services_cmd,
    simulate_cmd,
    sink_cmd,
    topics_cmd,
    webhooks_cmd,
    worker_cmd,
)
from tradelane import __version__
from tradelane.errors import ServiceError

DESCRIPTION = """\
Tradelane: tracks goods in transit from IoT trackers (MQTT) through Kafka streams, and finances
them in real time (pledge credit lines, parametric cargo insurance).

Start here:
  tradelane demo              run the whole pipeline on embedded brokers (Ctrl-C stops it)
  tradelane services up       start real Mosquitto, Kafka and InfluxDB on loopback for dev/tests
                              (authenticated: each service logs in as itself; see `access`)
  tradelane topics create     create every Kafka topic with its declared layout

Settings come from TRADELANE_* environment variables (see README.md, 'Settings').
"""

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tradelane",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"tradelane {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (
        services_cmd,
        access_cmd,
        topics_cmd,
        schemas_cmd,
        demo_cmd,
        bridge_cmd,
        sink_cmd,
        simulate_cmd,
        bench_cmd,
        faults_cmd,
        worker_cmd,
        ledger_cmd,
        finance_cmd,
        api_cmd,
        webhooks_cmd,
    ):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    handler: Handler = args.handler
    try:
        return handler(args)
    except ServiceError as exc:
        print(f"tradelane: error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"tradelane: invalid settings or input:\n{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tradelane: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
