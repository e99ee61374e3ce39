"""The worker's routing step, without Kafka: which deliveries an event queues, in which lane,
with which ids; camt.054 notices follow their event in the same lane."""

from __future__ import annotations

import json

from api.webhooks.delivery import delivery_id
from api.webhooks.worker import WebhookWorker
from tests.unit.webhooks.test_audience import SUBS, directory
from tests.unit.webhooks.test_camt054 import SAMPLE
from tradelane.contracts import FinanceEvent
from tradelane.contracts.finance import FINANCE_EVENT_SOURCE
from tradelane.settings import KafkaSettings


def _drawdown(facility_id: str) -> bytes:
    event = FinanceEvent(
        id=f"evt-{facility_id}",
        source=FINANCE_EVENT_SOURCE,
        type="tradelane.finance.drawdown_executed.v1",
        subject=facility_id,
        time=SAMPLE.at,
        data=SAMPLE.model_copy(update={"facility_id": facility_id}),
    )
    return event.model_dump_json().encode()


def test_route_queues_per_lane_with_derived_ids_and_camt_notices() -> None:
    worker = WebhookWorker(KafkaSettings(), clock=lambda: 0.0)
    worker.directory = directory()
    bank_a = next(s for s in SUBS if s.subscription_id == "wh_bankaxxx")
    camt = bank_a.model_copy(update={"subscription_id": "wh_bankacamt", "camt054": True})
    for sub in [*SUBS, camt]:
        worker.book.put(sub)

    assert worker.route("finance.events", 2, 40, _drawdown("fac-a")) == 4  # ops, a, camt x2
    assert worker.route("finance.events", 3, 7, _drawdown("fac-b")) == 2  # ops, b
    assert worker.route("finance.events", 3, 8, b"not json") == 0
    due = worker.lanes.due(0.0)
    lanes = sorted({lane for lane, _, _ in due})
    assert lanes == [
        ("wh_bankacamt", "fac-a"),
        ("wh_bankaxxx", "fac-a"),
        ("wh_bankbxxx", "fac-b"),
        ("wh_opsxxxxx", "fac-a"),
        ("wh_opsxxxxx", "fac-b"),
    ]
    first = next(d for lane, d, _ in due if lane == ("wh_bankacamt", "fac-a"))
    assert first.delivery_id == delivery_id("evt-fac-a", "wh_bankacamt")
    assert json.loads(first.body)["datacontenttype"] == "application/json"
    # the XML notice waits behind its event in the same lane
    worker.lanes.record(("wh_bankacamt", "fac-a"), first.delivery_id, ok=True, now=0.0)
    (notice,) = [d for lane, d, _ in worker.lanes.due(0.0) if lane[0] == "wh_bankacamt"]
    assert json.loads(notice.body)["datacontenttype"] == "application/xml"
    assert worker.offsets.commit_points()[("finance.events", 3)] == 7
