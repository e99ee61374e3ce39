"""``--metrics-port`` / ``--metrics-host``: the same two options on every long-running command,
each with its own default port (:data:`tradelane.metrics_ports.DEFAULT_PORTS`)."""

from __future__ import annotations

import argparse

from tradelane.metrics_ports import DEFAULT_HOST, DEFAULT_PORTS


def add_metrics_options(p: argparse.ArgumentParser | argparse._ArgumentGroup, process: str) -> None:
    default = DEFAULT_PORTS[process]
    p.add_argument(
        "--metrics-port",
        type=int,
        default=default,
        metavar="PORT",
        help=f"serve Prometheus metrics at http://HOST:PORT/metrics (default {default}; "
        "0 or a negative number: do not serve them)",
    )
    p.add_argument(
        "--metrics-host",
        default=DEFAULT_HOST,
        metavar="HOST",
        help="address the metrics endpoint binds (default %(default)s: this machine only)",
    )


def metrics_port(args: argparse.Namespace) -> int | None:
    """The port to serve on, None when disabled (0 and, as before, -1 disable)."""
    port: int = args.metrics_port
    return port if port > 0 else None
