"""The API's series (``tradelane_api_*``), in a registry of its own (one per :class:`ApiState`).

Requests are counted by a pure ASGI middleware, labelled by the matched route's path template
(``/api/v1/shipments/{shipment_id}``, never the raw path: ids would make a series per
shipment) or ``unmatched``. Feed clients and dropped feed items are read from the hub when
Prometheus scrapes. docs/operations.md lists every series.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.hub import Hub
from transport.metrics import LATENCY_BUCKETS_S


class _Feed(Collector):
    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        yield GaugeMetricFamily(
            "tradelane_api_feed_clients",
            "Live-feed clients connected.",
            value=len(self._hub.subscribers),
        )
        yield CounterMetricFamily(
            "tradelane_api_feed_dropped",
            "Feed items (superseded positions) dropped for clients that fell behind.",
            value=self._hub.dropped(),
        )


class ApiMetrics:
    def __init__(self, hub: Hub) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "tradelane_api_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=r,
        )
        self.duration = Histogram(
            "tradelane_api_request_duration_seconds",
            "Request received to response sent (a streamed feed: its whole life), seconds.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        r.register(_Feed(hub))


class RequestMetrics:
    """ASGI middleware counting and timing every HTTP request (websockets are feed clients)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception that escapes answers 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = _route(scope)
            method = scope.get("method", "")
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.duration.labels(method, route).observe(time.perf_counter() - started)


def _route(scope: Scope) -> str:
    """The matched route's path template (the router puts the route in the scope)."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"
