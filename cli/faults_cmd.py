"""``tradelane faults``: the fault-injection suite on the running services (faults/)."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from faults.profiles import Profile
    from faults.run import Result

HELP = """\
Run the whole pipeline on the real services (start them with 'tradelane services up') while
injecting faults at seeded moments, then check every delivery promise of docs/reliability.md:

  fleets    one simulated fleet per scenario (nominal, reefer-failure, rough-handling, theft),
            one tracker per shipment, every shipment pledged to a credit line of its own and
            insured; about 10 % of the MQTT traffic is malformed payloads
  faults    SIGKILL the bridge (restarted on the same MQTT session), SIGKILL the worker
            (a new one joins the group), scale the worker group 1 -> 2 -> 1, restart the
            Kafka broker (when 'tradelane services' runs it), and after the run rewind the
            worker's consumer group to the run's first offsets and reprocess
  checks    no acknowledged reading missing from tracker.readings; every malformed payload
            dead-lettered; drawdowns and claim events equal to an oracle that runs the pure
            engines offline over the same readings (none missing, unknown or doubled);
            shipment events equal to the offline core's, ids and content (a customs
            clearance by id only); every facility ledger verifies; the pipeline resumed by
            itself after the broker restart; the reset and reprocess changed no ledger entry
            and no claim; no process crashed

On a Kafka cluster (--kafka-brokers 3) the run starts three Kafka nodes of its own on free
loopback ports (data under --logs, removed afterwards; the shared services are not touched) and
a 'broker_kill' fault SIGKILLs one node at a time, started again seconds later; a broker
restart there stops and starts one node. Profiles 'cluster' (the test suite's: 12 trackers,
about 24 s of publishing, one node SIGKILLed; 2-3 minutes) and 'cluster-full' (64
trackers, 4 node kills, 1 node restart, 3 bridge and 3 worker kills, 2 scale cycles, a group
reset; about 10-15 minutes) need it.

Profiles: 'short' (the test suite's: 16 trackers, about 45 s of publishing, 2 bridge kills,
2 worker kills, 1 scale cycle, 1 broker restart; 1.5-7 minutes on 2 cores) and 'full'
(64 trackers, about 40,000 readings over 3.5 minutes, 10 bridge kills, 10 worker kills,
5 scale cycles, 1 broker restart; about 10-15 minutes). The same --seed gives the same fleets
and the same fault schedule. Every run uses ids of its own, so it can share a broker.

Exit status: 0 every check held, 1 a check failed, 2 bad input or services not reachable.
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "faults",
        help="fault-injection suite: kills, scaling, broker restart, group reset, bad input",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--profile",
        choices=("short", "full", "cluster", "cluster-full"),
        default="short",
        help="default %(default)s",
    )
    p.add_argument(
        "--kafka-brokers",
        type=int,
        default=1,
        metavar="N",
        help="1: the Kafka of 'tradelane services' (default); 2-9: a cluster of the run's own",
    )
    p.add_argument("--broker-kills", type=int, metavar="N", help="override the profile's count")
    p.add_argument("--seed", type=int, default=1, help="fleets and fault schedule (default 1)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the report as JSON")
    p.add_argument(
        "--logs",
        type=Path,
        default=Path(".tradelane/faults"),
        metavar="DIR",
        help="where the bridge's and workers' logs go (default %(default)s)",
    )
    p.add_argument("--bridge-kills", type=int, metavar="N", help="override the profile's count")
    p.add_argument("--worker-kills", type=int, metavar="N", help="override the profile's count")
    p.add_argument("--scale-cycles", type=int, metavar="N", help="override the profile's count")
    p.add_argument(
        "--broker-restarts", type=int, metavar="N", help="override the profile's count (0 or 1)"
    )
    p.add_argument(
        "--rival-groups",
        type=int,
        metavar="N",
        help="override the profile's count of workers of another app id started mid-run",
    )
    p.add_argument("--no-reset", action="store_true", help="skip the group reset and reprocess")
    p.add_argument(
        "--mosquitto-crash",
        type=int,
        metavar="TRIALS",
        help="instead of the pipeline run: measure Mosquitto's crash loss window (SIGKILL of "
        "the broker 'tradelane services' runs, after 2-9 s of QoS 1 traffic to a saved "
        "persistent session; counts what was acknowledged and never delivered)",
    )
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from faults.checks import render, to_json
    from faults.profiles import profile
    from tradelane.errors import UsageError

    if args.mosquitto_crash is not None:
        return _mosquitto_crash(args)
    counts = (
        args.bridge_kills,
        args.worker_kills,
        args.scale_cycles,
        args.broker_restarts,
        args.rival_groups,
        args.broker_kills,
    )
    if any(n is not None and n < 0 for n in counts):
        raise UsageError("fault counts cannot be negative")
    if not 1 <= args.kafka_brokers <= 9:
        raise UsageError("--kafka-brokers takes 1 to 9")
    chosen = profile(
        args.profile,
        bridge_kills=args.bridge_kills,
        worker_kills=args.worker_kills,
        scale_cycles=args.scale_cycles,
        broker_restarts=args.broker_restarts,
        rival_groups=args.rival_groups,
        broker_kills=args.broker_kills,
        group_reset=False if args.no_reset else None,
    )
    if chosen.broker_kills and args.kafka_brokers < 3:
        raise UsageError(
            "broker kills need --kafka-brokers 3 (a node down must leave two in-sync replicas)"
        )
    if not args.verbose:  # a restarting broker makes every client log each reconnect attempt
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    result = _run_on_kafka(args, chosen)
    print()
    print(render(result.injections, result.checks, result.figures), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(to_json(result.injections, result.checks, result.figures) + "\n")
        print(f"JSON: {args.json}")
    return 0 if result.ok else 1


def _run_on_kafka(args: argparse.Namespace, chosen: Profile) -> Result:
    """The run on the services' Kafka, or on a cluster of its own (stopped afterwards)."""
    from faults.cluster import private_cluster
    from faults.run import run

    logs = args.logs.resolve()
    if args.kafka_brokers == 1:
        return asyncio.run(run(chosen, args.seed, logs))
    with private_cluster(logs / "kafka-cluster", args.kafka_brokers) as cluster:
        return asyncio.run(run(chosen, args.seed, logs, cluster=cluster))


def _mosquitto_crash(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from faults.checks import table
    from faults.mqtt_crash import measure
    from tradelane.errors import UsageError

    if args.mosquitto_crash < 1:
        raise UsageError("--mosquitto-crash needs at least 1 trial")
    print(f"Mosquitto crash window: {args.mosquitto_crash} trial(s), seed {args.seed}")
    trials = measure(args.mosquitto_crash, args.seed)
    rows = [
        (
            f"{t.published_s:.1f} s",
            f"{t.acknowledged:,}",
            f"{t.lost:,}",
            "-" if t.oldest_lost_age_s is None else f"{t.oldest_lost_age_s:.2f} s",
        )
        for t in trials
    ]
    print(table(rows, ("published for", "acknowledged", "lost", "oldest lost, age at crash")))
    ages = [t.oldest_lost_age_s for t in trials if t.oldest_lost_age_s is not None]
    print(f"loss window: up to {max(ages):.2f} s" if ages else "loss window: nothing lost")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([asdict(t) for t in trials], indent=1) + "\n")
    return 0
