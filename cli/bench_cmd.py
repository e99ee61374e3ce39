"""``tradelane bench``: benchmarks on the real services that print figures (text and JSON)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TypeAlias

HELP = """\
Benchmarks against the services at the configured endpoints (start them with
'tradelane services up'). They print throughput and CPU per process (100% = one core) with the
machine's conditions, and with --json write the same figures for run-to-run comparison.

  bridge   readings queued in Mosquitto for a bridge's persistent session are drained by a
           bridge process into Kafka; reports its steady-state readings/s (Kafka-acknowledged)
  worker   bookings and readings for --devices shipments are produced while a fresh worker
           keeps their state; reports readings/s until its group has committed them all,
           then p50/p95/p99 reading -> event latency at a steady --latency-rate
  sink     preloads readings on a private topic, then the sink writes them to InfluxDB;
           reports points/s
  pipeline simulator-like MQTT publisher -> bridge -> Kafka -> worker (+ finance, insurance,
           sink) at rising --rates: lag, publish -> event latency per output topic, CPU per
           process, and a pass-through baseline
  recovery a worker rebuilds a --shipments table (100,000) from its changelog; reports the
           seconds from its start to an event that needs the recovered state, less startup
  engines  no services: the pledge and insurance engines' per-event cost (the agents' code
           without Kafka) for a facility of --shipments pledged shipments; events/s, µs/event
  truth    no services: simulated fleets (every scenario) replayed through the pure cores in
           several delivery orders (ideal, published, backlog, slow tracker, late reading,
           store-and-forward flush); milestones, alarms, claims, tranches and interest
           compared with the simulator's manifest
  api      live-feed fan-out: a fresh 'tradelane api' process, --clients WebSocket clients,
           readings produced at --rate/s for --duration s; reports p50/p99 event -> client
           latency and the server's CPU
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmarks that print figures (worker, bridge, sink, pipeline, engines, api...)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    which = p.add_subparsers(dest="bench", metavar="BENCH", required=True)
    _add_ingest(which)
    _add_api(which)
    _add_pipeline(which)
    _add_recovery(which)
    _add_engines(which)
    _add_truth(which)


Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""``tradelane bench``'s subcommands; each ``_add_…`` adds one (or, for ingest, three)."""


def _add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write figures as JSON")


def _add_ingest(which: Subparsers) -> None:
    """``worker``, ``bridge`` and ``sink``: readings through one stage."""
    for name, text, default in (
        ("worker", "tracker.readings -> worker -> shipments.events throughput", 50_000),
        ("bridge", "MQTT -> bridge -> Kafka throughput", 200_000),
        ("sink", "Kafka -> sink -> InfluxDB throughput", 200_000),
    ):
        b = which.add_parser(name, help=text, description=text)
        b.add_argument(
            "--readings", type=int, default=default, help="how many readings (default %(default)s)"
        )
        b.add_argument(
            "--devices", type=int, default=1000, help="distinct device ids (default %(default)s)"
        )
        _add_json(b)
        if name == "worker":
            b.add_argument(
                "--latency-rate",
                type=float,
                default=200.0,
                help="then readings/s that each cause an event, for the latency figures "
                "(default %(default)s)",
            )
            b.add_argument(
                "--latency-seconds",
                type=float,
                default=20.0,
                help="how long the latency phase runs (default %(default)s; 0 = skip it)",
            )
        if name == "sink":
            b.add_argument(
                "--no-gzip", action="store_true", help="send InfluxDB writes uncompressed"
            )
        b.set_defaults(handler=_bench)


def _add_api(which: Subparsers) -> None:
    """``api``: the live feed fanned out to WebSocket clients."""
    api = which.add_parser(
        "api",
        help="live-feed fan-out to WebSocket clients: latency and server CPU",
        description="live-feed fan-out to WebSocket clients: latency and server CPU",
    )
    api.add_argument("--clients", type=int, default=500, help="WebSocket clients (default 500)")
    api.add_argument("--shipments", type=int, default=50, help="bench shipments (default 50)")
    api.add_argument("--rate", type=float, default=20.0, help="events/s produced (default 20)")
    api.add_argument("--duration", type=float, default=20.0, help="seconds (default 20)")
    _add_json(api)
    api.set_defaults(handler=_bench_api)


