"""``tradelane simulate``: drive a fleet of simulated trackers against the MQTT broker.

The simulator lives in ``devices/`` and is imported lazily inside the handler, so the kernel
and ``tradelane --help`` never load it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from cli.metrics_args import add_metrics_options, metrics_port
from cli.running import stop_on_signals
from devtools.provisioning import provision_local_fleet
from tradelane.errors import ServiceError, UsageError

if TYPE_CHECKING:
    from devices.config import FleetConfig
    from devices.fleet import FleetProgress, FleetReport
    from devices.metrics import SimulatorMetrics
    from tradelane.settings import KafkaSettings, MqttSettings

SCENARIOS = ("nominal", "reefer-failure", "rough-handling", "theft", "port-delay", "tracker-dies")

HELP = """\
Simulate a fleet of IoT trackers riding with shipments (sea lanes through real chokepoints,
air, road), publishing TrackerReading JSON over MQTT 5 at QoS 1 to
tradelane/v1/trackers/{device_id}/readings, with a retained status and last will per device.

Scenarios (--scenario): nominal, reefer-failure, rough-handling, theft (tamper + route
deviation + stop outside safe zones), port-delay, tracker-dies. The same --seed and --start
give the same readings.

Time: simulated time runs --speedup times faster than the wall clock, starting at --start
(default: --duration x --speedup before now, so the run ends about now and no timestamp lies
in the future). Once simulated time catches up with the wall clock it continues at 1x.

Bookings (--bookings): 'auto' publishes every shipment to the Kafka topic shipments.registry
(TRADELANE_KAFKA_BOOTSTRAP_SERVERS) if Kafka answers within 3 s, else skips it with a note;
'on' requires Kafka; 'off' never touches Kafka.

