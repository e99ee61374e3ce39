"""``tradelane topics create|list``: the Kafka topics the system uses."""

from __future__ import annotations

import argparse
import asyncio

from tradelane.settings import KafkaSettings
from tradelane.topics import KAFKA_TOPICS
from transport.admin import ensure_topics


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "topics",
        help="create or list the Kafka topics",
        description="The Kafka topics declared in tradelane/topics.py.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser(
        "create",
        help="create missing topics (idempotent) at TRADELANE_KAFKA_BOOTSTRAP_SERVERS",
        description="Create every declared topic that does not exist yet; existing topics are "
        "left alone, and one with fewer partitions than declared is reported (exit 1).",
    )
    create.add_argument(
        "--no-configs",
        action="store_true",
        help="omit topic configs (for brokers that reject them)",
    )
    create.set_defaults(handler=_create)
    listing = actions.add_parser("list", help="print the declared topics and their layout")
    listing.set_defaults(handler=_list)


def _create(args: argparse.Namespace) -> int:
    settings = KafkaSettings()
    outcomes = asyncio.run(ensure_topics(settings, with_configs=not args.no_configs))
    for o in outcomes:
        print(f"{o.name:<22} {o.action:<9} {o.detail}")
    return 1 if any(o.action == "mismatch" for o in outcomes) else 0


def _list(_args: argparse.Namespace) -> int:
    print(f"{'topic':<22} {'partitions':>10}  {'cleanup':<8} {'key':<24} value contract")
    for t in KAFKA_TOPICS:
        print(
            f"{t.name:<22} {t.partitions:>10}  {t.cleanup_policy:<8} {t.key:<24} "
            f"{t.value_model.__name__}"
        )
    return 0