def _add_pipeline(which: Subparsers) -> None:
    """``pipeline``: the whole chain at rising rates."""
    pipe = which.add_parser(
        "pipeline",
        help="the whole chain end to end: sustained readings/s, latency per topic, baseline",
        description="Starts a bridge, a worker (with the pledge and insurance engines) and, "
        "when InfluxDB answers, the sink; publishes readings over MQTT at each --rates step "
        "to fresh pledged and insured shipments; prints per step the worker's lag, "
        "publish -> event latency on shipments.events, finance.events and insurance.claims, "
        "and CPU per process; and a pass-through MQTT -> Kafka baseline with the ratio.",
    )
    pipe.add_argument(
        "--rates",
        default="250,500,1000,1500",
        help="comma-separated readings/s, one step each (default %(default)s)",
    )
    pipe.add_argument(
        "--step-seconds", type=float, default=20.0, help="seconds per step (default 20)"
    )
    pipe.add_argument(
        "--shipments-per-step", type=int, default=100, help="fresh shipments per step (100)"
    )
    pipe.add_argument(
        "--baseline-readings", type=int, default=20_000, help="baseline size (default 20000)"
    )
    pipe.add_argument(
        "--no-sink", action="store_true", help="leave the InfluxDB sink out of the chain"
    )
    pipe.add_argument(
        "--hops",
        action="store_true",
        help="also time the intermediate hops (tracker.readings, the worker's by-shipment "
        "topic) to see where latency goes; reading every record adds load to the machine",
    )
    pipe.add_argument(
        "--worker-processes",
        type=int,
        choices=(1, 2),
        default=2,
        help="1: one worker process runs both loops; 2 (default): the shipment loop and the "
        "pledge loop in a process each (`tradelane worker --part`), as a 2-core host runs them",
    )
    pipe.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="workers in the group (same app id), sharing the partitions; each is "
        "--worker-processes processes (default 1)",
    )
    _add_json(pipe)
    pipe.set_defaults(handler=_bench_pipeline)


def _add_recovery(which: Subparsers) -> None:
    """``recovery``: a worker rebuilding a big table from its changelog."""
    recovery = which.add_parser(
        "recovery",
        help="how long a worker takes to recover a big shipment table from its changelog",
        description="Writes --shipments shipment states into a fresh app id's changelog, "
        "starts a worker on it and times its first event (which needs the recovered state), "
        "less the startup of a worker on an empty table.",
    )
    recovery.add_argument(
        "--shipments", type=int, default=100_000, help="table size (default %(default)s)"
    )
    _add_json(recovery)
    recovery.set_defaults(handler=_bench_recovery)


def _add_engines(which: Subparsers) -> None:
    """``engines``: the pledge and insurance engines without Kafka."""
    engines = which.add_parser(
        "engines",
        help="no services: pledge and insurance engines' events/s per facility size",
        description="Builds a facility pledging N insured shipments (each size in "
        "--shipments), then feeds shipment events (shocks, breach progress with evidence, ETA "
        "changes, tracker health, milestones) through the pledge and insurance agents' "
        "per-message code (parse, engine, output and state serialisation, table write) "
        "without Kafka; prints events/s and µs/event per engine and size.",
    )
    engines.add_argument(
        "--shipments",
        default="10,100,1000",
        help="comma-separated facility sizes (default %(default)s)",
    )
    engines.add_argument(
        "--seconds", type=float, default=5.0, help="time per engine and size (default 5)"
    )
    engines.add_argument(
        "--events", type=int, default=5000, help="events prepared per size (default 5000)"
    )
    _add_json(engines)
    engines.set_defaults(handler=_bench_engines)


def _add_truth(which: Subparsers) -> None:
    """``truth``: the pure cores (or the pipeline) against the simulator's manifest."""
    truth = which.add_parser(
        "truth",
        help="no services: outputs of the pure cores vs the simulator's ground truth",
        description="Simulates a fleet per scenario (no broker), replays its messages through "
        "the pure cores (shipment core, insurance, pledge engine) in each delivery order and "
        "compares milestones, alarms, claims, tranches and interest with the manifest. "
        "Orders: ideal (event time), published (the simulator at 1x), backlog (an hour of "
        "readings late, statuses and wills on time), slow (one tracker 50 min late), late "
        "(one reading 16 min late), flush (one tracker's 6 h of readings in one burst). "
        "Shipments follow from --trackers (one or two trackers each). With --pipeline the "
        "same messages in the same orders go over real MQTT through a bridge and a worker "
        "(child processes) instead, and the outputs read back from Kafka are scored the same "
        "way and compared with the pure replay of the same order and of the ideal order.",
    )
    truth.add_argument(
        "--scenarios", default="all", help="comma-separated scenarios or 'all' (default all)"
    )
    truth.add_argument(
        "--orders", default="all", help="comma-separated delivery orders or 'all' (default all)"
    )
    truth.add_argument("--seed", type=int, default=11, help="fleet seed (default %(default)s)")
    truth.add_argument(
        "--trackers", type=int, default=8, help="trackers per scenario (default %(default)s)"
    )
    truth.add_argument(
        "--workers", type=int, default=0, help="processes (default: CPUs, at most 2)"
    )
    _add_json(truth)
    truth.add_argument(
        "--pipeline",
        action="store_true",
        help="through the running services (MQTT -> bridge -> Kafka -> worker), not the pure "
        "cores; prints the differences from the pure replay",
    )
    truth.add_argument(
        "--interleave",
        action="store_true",
        help="with --pipeline: do not wait between different shipments' causes of credit-line "
        "events within a day (the worker's batches decide which reaches the line first)",
    )
    truth.add_argument(
        "--logs",
        type=Path,
        default=Path(".tradelane/bench/truth"),
        help="with --pipeline: the bridge's and worker's logs (default %(default)s)",
    )
    truth.set_defaults(handler=_bench_truth)


