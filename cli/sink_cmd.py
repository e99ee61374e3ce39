"""``tradelane sink``: tracker.readings → InfluxDB (see ingest/sink.py)."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING

from cli.metrics_args import add_metrics_options, metrics_port

if TYPE_CHECKING:  # the kernel imports ingest only lazily, inside the command
    from ingest.sink import SinkConfig

HELP = """\
Write every reading on tracker.readings to InfluxDB (TRADELANE_INFLUX_* settings), measurement
'reading', tags device_id, shipment_id (from shipments.registry) and source, one field per
sensor value. Runs in its own consumer group, so it never slows the state pipeline; commits
Kafka offsets only after InfluxDB accepted a batch, and retries failed writes with backoff.
Writing the same reading twice is harmless (same tags and timestamp: the point is overwritten).
Metrics (Prometheus): http://127.0.0.1:9110/metrics (docs/operations.md lists the series).
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sink",
        help="tracker.readings -> InfluxDB telemetry sink",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--group", default="tradelane-sink", help="consumer group (default %(default)s)")
    p.add_argument(
        "--no-gzip",
        action="store_true",
        help="send writes uncompressed (cheaper on loopback; default gzip)",
    )
    p.add_argument(
        "--batch-max",
        type=int,
        default=5000,
        help="max readings per InfluxDB write (default %(default)s)",
    )
    p.add_argument(
        "--from-now",
        action="store_true",
        help="a new consumer group starts at the end of tracker.readings instead of its "
        "beginning (a group that has committed always continues from its commit)",
    )
    p.add_argument(
        "--stats-interval",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="print a stats line this often (0: never)",
    )
    add_metrics_options(p, "sink")
    p.set_defaults(handler=_sink)


def _sink(args: argparse.Namespace) -> int:
    from ingest.sink import SinkConfig
    from tradelane.errors import UsageError

    if args.batch_max < 1:
        raise UsageError("--batch-max must be >= 1")
    return asyncio.run(
        _run(
            SinkConfig(
                group_id=args.group,
                batch_max=args.batch_max,
                gzip=not args.no_gzip,
                from_beginning=not args.from_now,
            ),
            args.stats_interval,
            (args.metrics_host, metrics_port(args)),
        )
    )


async def _run(
    config: SinkConfig, stats_interval: float, metrics_at: tuple[str, int | None]
) -> int:
    from cli.running import run_until_signalled
    from ingest.sink import Sink
    from tradelane.principals import Principal
    from tradelane.settings import InfluxSettings, KafkaSettings
    from transport.metrics import serving

    kafka = KafkaSettings().as_principal(Principal.SINK)
    influx = InfluxSettings()
    sink = Sink(kafka, influx, config)

    def announce() -> str:
        return (
            f"sink {config.group_id}: {kafka.bootstrap_servers} -> {influx.url} "
            f"bucket {influx.bucket} ({sink.stats.shipments_known} registry records)"
        )

    last = 0

    def stats_line(interval: float) -> str:
        nonlocal last
        s = sink.stats
        rate, last = (s.points_written - last) / interval, s.points_written
        return (
            f"  {rate:,.0f} points/s  written {s.points_written:,}  "
            f"retries {s.write_retries}  bad {s.bad_records}"
        )

    async with serving(sink.metrics.registry, *metrics_at):
        await run_until_signalled(sink.run, sink.ready, announce, stats_line, stats_interval)
    s = sink.stats
    print(
        f"sink stopped: {s.points_written} points in {s.batches} batches, "
        f"{s.write_retries} write retries, {s.bad_records} bad records dead-lettered"
    )
    return 0
