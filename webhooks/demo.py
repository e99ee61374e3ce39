"""The demo's webhook receiver: a subscription for the demo bank, a local HTTP endpoint that
verifies every delivery's signature, and the delivery worker, all in the demo's process.

It shows a bank's side of the integration: ``tradelane demo --webhooks`` prints each signed
delivery as it arrives. The receiver binds 127.0.0.1 only, which the demo's worker allow-lists
(the destination policy refuses loopback otherwise), and the subscription is deleted when the
demo stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets as _random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web

from tradelane.contracts.webhooks import SubscriberRole
from tradelane.settings import KafkaSettings
from webhooks.lifecycle import created
from webhooks.settings import WebhookSettings
from webhooks.signing import SignatureError, new_secret, verify
from webhooks.store import KafkaSubscriptionStore
from webhooks.worker import WebhookWorker


@dataclass
class DemoReceiver:
    """Verifies, de-duplicates and reports deliveries to ``/hooks``."""

    secret: str
    report: Callable[[str], None]
    seen: set[str] = field(default_factory=set)
    verified: int = 0
    refused: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            msg_id = verify([self.secret], dict(request.headers), body, now=time.time())
        except SignatureError as exc:
            self.refused += 1
            self.report(f"Webhook refused: {exc}")
            return web.Response(status=401)
        if msg_id in self.seen:
            return web.Response(status=204)
        self.seen.add(msg_id)
        self.verified += 1
        event = json.loads(body)
        kind = "camt.054 XML" if event.get("datacontenttype") == "application/xml" else "JSON"
        self.report(
            f"Webhook {event['type']} {event['subject']} ({kind}) signature verified, "
            f"webhook-id {msg_id}"
        )
        return web.Response(status=204)


async def run_demo_webhooks(
    kafka: KafkaSettings,
    bank_id: str,
    stop: asyncio.Event,
    report: Callable[[str], None],
) -> None:
    """Register a subscription for ``bank_id``, receive and verify its deliveries until
    ``stop``, then delete the subscription."""
    secret = new_secret()
    receiver = DemoReceiver(secret, report)
    app = web.Application()
    app.router.add_post("/hooks", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    store = KafkaSubscriptionStore(kafka)
    sub = created(
        "wh_demo" + _random.token_hex(6),
        SubscriberRole.BANK,
        bank_id,
        secret,
        datetime.now(UTC),
        url=f"http://127.0.0.1:{port}/hooks",
        event_types=[
            "tradelane.finance.drawdown_executed.v1",
            "tradelane.finance.repayment_applied.v1",
            "tradelane.finance.margin_call_issued.v1",
            "tradelane.finance.margin_call_cured.v1",
            "tradelane.finance.margin_call_expired.v1",
        ],
        camt054=True,
        description="tradelane demo receiver",
    )
    base = WebhookSettings()
    worker = WebhookWorker(
        kafka,
        base.model_copy(
            update={
                "group_id": f"tradelane-demo-webhooks-{sub.subscription_id}",
                # the demo's own receiver is on loopback, which the policy refuses by default
                "allow_hosts": ",".join(filter(None, (base.allow_hosts, "127.0.0.1"))),
            }
        ),
        box=store.box,
    )
    try:
        await store.save(sub)
        task = asyncio.create_task(worker.run(stop))
        ready = asyncio.create_task(worker.ready.wait())
        await asyncio.wait({task, ready}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if worker.ready.is_set():
            report(
                f"Webhooks: {bank_id}'s drawdowns, repayments and margin calls -> "
                f"http://127.0.0.1:{port}/hooks "
                f"(subscription {sub.subscription_id}, signed, camt.054 notices on)"
            )
        await task
    finally:
        with contextlib.suppress(Exception):
            await store.remove(sub.subscription_id)
        await store.close()
        await runner.cleanup()