Connections (--connection-mode): 'per-device' gives each tracker its own MQTT connection,
client id, credentials and last will (realistic; hundreds of trackers); 'shared' multiplexes
trackers over --connections sockets (10,000 trackers; the last will then belongs to the
gateway connection, and a dead tracker's 'offline' is sent by the simulator). 'auto' picks
per-device up to 500 trackers.

examples:
  tradelane simulate --trackers 20 --scenario theft --seed 7 --speedup 43200 --duration 60
  tradelane simulate --trackers 10000 --connection-mode shared --speedup 900 --duration 30
  tradelane simulate --scenario reefer-failure --manifest out/manifest.json --bookings off
  tradelane simulate --scenario reefer-failure --pledge-to fac-test --insure   # + worker
  tradelane simulate --bench          # 10,000 trackers, prints readings/s and CPU
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "simulate",
        help="run the tracker fleet simulator (MQTT, + bookings)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_fleet(p.add_argument_group("fleet"))
    _add_time(p.add_argument_group("time"))
    _add_devices(p.add_argument_group("devices"))
    _add_faults(p.add_argument_group("faults"))
    io = p.add_argument_group("brokers and output")
    _add_connections(io)
    _add_outputs(io)
    _add_finance(
        p.add_argument_group(
            "finance (needs Kafka; terms as in finance/demo_terms.py, see docs/finance.md)"
        )
    )
    p.add_argument(
        "--bench",
        action="store_true",
        help="benchmark: 10,000 trackers, shared connections, print readings/s "
        "(PUBACKed) and CPU; see also python -m bench.simulator",
    )
    p.set_defaults(handler=_simulate)


Group = argparse._ArgumentGroup
"""One section of ``--help``; each ``_add_…`` fills one."""


def _add_fleet(group: Group) -> None:
    """How many trackers, on which scenario, with which ids."""
    group.add_argument(
        "--trackers",
        type=int,
        default=None,
        metavar="N",
        help="number of trackers (default 20; 10000 with --bench)",
    )
    group.add_argument("--scenario", choices=SCENARIOS, default="nominal")
    group.add_argument("--seed", type=int, default=1, metavar="S")
    group.add_argument(
        "--incident-share",
        type=float,
        default=0.25,
        metavar="F",
        help="share of eligible shipments the scenario's incident hits "
        "(at least one; default 0.25)",
    )
    group.add_argument(
        "--departures",
        choices=("aligned", "spread"),
        default="aligned",
        help="aligned: all shipments leave in the first 12 h; spread: the fleet "
        "is already under way at the start (default aligned)",
    )
    group.add_argument("--max-trackers-per-shipment", type=int, default=2, metavar="K")
    group.add_argument(
        "--prefix",
        default=None,
        help="device/shipment id prefix (default sim{seed}): ids are "
        "{prefix}-t00000 and {prefix}-shp00000",
    )


def _add_time(group: Group) -> None:
    """Simulated time: how fast, from when, until when."""
    group.add_argument(
        "--speedup",
        type=float,
        default=3600.0,
        metavar="X",
        help="simulated seconds per wall second (default 3600; 43200 = a 30-day "
        "voyage in a minute)",
    )
    group.add_argument(
        "--duration",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="wall seconds to run (default 60; 0 = until Ctrl-C)",
    )
    group.add_argument(
        "--start",
        default=None,
        metavar="ISO8601",
        help="simulated start, e.g. 2026-03-01T00:00:00Z (default: see above)",
    )
    group.add_argument(
        "--until", default=None, metavar="ISO8601", help="stop when simulated time reaches this"
    )
    group.add_argument(
        "--no-realtime-cap",
        action="store_true",
        help="let simulated time run past the wall clock (future timestamps)",
    )


def _add_devices(group: Group) -> None:
    """The trackers' reporting and store-and-forward."""
    group.add_argument(
        "--interval",
        type=int,
        default=900,
        metavar="SECONDS",
        help="reporting interval in simulated seconds (default 900)",
    )
    group.add_argument(
        "--alarm-interval",
        type=int,
        default=120,
        metavar="SECONDS",
        help="interval while an alarm is active (default 120)",
    )
    group.add_argument(
        "--coverage-km",
        type=float,
        default=60.0,
        metavar="KM",
        help="mobile coverage reaches this far from ports, places and coastal "
        "lanes; beyond it devices store and forward (default 60)",
    )
    group.add_argument(
        "--buffer-limit",
        type=int,
        default=5000,
        metavar="N",
        help="readings a device can store while out of coverage (default 5000)",
    )


def _add_faults(group: Group) -> None:
    """Faults the devices' deliveries carry."""
    group.add_argument("--duplicate-rate", type=float, default=0.0, metavar="P")
    group.add_argument("--out-of-order-rate", type=float, default=0.0, metavar="P")
    group.add_argument(
        "--malformed-rate",
        type=float,
        default=0.0,
        metavar="P",
        help="extra invalid payloads per reading (for dead-letter tests)",
    )
    group.add_argument(
        "--clock-skew",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="each device's clock is off by up to +/- this",
    )


def _add_connections(group: Group) -> None:
    """The MQTT broker and how the fleet connects to it."""
    group.add_argument(
        "--mqtt-url",
        default=None,
        metavar="URL",
        help="mqtt://host:port (default TRADELANE_MQTT_URL or mqtt://127.0.0.1:1883)",
    )
    group.add_argument("--mqtt311", action="store_true", help="speak MQTT 3.1.1 instead of 5")
    group.add_argument(
        "--connection-mode", choices=("auto", "per-device", "shared"), default="auto"
    )
    group.add_argument(
        "--connections", type=int, default=4, metavar="K", help="sockets in shared mode (default 4)"
    )
    group.add_argument(
        "--window",
        type=int,
        default=500,
        metavar="N",
        help="QoS 1 messages in flight per connection (default 500)",
    )
    group.add_argument(
        "--device-secret",
        default=None,
        metavar="SECRET",
        help="per-device credentials: username = device id, password = "
        "HMAC-SHA256(SECRET, device id)[:32] (per-device mode)",
    )


def _add_outputs(group: Group) -> None:
    """What else is published or written besides the readings."""
    group.add_argument(
        "--write-credentials",
        type=Path,
        default=None,
        metavar="FILE",
        help="write 'device_id:password' lines for --trackers devices (with --device-secret) "
        "and exit; hash them in place with mosquitto_passwd -U FILE",
    )
    group.add_argument(
        "--no-status",
        action="store_true",
        help="publish no retained online/offline status messages",
    )
    group.add_argument(
        "--bookings",
        choices=("auto", "on", "off"),
        default="auto",
        help="publish bookings to Kafka shipments.registry (default auto)",
    )
    group.add_argument(
        "--manifest",
        type=Path,
        default=None,
        metavar="FILE",
        help="write the JSON manifest of what was simulated and sent",
    )
    group.add_argument("--quiet", action="store_true", help="no progress line")
    add_metrics_options(group, "simulator")


def _add_finance(group: Group) -> None:
    """Pledging and insuring the simulated shipments."""
    group.add_argument(
        "--pledge-to",
        default=None,
        metavar="FACILITY_ID",
        help="pledge every simulated shipment to a demo credit line with this id (published "
        "to finance.facilities: USD 50M limit, 60%% advance in transit, half drawn at "
        "departure and half on arrival, cold-chain haircuts); `tradelane worker` then draws, "
        "haircuts and margin-calls it",
    )
    group.add_argument(
        "--insure",
        action="store_true",
        help="insure every simulated shipment under a demo parametric policy "
        "pol-{shipment_id} (tiered temperature, shock and tamper triggers; loss payee the "
        "lender when pledged), published to insurance.policies",
    )


def _parse_time(value: str) -> datetime:
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(f"not an ISO 8601 time: {value!r}") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def _simulate(args: argparse.Namespace) -> int:
    if args.bench:
        from bench.simulator import main as bench_main

        argv = ["--trackers", str(args.trackers or 10000)]
        if args.mqtt_url:
            argv += ["--mqtt-url", args.mqtt_url]
        return bench_main(argv)
    if args.write_credentials:
        return _write_credentials(args)
    return asyncio.run(_run(args))


def _write_credentials(args: argparse.Namespace) -> int:
    from devices.config import FleetConfig
    from tradelane.credentials import device_password

    if not args.device_secret:
        raise UsageError("--write-credentials needs --device-secret")
    config = FleetConfig(
        start=datetime.now(UTC), trackers=args.trackers or 20, seed=args.seed, prefix=args.prefix
    )
    ids = [config.device_id(i) for i in range(config.trackers)]
    lines = [f"{d}:{device_password(args.device_secret, d)}" for d in ids]
    args.write_credentials.write_text("\n".join(lines) + "\n")
    print(
        f"{len(lines)} device credentials written to {args.write_credentials} "
        f"(hash them in place: mosquitto_passwd -U {args.write_credentials})"
    )
    return 0


def _fleet_config(args: argparse.Namespace) -> FleetConfig:
    """The fleet the arguments describe (``--start`` defaults so that the run ends about now)."""
    from devices.config import PER_DEVICE_LIMIT, ConnectionMode, Departures, FleetConfig
    from devices.delivery_faults import FaultKnobs

    trackers = args.trackers or 20
    duration = args.duration if args.duration and args.duration > 0 else None
    now = datetime.now(UTC).replace(microsecond=0)
    if args.start:
        start = _parse_time(args.start)
    else:
        span = (duration or 30 * 86400 / args.speedup) * args.speedup
        start = (now - timedelta(seconds=span)).replace(second=0)
    mode = args.connection_mode
    if mode == "auto":
        mode = "per-device" if trackers <= PER_DEVICE_LIMIT else "shared"
    try:
        return FleetConfig(
            start=start,
            trackers=trackers,
            scenario=args.scenario,
            seed=args.seed,
            speedup=args.speedup,
            duration_s=duration,
            until=_parse_time(args.until) if args.until else None,
            realtime_cap=not args.no_realtime_cap,
            interval_s=args.interval,
            alarm_interval_s=args.alarm_interval,
            departures=Departures(args.departures),
            incident_share=args.incident_share,
            coverage_km=args.coverage_km,
            buffer_limit=args.buffer_limit,
            max_trackers_per_shipment=args.max_trackers_per_shipment,
            prefix=args.prefix,
            connection_mode=ConnectionMode(mode),
            connections=args.connections,
            device_secret=args.device_secret,
            status_messages=not args.no_status,
            window=args.window,
            faults=FaultKnobs(
                duplicate_rate=args.duplicate_rate,
                out_of_order_rate=args.out_of_order_rate,
                malformed_rate=args.malformed_rate,
                clock_skew_s=args.clock_skew,
            ),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


async def _bookings_kafka(args: argparse.Namespace, finance: bool) -> KafkaSettings | None:
    """Where bookings (and finance terms) go: Kafka when it answers, per ``--bookings``."""
    from devices.bookings import reachable
    from tradelane.principals import Principal
    from tradelane.settings import KafkaSettings

    if finance and args.bookings == "off":
        raise UsageError("--pledge-to and --insure publish to Kafka; drop --bookings off")
    if args.pledge_to is not None and not args.pledge_to.strip():
        raise UsageError("--pledge-to needs a facility id, e.g. --pledge-to fac-demo")
    if args.bookings == "off":
        return None
    candidate = KafkaSettings().as_principal(Principal.SIMULATOR)
    if await reachable(candidate):
        return candidate
    if args.bookings == "on" or finance:
        why = "--bookings on" if args.bookings == "on" else "--pledge-to/--insure"
        raise ServiceError(f"no Kafka answers at {candidate.bootstrap_servers} ({why})")
    print(
        f"note: Kafka not reachable at {candidate.bootstrap_servers}; "
        "bookings not published (--bookings auto)",
        file=sys.stderr,
    )
    return None


async def _run(args: argparse.Namespace) -> int:
    from devices.metrics import SimulatorMetrics
    from tradelane.settings import MqttSettings
    from transport.metrics import serving

    config = _fleet_config(args)
    mqtt_settings = MqttSettings(url=args.mqtt_url) if args.mqtt_url else MqttSettings()
    finance = args.pledge_to is not None or args.insure
    kafka = await _bookings_kafka(args, finance)
    print(
        f"Simulating {config.trackers} trackers, scenario {config.scenario}, seed {config.seed}, "
        f"x{config.speedup:g} from {config.start.isoformat().replace('+00:00', 'Z')}, "
        f"{config.connection_mode.value} connections to {mqtt_settings.url}"
        + (f", bookings -> {kafka.bootstrap_servers}" if kafka else ""),
        flush=True,
    )
    metrics = SimulatorMetrics()
    async with serving(metrics.registry, args.metrics_host, metrics_port(args)):
        return await _simulate_fleet(args, config, mqtt_settings, kafka, metrics)


async def _simulate_fleet(
    args: argparse.Namespace,
    config: FleetConfig,
    mqtt_settings: MqttSettings,
    kafka: KafkaSettings | None,
    metrics: SimulatorMetrics,
) -> int:
    from devices.fleet import run_fleet

    finance = args.pledge_to is not None or args.insure
    with stop_on_signals() as stop:
        plan = None
        if finance and kafka is not None:
            from devices.plan import plan_fleet
            from finance.demo_publish import publish_demo_terms

            plan = await asyncio.get_running_loop().run_in_executor(None, plan_fleet, config)
            bookings = [s.booking for s in plan.shipments]
            print(
                await publish_demo_terms(kafka, bookings, args.pledge_to, args.insure), flush=True
            )
        line = _ProgressLine(quiet=args.quiet, speedup=config.speedup)
        try:
            report = await run_fleet(
                config,
                mqtt_settings,
                kafka,
                stop,
                line,
                mqtt5=not args.mqtt311,
                freeze_gc=True,
                plan=plan,
                provision=provision_local_fleet,
                metrics=metrics,
            )
        except (ConnectionError, OSError, TimeoutError) as exc:
            raise ServiceError(f"MQTT broker at {mqtt_settings.url}: {exc}") from exc
    line.close()
    _summary(report)
    if args.manifest:
        report.manifest.write(args.manifest)
        print(f"  manifest: {args.manifest}")
    return 0


class _ProgressLine:
    """Prints one live line (carriage return on a terminal, a line per 5 s otherwise)."""

    def __init__(self, quiet: bool, speedup: float) -> None:
        self.quiet = quiet
        self.tty = sys.stdout.isatty()
        self.speedup = speedup
        self._last_plain = -5.0
        self._width = 0

    def __call__(self, p: FleetProgress) -> None:
        if self.quiet:
            return
        text = (
            f"[{p.elapsed_s:6.1f}s] sim {p.sim_time:%Y-%m-%d %H:%MZ}  "
            f"{p.readings_per_s:8,.0f} readings/s  sent {p.readings_sent:,}  "
            f"online {p.online:,}/{p.trackers:,}  buffered {p.buffered:,}  "
            f"backlog {p.backlog:,}" + (f"  lag {p.lag_s / 3600:.1f}h" if p.lag_s > 60 else "")
        )
        if self.tty:
            pad = max(0, self._width - len(text))
            self._width = len(text)
            print("\r" + text + " " * pad, end="", flush=True)
        elif p.elapsed_s - self._last_plain >= 5.0:
            self._last_plain = p.elapsed_s
            print(text, flush=True)

    def close(self) -> None:
        if self.tty and not self.quiet and self._width:
            print()


def _summary(report: FleetReport) -> None:
    m = report.manifest
    t = m.totals
    cpu_pct = 100.0 * report.cpu_s / report.wall_s if report.wall_s > 0 else 0.0
    reordered = sum(d.reordered for d in m.devices)
    print(
        f"Done: {t.shipments:,} shipments, {t.trackers:,} trackers, scenario "
        f"{m.run['scenario']}, seed {m.run['seed']}"
    )
    print(
        f"  simulated {m.run['sim_start']} -> {m.run['sim_end']} in "
        f"{report.wall_s:.1f} s wall; CPU {report.cpu_s:.1f} s ({cpu_pct:.0f}% of one core)"
    )
    print(
        f"  readings: {t.readings_generated:,} generated, {t.readings_sent:,} sent "
        f"(PUBACKed, {report.readings_per_s:,.0f}/s), {t.readings_buffered_at_end:,} still "
        f"buffered in devices, {t.readings_unacked:,} unacked, "
        f"{t.readings_lost_on_death + t.readings_dropped_buffer_full:,} lost"
    )
    print(
        f"  faults: {t.duplicates_sent:,} duplicates, {t.malformed_sent:,} malformed, "
        f"{reordered:,} reordered; {t.refused:,} refused by the broker"
    )
    print(
        f"  trackers: {t.trackers_retired:,} retired after delivery, {t.trackers_died:,} died; "
        f"{report.bookings_sent:,} bookings and {report.booking_updates_sent:,} customs "
        f"updates published to shipments.registry"
    )
    incidents = [i for s in m.shipments for i in s.incidents]
    for i in incidents[:10]:
        where = f" at {i.place}" if i.place else ""
        who = f" ({i.device_id})" if i.device_id else ""
        print(f"  incident: {i.kind} {i.shipment_id}{who}{where} {i.at}")
    if len(incidents) > 10:
        print(f"  ... and {len(incidents) - 10} more incidents (see the manifest)")