def _bench_engines(args: argparse.Namespace) -> int:
    from bench.engines import bench_engines
    from tradelane.errors import UsageError

    try:
        sizes = [int(n) for n in args.shipments.split(",") if n.strip()]
    except ValueError as exc:
        raise UsageError(f"--shipments: integers, got {args.shipments!r}") from exc
    if not sizes or min(sizes) < 1 or args.seconds <= 0 or args.events < 1:
        raise UsageError("--shipments must be >= 1, --seconds > 0, --events >= 1")
    bench_engines(sizes, args.seconds, args.events, args.json)
    return 0


def _names(text: str, known: tuple[str, ...], what: str) -> list[str]:
    from tradelane.errors import UsageError

    if text.strip() == "all":
        return list(known)
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if not names or unknown:
        raise UsageError(f"--{what}: unknown {unknown or text!r}; known: {', '.join(known)}")
    return names


def _bench_truth(args: argparse.Namespace) -> int:
    from faults.truth.orders import ORDERS
    from faults.truth.scoring import SCENARIO_NAMES, bench_truth
    from tradelane.errors import UsageError

    if args.trackers < 1 or args.workers < 0:
        raise UsageError("--trackers must be >= 1 and --workers >= 0")
    scenarios = _names(args.scenarios, SCENARIO_NAMES, "scenarios")
    orders = _names(args.orders, tuple(ORDERS), "orders")
    if args.pipeline:
        from faults.truth.pipeline import bench_truth_pipeline

        results = bench_truth_pipeline(
            scenarios, args.seed, args.trackers, orders, args.logs, args.json, args.interleave
        )
        return 0 if all(not r.vs_replay for r in results) else 1
    bench_truth(scenarios, args.seed, args.trackers, orders, args.json, args.workers or None)
    return 0


def _bench_pipeline(args: argparse.Namespace) -> int:
    from bench.pipeline import bench_pipeline
    from tradelane.errors import UsageError

    try:
        rates = [float(r) for r in args.rates.split(",") if r.strip()]
    except ValueError as exc:
        raise UsageError(f"--rates: comma-separated numbers, got {args.rates!r}") from exc
    if not rates or min(rates) <= 0 or args.step_seconds <= 0 or args.shipments_per_step < 1:
        raise UsageError("--rates must be > 0, --step-seconds > 0, --shipments-per-step >= 1")
    if args.baseline_readings < 1000:
        raise UsageError("--baseline-readings must be >= 1000")
    if not 1 <= args.workers <= 12:
        raise UsageError("--workers takes 1 to 12 (tracker.readings has 12 partitions)")
    bench_pipeline(
        rates,
        args.step_seconds,
        args.shipments_per_step,
        args.baseline_readings,
        args.json,
        sink=not args.no_sink,
        hops=args.hops,
        worker_processes=args.worker_processes,
        workers=args.workers,
    )
    return 0


def _bench_recovery(args: argparse.Namespace) -> int:
    from bench.ingest import report
    from bench.recovery import bench_recovery
    from tradelane.errors import UsageError

    if args.shipments < 1:
        raise UsageError("--shipments must be >= 1")
    report(bench_recovery(args.shipments), args.json)
    return 0


def _bench_api(args: argparse.Namespace) -> int:
    import asyncio

    from bench.feed import fanout, report
    from tradelane.errors import UsageError
    from tradelane.settings import KafkaSettings

    if args.clients < 1 or args.shipments < 1 or args.rate <= 0 or args.duration <= 0:
        raise UsageError("--clients/--shipments must be >= 1, --rate/--duration > 0")
    print(f"bench api: {args.clients} WebSocket clients ...", flush=True)
    result = asyncio.run(
        fanout(KafkaSettings(), args.clients, args.shipments, args.rate, args.duration)
    )
    report(result, args.json)
    return 0


def _bench(args: argparse.Namespace) -> int:
    from bench import ingest as bench
    from tradelane.errors import UsageError

    if args.readings < 1000 or args.devices < 1:
        raise UsageError("--readings must be >= 1000 and --devices >= 1")
    print(
        f"bench {args.bench}: {args.readings:,} readings from {args.devices:,} devices ...",
        flush=True,
    )
    if args.bench == "worker":
        from bench.worker import bench_worker

        if args.latency_rate <= 0 or args.latency_seconds < 0:
            raise UsageError("--latency-rate must be > 0 and --latency-seconds >= 0")
        result = bench_worker(args.readings, args.devices, args.latency_rate, args.latency_seconds)
    elif args.bench == "bridge":
        result = bench.bench_bridge(args.readings, args.devices)
    else:
        result = bench.bench_sink(args.readings, args.devices, gzip=not args.no_gzip)
    bench.report(result, args.json)
    return 0
