"""The seller's day, end to end on the real services: a booking and a facility that asks its
borrower to confirm tranches; a day tick three days before departure brings a reminder; the
departure makes the tranche wait; the borrower confirms with one click on the real API (twice:
a double tap); the real worker lends once; a sale repays. The borrower's webhook receiver
verifies the signature of every delivery, and the seller's, the bank's and the operator's
views of the facility state the balance the verified ledger folds to."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from aiohttp import web
from standardwebhooks import Webhook, WebhookVerificationError

from finance.ledger import verify
from finance.ledger_store import LedgerStore
from finance.positions import fold
from tests.integration.api_helpers import RunningApi, running_api, wait_until
from tests.integration.helpers import stop_process, wait_for_output
from tests.integration.test_worker import start_worker, voyage
from tests.samples import booking
from tradelane.contracts import CollateralStatus, Facility, FinanceCommand, Money
from tradelane.contracts.finance import DayTick, SaleReported, finance_command_type
from tradelane.contracts.seller import ConfirmationTerms
from tradelane.contracts.webhooks import SubscriberRole
from tradelane.settings import KafkaSettings
from tradelane.topics import (
    FINANCE_COMMANDS,
    FINANCE_FACILITIES,
    SHIPMENTS_REGISTRY,
    TRACKER_READINGS,
)
from transport import kafka as clients
from webhooks.lifecycle import created
from webhooks.settings import WebhookSettings
from webhooks.signing import new_secret
from webhooks.store import KafkaSubscriptionStore
from webhooks.worker import WebhookWorker

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(420)]
DEP = "departed_origin"


@dataclass
class SellerReceiver:
    """The borrower's webhook endpoint: verifies every delivery, keeps each event once."""

    secret: str
    events: list[dict[str, Any]] = field(default_factory=list)
    rejected: int = 0
    ids: set[str] = field(default_factory=set)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            Webhook(self.secret).verify(body, dict(request.headers), json_parse=False)
        except WebhookVerificationError:
            self.rejected += 1
            return web.Response(status=401)
        event = json.loads(body)
        if event["id"] not in self.ids:
            self.ids.add(event["id"])
            self.events.append(event)
        return web.Response(status=204)

    def kinds(self) -> list[str]:
        return [e["data"]["kind"] for e in self.events]


@contextlib.asynccontextmanager
async def serving(receiver: SellerReceiver) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/seller", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/seller"
    finally:
        await runner.cleanup()


