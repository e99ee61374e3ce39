"""The webhook worker's queue series are read from its lanes and subscription book at each
scrape: pending deliveries per tenant, and the subscriptions disabled."""

from __future__ import annotations

from tests.unit.webhooks.test_audience import directory
from tests.unit.webhooks.test_isolation import _bank
from tests.unit.webhooks.test_routing import _drawdown
from tradelane.settings import KafkaSettings
from transport.metrics import value
from webhooks.settings import WebhookSettings
from webhooks.worker import WebhookWorker


def test_pending_per_tenant_and_disabled_subscriptions_follow_the_worker() -> None:
    worker = WebhookWorker(
        KafkaSettings(), WebhookSettings(max_pending_per_tenant=3), clock=lambda: 0.0
    )
    worker.directory = directory()
    worker.directory.facilities.update({f"fac-a{n}": ("bank-a", "seller-a") for n in range(5)})
    for sid, party in (("wh_bankaxxx", "bank-a"), ("wh_bankbxxx", "bank-b")):
        worker.book.put(_bank(sid, party))
    r = worker.metrics.registry
    for n in range(3):
        worker.route("finance.events", 0, n, _drawdown(f"fac-a{n}"))
    assert value(r, "tradelane_webhooks_pending", {"tenant": "bank:bank-a"}) == 3
    assert value(r, "tradelane_webhooks_pending", {"tenant": "bank:bank-b"}) == 0
    assert value(r, "tradelane_webhooks_disabled_subscriptions") == 0
    worker.route("finance.events", 0, 3, _drawdown("fac-a3"))  # over the cap: disabled
    assert value(r, "tradelane_webhooks_pending", {"tenant": "bank:bank-a"}) == 0
    assert value(r, "tradelane_webhooks_disabled_subscriptions") == 1
