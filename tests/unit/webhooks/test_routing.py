"""The worker's routing step, without Kafka: which deliveries an event queues, in which lane,
with which ids; camt.054 notices follow their event in the same lane."""

from __future__ import annotations

import json

from tests.unit.webhooks.test_audience import SUBS, directory
from tests.unit.webhooks.test_camt054 import SAMPLE
from tradelane.contracts import FinanceEvent
from tradelane.contracts.finance import FINANCE_EVENT_SOURCE
from tradelane.settings import KafkaSettings
from webhooks.delivery import delivery_id
from webhooks.worker import WebhookWorker, _Result


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

    # ops, bank a, camt x2, seller a (the facility's borrower)
    assert worker.route("finance.events", 2, 40, _drawdown("fac-a")) == 5
    assert worker.route("finance.events", 3, 7, _drawdown("fac-b")) == 3  # ops, bank b, seller b
    assert worker.route("finance.events", 3, 8, b"not json") == 0
    due = worker.lanes.due(0.0)
    lanes = sorted({lane for lane, _, _ in due})
    assert lanes == [
        ("wh_bankacamt", "fac-a"),
        ("wh_bankaxxx", "fac-a"),
        ("wh_bankbxxx", "fac-b"),
        ("wh_opsxxxxx", "fac-a"),
        ("wh_opsxxxxx", "fac-b"),
        ("wh_sellaxxx", "fac-a"),
        ("wh_sellbxxx", "fac-b"),
    ]
    first = next(d for lane, d, _ in due if lane == ("wh_bankacamt", "fac-a"))
    assert first.delivery_id == delivery_id("evt-fac-a", "wh_bankacamt")
    assert json.loads(first.body)["datacontenttype"] == "application/json"
    # the XML notice waits behind its event in the same lane
    worker.lanes.record(("wh_bankacamt", "fac-a"), first.delivery_id, ok=True, now=0.0)
    (notice,) = [d for lane, d, _ in worker.lanes.due(0.0) if lane[0] == "wh_bankacamt"]
    assert json.loads(notice.body)["datacontenttype"] == "application/xml"
    assert worker.offsets.commit_points()[("finance.events", 3)] == 7


async def test_results_of_a_dropped_subscription_are_ignored() -> None:
    """Giving up on one subject drops the subscription's other lanes, whose attempts may
    still be in flight; their late results change nothing and break nothing."""
    worker = WebhookWorker(KafkaSettings(), clock=lambda: 0.0)
    worker.directory = directory()
    bank_a = next(s for s in SUBS if s.subscription_id == "wh_bankaxxx")
    worker.book.put(bank_a)
    worker.directory.facilities["fac-a3"] = ("bank-a", "seller-a")
    worker.route("finance.events", 0, 1, _drawdown("fac-a"))
    worker.route("finance.events", 1, 1, _drawdown("fac-a3"))
    due = worker.lanes.due(0.0)
    assert len(due) == 2
    (first, _), (second, second_attempt) = sorted(
        [(d, n) for _, d, n in due], key=lambda pair: pair[0].subject
    )
    policy = worker.settings.policy()
    for attempt in range(1, policy.max_attempts + 1):
        await worker._settle(_Result(first, attempt, ok=False, error="HTTP 503"))
        worker.lanes.due(1e9)
    assert worker.stats.gave_up == 1
    assert worker.book.subscriptions["wh_bankaxxx"].status.value == "disabled"
    await worker._settle(_Result(second, second_attempt, ok=True, status=204))
    assert worker.stats.delivered == 0
    assert worker.offsets.pending() == 0
    assert worker.offsets.commit_points() == {("finance.events", 0): 2, ("finance.events", 1): 2}
