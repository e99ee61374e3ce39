"""Throughput benchmark: one process, 10,000 trackers, readings PUBACKed per second, and CPU.

Run ``python -m bench.simulator`` (or ``tradelane simulate --bench``) against a local broker.
It offers more readings than the publisher can send (``--offered``), so the figure is the
saturated rate: readings acknowledged by the broker per wall second after a warm-up, with this
process's CPU (user + system, % of one core) and, when it can be found, the broker's.
It also prints what else the machine was doing (load average, cores), because on a shared
machine the figure is only meaningful next to that.

By default it starts its own throwaway Mosquitto (same binary and config as the dev broker, on
a free port, stopped afterwards): a long-lived dev broker carries offline persistent sessions
of other tools whose queues every benchmark reading would grow (and whose autosaves stall the
broker), and the benchmark should neither measure nor cause that. ``--broker configured``
measures against TRADELANE_MQTT_URL instead.

This is a measurement, not a test: nothing asserts on the number.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from devices.config import ConnectionMode, Departures, FleetConfig
from devices.fleet import FleetProgress, FleetReport, run_fleet
from devtools.provisioning import provision_local_fleet
from tradelane.settings import MqttSettings


@dataclass
class _Sample:
    elapsed: float
    generated: int
    sent: int
    cpu: float
    broker_cpu: float | None


def _broker_pid(name: str = "mosquitto") -> int | None:
    """The only running broker's pid, to read its CPU time from /proc (Linux; read-only)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    found = []
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found[0] if len(found) == 1 else None


