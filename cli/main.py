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
    export_cmd,
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
from tradelane.errors import ServiceError, UsageError

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
        export_cmd,
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
    except UsageError as exc:
        return usage_error(parser, args, exc)
    except ServiceError as exc:
        print(f"tradelane: error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"tradelane: invalid settings or input:\n{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tradelane: interrupted", file=sys.stderr)
        return 130


def usage_error(parser: argparse.ArgumentParser, args: argparse.Namespace, exc: UsageError) -> int:
    """Report what the command line asked for wrongly as argparse reports a bad argument:
    the (sub)command's usage, ``PROG: error: MESSAGE`` and exit status 2 (a usage error is the
    caller's to fix, so it is told how to call, not shown a traceback)."""
    sub = _command_parser(parser, args)
    sub.print_usage(sys.stderr)
    print(f"{sub.prog}: error: {exc}", file=sys.stderr)
    return 2


def _command_parser(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> argparse.ArgumentParser:
    """The deepest subcommand's parser the parsed ``args`` went through."""
    for action in parser._actions:  # argparse keeps its subcommands only there
        if isinstance(action, argparse._SubParsersAction):
            chosen = getattr(args, action.dest, None)
            if chosen in action.choices:
                return _command_parser(action.choices[chosen], args)
    return parser


if __name__ == "__main__":
    sys.exit(main())