async def until(condition: Callable[[], bool], what: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


def _facility(facility_id: str, bank: str, seller: str, shipment_id: str) -> Facility:
    return Facility(
        facility_id=facility_id,
        bank_id=bank,
        borrower_id=seller,
        limit=Money(amount=Decimal(1_000_000), currency="USD"),
        advance_rates={CollateralStatus.IN_TRANSIT: Decimal("0.6")},
        concentration_limit=Decimal(1),
        drawdown_schedule={DEP: Decimal(1)},
        pledged_shipments=[shipment_id],
        interest_rate=Decimal("0.08"),
        confirmation=ConfirmationTerms(window_hours=48),
        reminder_days=3,
    )


def _command(data: DayTick | SaleReported, facility_id: str, n: int) -> bytes:
    envelope = FinanceCommand(
        id=f"cmd-{facility_id}-{n}",
        source="/tests/seller",
        type=finance_command_type(data.kind),
        subject=facility_id,
        time=data.at,
        data=data,
    )
    return envelope.model_dump_json().encode()


def _tranche(api: RunningApi, key: str, facility_id: str, shipment_id: str) -> dict[str, Any]:
    found = api.get(f"/api/v1/facilities/{facility_id}/tranches", key)
    if found.status_code != 200:
        return {}
    items = [
        t for t in found.json()["items"] if (t["shipment_id"], t["milestone"]) == (shipment_id, DEP)
    ]
    return items[0] if items else {}


async def test_a_seller_is_reminded_confirms_with_one_click_and_every_view_agrees(
    kafka_settings: KafkaSettings, unique: str, tmp_path: Path
) -> None:
    shipment, device, fid = f"shp-s{unique}", f"trk-s{unique}", f"fac-s{unique}"
    seller, app_id = f"seller-{unique}", f"tradelane-streams-seller-{unique}"
    receiver = SellerReceiver(new_secret())
    store = KafkaSubscriptionStore(kafka_settings)
    producer = clients.producer(kafka_settings, acks="all")
    await producer.start()
    log = tmp_path / "worker.log"
    worker = start_worker(app_id, log)
    stop = asyncio.Event()
    hooks: asyncio.Task[None] | None = None
    try:
        with running_api(tmp_path, unique, extra_keys={"seller": ("borrower", seller)}) as api:
            bank, key = api.parties["bank_a"], api.keys["seller"]
            async with serving(receiver) as url:
                sub = created(
                    f"wh_s{unique}",
                    SubscriberRole.BORROWER,
                    seller,
                    receiver.secret,
                    datetime.now(UTC),
                    url=url,
                    event_types=["tradelane.finance.*"],
                )
                await store.save(sub)
                settings = WebhookSettings(
                    group_id=f"test-seller-hooks-{unique}",
                    retry_base_s=0.05,
                    retry_cap_s=0.5,
                    allow_hosts="127.0.0.1",
                )
                webhooks = WebhookWorker(kafka_settings, settings)
                hooks = asyncio.create_task(webhooks.run(stop))
                wait_for_output(log, f"worker {app_id}:", worker)
                await until(webhooks.ready.is_set, "the webhook worker")

                async def send(topic: str, key_: str, value: bytes) -> None:
                    await producer.send_and_wait(topic, value, key=key_.encode())

                await send(
                    SHIPMENTS_REGISTRY.name,
                    shipment,
                    booking(shipment, [device]).model_dump_json().encode(),
                )
                terms = _facility(fid, bank, seller, shipment)
                await send(FINANCE_FACILITIES.name, fid, terms.model_dump_json().encode())
                # 18 November: departure is planned for the 20th, within 3 days
                tick = DayTick(facility_id=fid, at=datetime(2026, 11, 18, 6, tzinfo=UTC))
                await send(FINANCE_COMMANDS.name, fid, _command(tick, fid, 1))
                await until(lambda: "funding_reminder" in receiver.kinds(), "the reminder")
                reminder = receiver.events[receiver.kinds().index("funding_reminder")]["data"]
                assert (reminder["milestone"], reminder["needs_confirmation"]) == (DEP, True)
                assert reminder["expected_on"] == "2026-11-20"

                for item in voyage(device)[:3]:  # at the origin, then away: departed
                    await send(TRACKER_READINGS.name, device, item.model_dump_json().encode())
                await until(
                    lambda: "tranche_awaiting_confirmation" in receiver.kinds(),
                    "the tranche to wait",
                )
                awaiting = wait_until(
                    lambda: _tranche(api, key, fid, shipment).get("state") == "awaiting",
                    60,
                    "the API to show the tranche waiting",
                )
                assert awaiting
                path = f"{api.url}/api/v1/facilities/{fid}/tranches/{shipment}/{DEP}/decision"
                clicks = [
                    httpx.post(
                        path, json={"choice": "confirm"}, headers={"X-API-Key": key}, timeout=30
                    )
                    for _ in range(2)  # a double tap
                ]
                assert [c.status_code for c in clicks] == [202, 202], clicks[0].text
                assert clicks[0].json()["request_id"] == clicks[1].json()["request_id"]
                await until(lambda: "drawdown_executed" in receiver.kinds(), "the drawdown")

                sale = SaleReported(
                    facility_id=fid,
                    shipment_id=shipment,
                    proceeds=Money(amount=Decimal(200_000), currency="USD"),
                    cause_id=f"sale-{unique}",
                    at=datetime(2026, 11, 25, tzinfo=UTC),
                )
                await send(FINANCE_COMMANDS.name, fid, _command(sale, fid, 2))
                await until(lambda: "repayment_applied" in receiver.kinds(), "the repayment")

                kinds = receiver.kinds()
                order = [
                    "funding_reminder",
                    "tranche_awaiting_confirmation",
                    "drawdown_executed",
                    "repayment_applied",
                ]
                assert [kinds.index(k) for k in order] == sorted(kinds.index(k) for k in order), (
                    kinds
                )
                assert kinds.count("drawdown_executed") == 1
                drawn = next(
                    e["data"] for e in receiver.events if e["data"]["kind"] == "drawdown_executed"
                )
                assert drawn["amount"] == {
                    "amount": "150000.00",
                    "currency": "USD",
                }  # 60 % of 250,000
                decided = [
                    e["data"]
                    for e in receiver.events
                    if e["data"]["kind"] == "tranche_decision_recorded"
                ]
                assert [d["code"] for d in decided] == ["executed"]  # the double tap is one request
                assert receiver.rejected == 0
                assert all(e["subject"] == fid for e in receiver.events)  # nothing of others

                stored = await LedgerStore(kafka_settings).read(fid)
                assert verify(fid, list(stored.entries)).ok
                books = fold(fid, stored.entries)

                def views_agree() -> bool:
                    figures = [
                        api.get(f"/api/v1/facilities/{fid}", k).json().get("outstanding")
                        for k in (key, api.keys["bank_a"], api.keys["operator"])
                    ]
                    return figures == [str(books.principal)] * 3

                wait_until(views_agree, 60, "the seller, bank and operator views to agree")
                assert api.get(f"/api/v1/facilities/{fid}", api.keys["bank_b"]).status_code == 404
                done = _tranche(api, key, fid, shipment)
                assert (done["state"], done["can_decide"]) == ("executed", False)
            assert worker.poll() is None, log.read_text()[-3000:]
    finally:
        stop.set()
        if hooks is not None:
            await asyncio.wait_for(hooks, 30)
        await producer.send_and_wait(FINANCE_FACILITIES.name, None, key=fid.encode())
        await producer.stop()
        await store.close()
        code = stop_process(worker)
    assert code == 0, log.read_text()[-3000:]
