"""The webhook worker's series (``tradelane_webhooks_*``), in a registry of its own.

Deliveries, retries and attempt durations are counted as they happen (an attempt is an HTTP
request: a counter is nothing beside it). Pending deliveries per tenant and disabled
subscriptions are read from the worker's queues and subscription book when Prometheus
scrapes, so they are exact and cost nothing in between. docs/operations.md lists every series.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from transport.metrics import LATENCY_BUCKETS_S


class _Queues(Collector):
    def __init__(
        self, pending: Callable[[], Mapping[str, int]], disabled: Callable[[], int]
    ) -> None:
        self._pending, self._disabled = pending, disabled

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pending = GaugeMetricFamily(
            "tradelane_webhooks_pending",
            "Deliveries queued (in flight included), by tenant (owner role:party).",
            labels=["tenant"],
        )
        for tenant, n in sorted(self._pending().items()):
            pending.add_metric([tenant], n)
        yield pending
        yield GaugeMetricFamily(
            "tradelane_webhooks_disabled_subscriptions",
            "Subscriptions disabled (retry limit, tenant cap, or by their owner).",
            value=self._disabled(),
        )


class WebhookMetrics:
    """``pending`` and ``disabled`` are read at each scrape (on the worker's event loop)."""

    def __init__(
        self, pending: Callable[[], Mapping[str, int]], disabled: Callable[[], int]
    ) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.deliveries = Counter(
            "tradelane_webhooks_deliveries",
            "Delivery attempts settled, by outcome (delivered, failed: retried later, "
            "gave_up: the subscription was disabled, skipped: its subscription was gone).",
            ["outcome"],
            registry=r,
        )
        self.retries = Counter(
            "tradelane_webhooks_retries", "Attempts after a delivery's first.", registry=r
        )
        self.delivery_seconds = Histogram(
            "tradelane_webhooks_delivery_seconds",
            "One HTTP attempt, request to response (or failure), seconds.",
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        r.register(_Queues(pending, disabled))
