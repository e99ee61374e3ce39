"""The metrics helpers: a registry served over HTTP reads back as scraped, each process's
registry is its own, and the readers sum and bucket what Prometheus would."""

from __future__ import annotations

import math

import aiohttp
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.parser import text_string_to_metric_families

from ingest.bridge_metrics import BridgeMetrics
from transport.metrics import quantile, serving, total, value


async def test_a_registry_is_served_at_metrics_on_a_free_port() -> None:
    bridge = BridgeMetrics()
    bridge.forwarded_total.inc(3)
    bridge.deadlettered_total.labels("malformed_json").inc()
    async with serving(bridge.registry, "127.0.0.1", 0) as server:
        assert server is not None
        assert server.port > 0
        async with aiohttp.ClientSession() as http, http.get(server.url) as resp:
            assert resp.status == 200
            text = await resp.text()
    samples = {
        (s.name, tuple(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("tradelane_bridge_forwarded_total", ())] == 3
    assert samples[("tradelane_bridge_deadlettered_total", (("reason", "malformed_json"),))] == 1


async def test_no_port_serves_nothing() -> None:
    async with serving(CollectorRegistry(), "127.0.0.1", None) as server:
        assert server is None


def test_two_bridges_in_one_process_count_apart() -> None:
    first, second = BridgeMetrics(), BridgeMetrics()
    first.received_total.inc(5)
    assert (first.received, second.received) == (5, 0)


def test_readers_sum_label_sets_and_bucket_observations() -> None:
    registry = CollectorRegistry()
    letters = Counter("letters", "", ["reason"], registry=registry)
    letters.labels("a").inc(2)
    letters.labels("b").inc(3)
    assert total(registry, "letters_total") == 5
    assert value(registry, "letters_total", {"reason": "c"}) == 0
    latency = Histogram("lat_seconds", "", buckets=(0.1, 1.0), registry=registry)
    assert quantile(registry, "lat_seconds", 0.99) == 0
    for seconds in (0.05, 0.05, 0.5, 2.0):
        latency.observe(seconds)
    assert quantile(registry, "lat_seconds", 0.5) == 0.1
    assert quantile(registry, "lat_seconds", 0.75) == 1.0
    assert quantile(registry, "lat_seconds", 0.99) == math.inf


async def test_a_port_in_use_is_a_warning_not_a_failure() -> None:
    async with serving(CollectorRegistry(), "127.0.0.1", 0) as first:
        assert first is not None
        async with serving(CollectorRegistry(), "127.0.0.1", first.port) as second:
            assert second is None
