"""``tradelane bench``: benchmarks on the real services that print figures (text and JSON)."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = """\
Benchmarks against the services at the configured endpoints (start them with
'tradelane services up'). They print throughput and CPU per process (100% = one core) with the
machine's conditions, and with --json write the same figures for run-to-run comparison.

  bridge   readings queued in Mosquitto for a bridge's persistent session are drained by a
           bridge process into Kafka; reports its steady-state readings/s (Kafka-acknowledged)
  worker   bookings and readings for --devices shipments are produced while a fresh worker
           keeps their state; reports readings/s until its group has committed them all
  sink     preloads readings on a private topic, then the sink writes them to InfluxDB;
           reports points/s
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmarks that print figures (bridge, sink)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    which = p.add_subparsers(dest="bench", metavar="BENCH", required=True)
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
        b.add_argument("--json", type=Path, metavar="FILE", help="also write figures as JSON")
        if name == "sink":
            b.add_argument(
                "--no-gzip", action="store_true", help="send InfluxDB writes uncompressed"
            )
        b.set_defaults(handler=_bench)


def _bench(args: argparse.Namespace) -> int:
    from ingest import bench
    from tradelane.services.process import ServiceError

    if args.readings < 1000 or args.devices < 1:
        raise ServiceError("--readings must be >= 1000 and --devices >= 1")
    print(
        f"bench {args.bench}: {args.readings:,} readings from {args.devices:,} devices ...",
        flush=True,
    )
    if args.bench == "worker":
        from streams.bench import bench_worker

        result = bench_worker(args.readings, args.devices)
    elif args.bench == "bridge":
        result = bench.bench_bridge(args.readings, args.devices)
    else:
        result = bench.bench_sink(args.readings, args.devices, gzip=not args.no_gzip)
    bench.report(result, args.json)
    return 0
