"""``tradelane bridge``: the MQTT → Kafka bridge (see ingest/bridge.py)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import timedelta
from typing import TYPE_CHECKING

from cli.metrics_args import add_metrics_options, metrics_port

if TYPE_CHECKING:  # the kernel imports ingest only lazily, inside the command
    from ingest.bridge import BridgeConfig

HELP = """\
Subscribe to tracker messages over MQTT and append them to Kafka: valid readings to
tracker.readings (keyed by device id), everything else to tracker.deadletter with a reason.

An MQTT message is acknowledged to the broker only after Kafka acknowledged its record, over a
persistent session, so a crash loses nothing (duplicates are possible; they are marked by
(device_id, seq)). Run several bridges with different --client-id and the same --group to
share the load (MQTT 5 shared subscription). A Kafka outage (a broker restarting, leaders
moving) is ridden out for --send-timeout seconds; exit status 3 means Kafka refused a record or
stayed away longer: restart the bridge (compose does) and the broker redelivers whatever was
not acknowledged.

Formats (--adapters): tradelane (tradelane/v1/trackers/+/readings), owntracks (owntracks/+/+),
ttn (The Things Stack v3: v3/+/devices/+/up). Default: all.
Metrics (Prometheus): http://127.0.0.1:9108/metrics (docs/operations.md lists the series).
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "bridge",
        help="MQTT -> Kafka bridge with no-loss acks and dead letters",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--client-id",
        default="tradelane-bridge-1",
        help="MQTT client id; also names the persistent session (default %(default)s)",
    )
    p.add_argument(
        "--group",
        default="tradelane-bridges",
        help="shared-subscription group (default %(default)s)",
    )
    p.add_argument(
        "--no-share", action="store_true", help="plain subscriptions instead of a shared one"
    )
    p.add_argument(
        "--mqtt3",
        action="store_true",
        help="speak MQTT 3.1.1 (brokers without MQTT 5; implies --no-share)",
    )
    p.add_argument(
        "--adapters",
        default="",
        metavar="NAMES",
        help="comma-separated: tradelane,owntracks,ttn (default: all)",
    )
    add_metrics_options(p, "bridge")
    p.add_argument("--max-payload-bytes", type=int, default=64 * 1024)
    p.add_argument(
        "--max-future-skew-s",
        type=float,
        default=600.0,
        help="refuse readings stamped further in the future (default 600)",
    )
    p.add_argument(
        "--session-expiry-s",
        type=int,
        default=7 * 24 * 3600,
        help="how long the broker keeps this bridge's session while it is away (default 7 days)",
    )
    p.add_argument(
        "--send-timeout",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="how long a record may wait for Kafka before the bridge stops with exit status 3, "
        "leaving it unacknowledged with the MQTT broker (default %(default)s)",
    )
    p.add_argument(
        "--stats-interval",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="print a stats line this often (0: never)",
    )
    p.add_argument(
        "--replay-clock",
        action="store_true",
        help="take a message's receive time from its 'tradelane-received-at' MQTT 5 user "
        "property (replays of a simulated stream; a loopback broker only: with it a publisher "
        "chooses its own receive time)",
    )
    p.set_defaults(handler=_bridge)


def _bridge(args: argparse.Namespace) -> int:
    from cli.tracing import configure
    from ingest.bridge import BridgeConfig
    from ingest.intake import IntakeLimits
    from tradelane.errors import UsageError
    from tradelane.settings import MqttSettings, is_loopback_only

    if args.max_payload_bytes < 1 or args.max_future_skew_s < 0:
        raise UsageError("--max-payload-bytes must be >= 1 and --max-future-skew-s >= 0")
    if args.send_timeout < 1:
        raise UsageError("--send-timeout must be >= 1 second")
    if args.replay_clock and not is_loopback_only(MqttSettings().host):
        raise UsageError("--replay-clock is for replays on this machine: a loopback broker only")
    config = BridgeConfig(
        client_id=args.client_id,
        share_group=None if (args.no_share or args.mqtt3) else args.group,
        mqtt5=not args.mqtt3,
        adapters=tuple(a for a in args.adapters.split(",") if a),
        limits=IntakeLimits(
            max_payload_bytes=args.max_payload_bytes,
            max_future_skew=timedelta(seconds=args.max_future_skew_s),
        ),
        metrics_host=args.metrics_host,
        metrics_port=metrics_port(args),
        session_expiry_s=args.session_expiry_s,
        replay_clock=args.replay_clock,
        send_timeout_s=args.send_timeout,
    )
    configure("bridge")  # OTEL_* settings (docs/operations.md, "Tracing")
    try:
        return asyncio.run(_run(config, args.stats_interval))
    except ValueError as exc:  # unknown adapter names
        raise UsageError(str(exc)) from exc


async def _run(config: BridgeConfig, stats_interval: float) -> int:
    from cli.running import run_until_signalled
    from ingest.bridge import Bridge, BridgeFailedError
    from tradelane.principals import MQTT_BRIDGE as BRIDGE
    from tradelane.principals import Principal
    from tradelane.settings import KafkaSettings, MqttSettings

    mqtt_settings = MqttSettings().as_principal(BRIDGE)
    kafka_settings = KafkaSettings().as_principal(Principal.BRIDGE)
    bridge = Bridge(mqtt_settings, kafka_settings, config)

    def announce() -> str:
        metrics = (
            f", metrics http://{config.metrics_host}:{bridge.metrics_port}/metrics"
            if bridge.metrics_port
            else ""
        )
        return (
            f"bridge {config.client_id}: {mqtt_settings.url} -> "
            f"{kafka_settings.bootstrap_servers}{metrics}"
        )

    last = 0

    def stats_line(interval: float) -> str:
        nonlocal last
        m = bridge.metrics
        rate, last = (m.received - last) / interval, m.received
        return (
            f"  {rate:,.0f} msg/s  received {m.received:,}  forwarded {m.forwarded:,}  "
            f"dead-lettered {m.deadlettered:,}  in-flight {m.inflight}  "
            f"p99 send {m.send_latency_quantile(0.99) * 1000:.0f} ms"
        )

    try:
        await run_until_signalled(
            bridge.run, bridge.subscribed, announce, stats_line, stats_interval
        )
    except BridgeFailedError as exc:
        print(
            f"tradelane bridge: {exc}; unacknowledged messages stay with the MQTT broker",
            file=sys.stderr,
        )
        return 3
    m = bridge.metrics
    print(
        f"bridge stopped: received {m.received}, forwarded {m.forwarded}, "
        f"dead-lettered {m.deadlettered}, duplicates {m.duplicates}"
    )
    return 0