def _proc_cpu_s(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def _conditions() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    import paho.mqtt

    return (
        f"{os.cpu_count()} CPU cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
        f"Python {platform.python_version()}, paho-mqtt {paho.mqtt.__version__}, "
        f"{platform.system()} {platform.release()}"
    )


def _fleet_config(
    trackers: int, seconds: float, offered: float, shape: tuple[int, int], departures: Departures
) -> FleetConfig:
    """A nominal fleet sped up to offer ``offered`` readings/s over ``shape`` (connections,
    window) shared connections."""
    connections, window = shape
    interval = 900
    return FleetConfig(
        start=(datetime.now(UTC) - timedelta(days=45)).replace(microsecond=0),
        trackers=trackers,
        scenario="nominal",
        seed=2026,
        speedup=offered * interval / trackers,
        duration_s=seconds,
        interval_s=interval,
        departures=departures,
        connection_mode=ConnectionMode.SHARED,
        connections=connections,
        window=window,
        prefix="bench",
        status_messages=True,
    )


def _print_steady(steady: list[_Sample], warmup: float, broker: int | None) -> None:
    """The steady-state figures: PUBACKed and generated readings/s, this process's and the
    broker's CPU, between the first and the last sample after the warm-up."""
    first, last = steady[0], steady[-1]
    span = last.elapsed - first.elapsed
    rate = (last.sent - first.sent) / span
    cpu = 100.0 * (last.cpu - first.cpu) / span
    peak = max((b.sent - a.sent) / (b.elapsed - a.elapsed) for a, b in itertools.pairwise(steady))
    print(
        f"result: {rate:,.0f} readings/s PUBACKed (steady, {span:.0f} s after {warmup:.0f} s "
        f"warm-up; best second {peak:,.0f}); simulator CPU {cpu:.0f}% of one core"
    )
    generated = (last.generated - first.generated) / span
    print(
        f"        {generated:,.0f} readings/s measured (the rest of them stored in devices "
        "out of coverage, to be flushed later)"
    )
    if first.broker_cpu is not None and last.broker_cpu is not None:
        print(
            f"        broker (mosquitto pid {broker}) CPU "
            f"{100.0 * (last.broker_cpu - first.broker_cpu) / span:.0f}% of one core"
        )


def _print_totals(report: FleetReport) -> None:
    t = report.manifest.totals
    print(
        f"run: {t.readings_sent:,} readings sent, {t.readings_generated:,} generated, "
        f"{t.readings_buffered_at_end:,} buffered at end, {t.readings_unacked:,} unacked, "
        f"{t.status_sent:,} status messages; whole run {report.readings_per_s:,.0f}/s, "
        f"CPU {100 * report.cpu_s / max(report.wall_s, 1e-9):.0f}% incl. planning"
    )


async def bench(
    trackers: int,
    seconds: float,
    offered: float,
    connections: int,
    window: int,
    warmup: float,
    mqtt_settings: MqttSettings,
    broker_pid: int | None = None,
    departures: Departures = Departures.ALIGNED,
) -> int:
    config = _fleet_config(trackers, seconds, offered, (connections, window), departures)
    samples: list[_Sample] = []
    broker = broker_pid if broker_pid is not None else _broker_pid()

    def record(p: FleetProgress) -> None:
        samples.append(
            _Sample(
                p.elapsed_s,
                p.readings_generated,
                p.readings_sent,
                time.process_time(),
                _proc_cpu_s(broker),
            )
        )

    print(
        f"bench: {trackers:,} trackers over {connections} shared MQTT 5 connections "
        f"(QoS 1, window {window}), offered ~{offered:,.0f} readings/s (x{config.speedup:.0f}), "
        f"departures {departures.value}, {seconds:.0f} s after planning; broker "
        f"{mqtt_settings.url}"
    )
    print(f"before: {_conditions()}")
    t_plan = time.monotonic()
    report = await run_fleet(
        config,
        mqtt_settings,
        None,
        asyncio.Event(),
        record,
        freeze_gc=True,
        provision=provision_local_fleet,
    )
    print(
        f"setup (plan {trackers:,} trackers, connect, {trackers:,} retained statuses): "
        f"{time.monotonic() - t_plan - report.wall_s:.1f} s"
    )
    steady = [s for s in samples if s.elapsed >= warmup]
    if len(steady) < 2:
        print("bench: run too short to measure", file=sys.stderr)
        return 1
    _print_steady(steady, warmup, broker)
    _print_totals(report)
    print(f"after:  {_conditions()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.simulator",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--trackers", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=30.0, help="measured run (wall s)")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument(
        "--offered",
        type=float,
        default=20_000.0,
        help="readings/s the fleet would produce at full speed",
    )
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--window", type=int, default=500)
    parser.add_argument(
        "--departures",
        choices=("aligned", "spread"),
        default="aligned",
        help="aligned: the fleet is leaving warehouses and ports (every reading "
        "is published at once); spread: part of it is mid-ocean, buffering",
    )
    parser.add_argument(
        "--broker",
        choices=("private", "configured"),
        default="private",
        help="private: start a throwaway Mosquitto for the run (default); "
        "configured: use --mqtt-url / TRADELANE_MQTT_URL",
    )
    parser.add_argument("--mqtt-url", default=None)
    args = parser.parse_args(argv)
    departures = Departures(args.departures)
    if args.broker == "configured" or args.mqtt_url:
        settings = MqttSettings(url=args.mqtt_url) if args.mqtt_url else MqttSettings()
        return asyncio.run(
            bench(
                args.trackers,
                args.seconds,
                args.offered,
                args.connections,
                args.window,
                args.warmup,
                settings,
                departures=departures,
            )
        )
    from devtools.services.embedded import start_mqtt

    with tempfile.TemporaryDirectory(prefix="tradelane-bench-") as tmp:
        broker = start_mqtt(Path(tmp), prefer="mosquitto")
        try:
            settings = MqttSettings(url=broker.url, username=None, password=None)
            return asyncio.run(
                bench(
                    args.trackers,
                    args.seconds,
                    args.offered,
                    args.connections,
                    args.window,
                    args.warmup,
                    settings,
                    broker_pid=broker.proc.pid,
                    departures=departures,
                )
            )
        finally:
            broker.stop()


if __name__ == "__main__":
    sys.exit(main())
