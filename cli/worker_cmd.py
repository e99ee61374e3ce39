"""``tradelane worker``: the stream processor (see streams/app.py)."""

from __future__ import annotations

import argparse
import logging

from cli.metrics_args import add_metrics_options, metrics_port

HELP = """\
Run the stream processor: reads tracker.readings and shipments.registry, keeps the live state
of every shipment it owns (a faust table, recovered from Kafka on start), and emits shipment
events (milestones, condition breaches with evidence, shock, tamper, battery, silence, route
deviation, ETA and delay) to shipments.events, with ids derived from their cause.

Start more workers with the same --app-id to share the partitions; stop one and the others
take over its shipments. One worker group runs per Kafka cluster: its workers hold a lease on
the topic workers.lease, renewed every few seconds and released on a clean stop. A worker of
another --app-id waits up to --other-group-wait for the lease to be released (or to lapse,
--lease-term after the group's last renewal) and otherwise refuses to start (exit status 3):
two groups would both write every shipment's events and every facility's ledger. A running
worker that finds another group holding the lease stops at once (exit status 3).

The pledge loop signs each facility's ledger head (finance.checkpoints) with the Ed25519 key
TRADELANE_LEDGER_SIGNING_KEY; on a machine whose Kafka is on loopback it generates one into
.tradelane/secrets/ledger-signing.key, elsewhere it refuses to start without it (exit status 2).

Each state partition's outputs, states and input offsets are written in one Kafka
transaction (TRADELANE_KAFKA_TRANSACTIONS, on by default; TRADELANE_KAFKA_COMMIT_INTERVAL_MS,
default 100): a worker that lost a partition to another cannot write for it any more.
SIGTERM or Ctrl-C stops it cleanly. Metrics (Prometheus): http://127.0.0.1:9109/metrics
(docs/operations.md lists the series).
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "worker",
        help="stream processor: shipment state and events (faust)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--app-id",
        default="tradelane-streams",
        help="faust app id = consumer group and prefix of internal topics (default %(default)s)",
    )
    p.add_argument(
        "--web-port",
        type=int,
        default=None,
        help="serve faust's web endpoints on 127.0.0.1:PORT (default: off)",
    )
    p.add_argument(
        "--from-now",
        action="store_true",
        help="a new --app-id starts at the current end of its inputs (tracker.readings, "
        "tracker.status, shipments.events, finance.commands, insurance.commands) instead of "
        "replaying their history (no effect on a group that has committed)",
    )
    p.add_argument(
        "--no-finance",
        action="store_true",
        help="run only the shipment state, not the pledge and insurance engines",
    )
    p.add_argument(
        "--other-group-wait",
        type=float,
        default=90.0,
        metavar="SECONDS",
        help="how long to wait for another worker group on the cluster to stop before "
        "refusing to start (default %(default)s: a killed worker stays a member until its "
        "session times out)",
    )
    p.add_argument(
        "--part",
        choices=("all", "shipments", "pledge"),
        default="all",
        help="which loops this process runs: all (default), or only the shipment loop "
        "(shipment state and the insurance engine) or only the pledge loop; start one of each "
        "with the same --app-id to give the pledge engine's bursts a core of their own",
    )
    p.add_argument(
        "--lease-term",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long one renewal of the worker lease holds it: a group whose every worker "
        "was killed keeps the cluster this long (default %(default)s)",
    )
    add_metrics_options(p, "worker")
    p.add_argument("--loglevel", default="warning", choices=("debug", "info", "warning", "error"))
    p.set_defaults(handler=_worker)


def _worker(args: argparse.Namespace) -> int:
    import asyncio
    import sys

    from cli.tracing import configure
    from streams.app import create_app, engines_app_id, pledge_group, prepare
    from streams.guard import SecondWorkerGroupError, refuse_second_group
    from streams.lease import LeaseHeldError, acquire, member_id
    from tradelane.principals import WORKER_PREFIX, Principal
    from tradelane.settings import KafkaSettings

    if args.no_finance and args.part == "pledge":
        print(
            "worker: --part pledge runs the pledge engine, which --no-finance leaves out",
            file=sys.stderr,
        )
        return 2
    if args.lease_term <= 0:
        print("worker: --lease-term must be positive", file=sys.stderr)
        return 2
    configure("worker")  # OTEL_* settings (docs/operations.md, "Tracing")
    kafka = KafkaSettings().as_principal(Principal.WORKER)
    if kafka.username is None and kafka.sasl and not args.app_id.startswith(WORKER_PREFIX):
        print(
            f"worker: --app-id {args.app_id} is outside the worker principal's grants (its"
            f" topics, groups and transactional ids start with {WORKER_PREFIX!r}); use an app id"
            f" that starts with it, or log in as a user granted the new prefix",
            file=sys.stderr,
        )
        return 2
    signer = None
    if not args.no_finance and args.part in ("all", "pledge"):
        from finance.ledger_keys import load_signer
        from tradelane.settings import LedgerSettings

        # before anything connects: a production worker without its key stops here (exit 2)
        signer = load_signer(LedgerSettings(), kafka.bootstrap_servers)
    own = {args.app_id, engines_app_id(args.app_id), pledge_group(args.app_id)}
    member = member_id()
    try:
        asyncio.run(refuse_second_group(kafka, own, args.other_group_wait))
        asyncio.run(acquire(kafka, args.app_id, member, args.lease_term, args.other_group_wait))
    except (SecondWorkerGroupError, LeaseHeldError) as exc:
        print(f"worker {args.app_id} refused to start: {exc}", file=sys.stderr, flush=True)
        return 3
    asyncio.run(prepare(kafka, args.app_id, from_now=args.from_now))
    app = create_app(
        kafka,
        app_id=args.app_id,
        web_port=args.web_port,
        engines=not args.no_finance,
        lease=(member, args.lease_term),
        part=args.part,
        signer=signer,
        metrics_at=_metrics_at(args),
    )
    print(f"worker {args.app_id}: {kafka.bootstrap_servers}", flush=True)
    logging.getLogger("faust").setLevel(args.loglevel.upper())
    worker_class = _bounded_stop_worker_class()
    worker = worker_class(app, loglevel=args.loglevel, quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()  # returns only via SystemExit
    return 0


def _metrics_at(args: argparse.Namespace) -> tuple[str, int] | None:
    port = metrics_port(args)
    return None if port is None else (args.metrics_host, port)


STOP_GRACE_S = 45.0


def _bounded_stop_worker_class() -> type:
    from faust.worker import Worker

    class BoundedStopWorker(Worker):
        """faust's worker, with a bound on how long a graceful stop may take: a stop that hangs
        (seen under heavy load) is ended after STOP_GRACE_S with exit status 4. Everything it
        had not committed is re-read by the next worker, so nothing is lost."""

        def _on_sigterm(self) -> None:
            _arm_watchdog()
            super()._on_sigterm()

        def _on_sigint(self) -> None:
            _arm_watchdog()
            super()._on_sigint()

    return BoundedStopWorker


def _arm_watchdog() -> None:
    import os
    import sys
    import threading

    def force() -> None:
        print(
            f"worker: graceful stop took over {STOP_GRACE_S:.0f}s; exiting",
            file=sys.stderr,
            flush=True,
        )
        os._exit(4)

    timer = threading.Timer(STOP_GRACE_S, force)
    timer.daemon = True
    timer.start()
