"""``tradelane webhooks``: deliver finance, claim and shipment events to subscribers' URLs
(see webhooks/worker.py and docs/webhooks.md)."""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime
from typing import TYPE_CHECKING

from cli.metrics_args import add_metrics_options, metrics_port

if TYPE_CHECKING:  # the kernel imports api only lazily, inside the command
    from tradelane.settings import KafkaSettings
    from webhooks.sealing import SecretBox
    from webhooks.worker import Replay

HELP = """\
Deliver finance.events, insurance.claims and shipments.events to the webhook subscriptions in
webhooks.subscriptions (managed through the API: /api/v1/webhooks), as CloudEvents 1.0 JSON
signed per Standard Webhooks. Runs in its own consumer group, so receivers never slow the
pipeline. At-least-once: retries with exponential backoff and jitter (TRADELANE_WEBHOOKS_*),
in order per subject; after the retry limit the subscription is disabled and an ALERT line is
logged. Every attempt goes to the delivery log, webhooks.deliveries.

--replay SUBSCRIPTION_ID redelivers one subscription's events from --since (a time) or
--from-offset TOPIC:PARTITION:OFFSET (repeatable) up to the current end, then exits; receivers
see the same webhook-id as the first time and can de-duplicate.

Destinations must be public addresses over https (checked when subscribing and at every
delivery); TRADELANE_WEBHOOKS_ALLOW_HOSTS opens others for development. Subscription secrets are
encrypted at rest with TRADELANE_WEBHOOKS_SECRET_KEYS (comma-separated Fernet keys, the first
encrypts); without it a local setup uses a key generated under .tradelane/secrets/, and a
process whose Kafka is not local refuses to start.

--generate-key prints a new key. To rotate: put the new key first and keep the old one after
it (NEW,OLD) for the API and the worker, run --reencrypt (rewrites every subscription under the
new key), then drop the old key.

Metrics (Prometheus): http://127.0.0.1:9111/metrics (docs/operations.md lists the series).
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "webhooks",
        help="deliver events to webhook subscribers (signed CloudEvents), or replay them",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--group", help="consumer group (default TRADELANE_WEBHOOKS_GROUP_ID)")
    p.add_argument("--replay", metavar="SUBSCRIPTION_ID", help="replay one subscription")
    p.add_argument(
        "--since",
        type=datetime.fromisoformat,
        metavar="TIME",
        help="replay from this ISO 8601 time (with a zone, e.g. 2026-03-01T00:00:00Z)",
    )
    p.add_argument(
        "--from-offset",
        action="append",
        default=[],
        metavar="TOPIC:PARTITION:OFFSET",
        help="replay this partition from this offset (repeatable)",
    )
    p.add_argument(
        "--stats-interval",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="print a stats line this often (0: never)",
    )
    p.add_argument(
        "--generate-key",
        action="store_true",
        help="print a new key for TRADELANE_WEBHOOKS_SECRET_KEYS and exit",
    )
    p.add_argument(
        "--reencrypt",
        action="store_true",
        help="rewrite every stored subscription sealed under the first key, then exit",
    )
    add_metrics_options(p, "webhooks")
    p.set_defaults(handler=_webhooks)


def parse_offset(text: str) -> tuple[tuple[str, int], int]:
    """``finance.events:3:120`` → ((``finance.events``, 3), 120)."""
    from tradelane.errors import UsageError
    from webhooks.audience import DELIVERED_TOPICS

    topic, _, rest = text.rpartition(":")
    topic, _, partition = topic.rpartition(":")
    if topic not in DELIVERED_TOPICS or not partition.isdigit() or not rest.isdigit():
        raise UsageError(
            f"--from-offset wants TOPIC:PARTITION:OFFSET with TOPIC one of "
            f"{', '.join(DELIVERED_TOPICS)}; got {text!r}"
        )
    return (topic, int(partition)), int(rest)


def _replay(args: argparse.Namespace) -> Replay | None:
    from tradelane.errors import UsageError
    from webhooks.worker import Replay

    if args.replay is None:
        if args.since is not None or args.from_offset:
            raise UsageError("--since and --from-offset need --replay SUBSCRIPTION_ID")
        return None
    if (args.since is None) == (not args.from_offset):
        raise UsageError("--replay needs exactly one of --since or --from-offset")
    if args.since is not None and args.since.tzinfo is None:
        raise UsageError("--since needs a zone, e.g. 2026-03-01T00:00:00Z")
    offsets = dict(parse_offset(o) for o in args.from_offset) or None
    return Replay(args.replay, since=args.since, offsets=offsets)


def _webhooks(args: argparse.Namespace) -> int:
    from tradelane.errors import UsageError

    if args.generate_key or args.reencrypt:
        if args.generate_key and args.reencrypt:
            raise UsageError("--generate-key and --reencrypt are separate steps")
        if args.replay is not None or args.since is not None or args.from_offset:
            raise UsageError("--generate-key and --reencrypt take no replay options")
    if args.generate_key:
        from webhooks.sealing import new_key

        print(new_key())
        return 0
    if args.reencrypt:
        return asyncio.run(_reencrypt())
    replay = _replay(args)
    from cli.tracing import configure

    configure("webhooks")  # OTEL_* settings (docs/operations.md, "Tracing")
    metrics_at = (args.metrics_host, metrics_port(args))
    return asyncio.run(_run(args.group, replay, args.stats_interval, metrics_at))


def _box(kafka: KafkaSettings) -> SecretBox:
    """The secret box, or a :class:`ServiceError` saying why there is none (a production
    process without a configured key)."""
    from tradelane.errors import ServiceError
    from webhooks.sealing import MissingKeyError, box_from_settings
    from webhooks.settings import WebhookSettings

    try:
        return box_from_settings(WebhookSettings(), kafka)
    except (MissingKeyError, ValueError) as exc:
        raise ServiceError(str(exc)) from exc


async def _reencrypt() -> int:
    from tradelane.settings import KafkaSettings
    from webhooks.store import KafkaSubscriptionStore

    kafka = KafkaSettings()
    store = KafkaSubscriptionStore(kafka, box=_box(kafka))
    try:
        await store.load()
        rewritten = await store.reencrypt()
    finally:
        await store.close()
    print(
        f"webhooks re-encrypted: {rewritten} of {len(store.book.subscriptions)} subscriptions "
        f"rewritten under the first key, {store.book.unreadable} records unreadable"
    )
    return 0 if store.book.unreadable == 0 else 1


async def _run(
    group: str | None,
    replay: Replay | None,
    stats_interval: float,
    metrics_at: tuple[str, int | None] = ("127.0.0.1", None),
) -> int:
    from cli.running import run_until_signalled
    from tradelane.principals import Principal, topics_of
    from tradelane.settings import KafkaSettings
    from transport.admin import ensure_topics
    from transport.metrics import serving
    from webhooks.settings import WebhookSettings
    from webhooks.worker import WebhookWorker

    kafka = KafkaSettings().as_principal(Principal.WEBHOOKS)
    box = _box(kafka)  # before connecting: without a key a production worker stops here
    # its own topics (subscriptions, deliveries) have no other creator on a fresh cluster
    await ensure_topics(kafka, topics_of(Principal.WEBHOOKS))
    settings = WebhookSettings()
    if group is not None:
        settings = settings.model_copy(update={"group_id": group})
    worker = WebhookWorker(kafka, settings, replay=replay, box=box)

    def announce() -> str:
        what = (
            f"replaying {replay.subscription_id}"
            if replay
            else f"group {settings.group_id}, new groups start at the {settings.start} offsets"
        )
        return (
            f"webhooks: {kafka.bootstrap_servers}, {len(worker.book.subscriptions)} "
            f"subscriptions, {what}"
        )

    def stats_line(_interval: float) -> str:
        s = worker.stats
        return (
            f"  events {s.events_read:,}  delivered {s.delivered:,}  failed attempts "
            f"{s.failed_attempts:,}  gave up {s.gave_up}  pending {len(worker.lanes)}  "
            f"refused {s.refused:,}  shed {s.shed:,}"
        )

    async with serving(worker.metrics.registry, *metrics_at):
        await run_until_signalled(worker.run, worker.ready, announce, stats_line, stats_interval)
    s = worker.stats
    print(
        f"webhooks stopped: {s.delivered} delivered, {s.failed_attempts} failed attempts, "
        f"{s.gave_up} given up, {s.skipped} skipped, {s.unreadable} unreadable records, "
        f"{s.refused} attempts refused by the destination policy, {s.shed} deliveries shed "
        "at a tenant's pending cap"
    )
    return 0
