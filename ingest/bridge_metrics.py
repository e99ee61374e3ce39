"""The bridge's series (``tradelane_bridge_*``), in a registry of its own.

One :class:`BridgeMetrics` per bridge: two bridges in one process (tests, ``tradelane demo``)
count apart. The read-only properties serve the stats line and the tests, and read the very
samples Prometheus scrapes (docs/operations.md lists every series).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from transport.metrics import LATENCY_BUCKETS_S, quantile, total, value


class BridgeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.received_total = Counter(
            "tradelane_bridge_received", "MQTT messages received.", registry=r
        )
        self.forwarded_total = Counter(
            "tradelane_bridge_forwarded", "Readings acknowledged by Kafka.", registry=r
        )
        self.deadlettered_total = Counter(
            "tradelane_bridge_deadlettered",
            "Messages sent to tracker.deadletter, by reason.",
            ["reason"],
            registry=r,
        )
        self.duplicates_total = Counter(
            "tradelane_bridge_duplicates",
            "Readings whose (device_id, seq) was seen recently (forwarded anyway; consumers "
            "deduplicate).",
            registry=r,
        )
        self.inflight_gauge = Gauge(
            "tradelane_bridge_inflight", "Messages received but not yet acknowledged.", registry=r
        )
        self.send_failures_total = Counter(
            "tradelane_bridge_send_failures", "Kafka sends that failed.", registry=r
        )
        self.kafka_send_latency = Histogram(
            "tradelane_bridge_kafka_send_latency_seconds",
            "Send to Kafka acknowledgement.",
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self.mqtt_connected = Gauge(
            "tradelane_bridge_mqtt_connected", "1 while connected to the MQTT broker.", registry=r
        )

    @property
    def received(self) -> int:
        return int(value(self.registry, "tradelane_bridge_received_total"))

    @property
    def forwarded(self) -> int:
        return int(value(self.registry, "tradelane_bridge_forwarded_total"))

    @property
    def deadlettered(self) -> int:
        """Dead letters of every reason."""
        return int(total(self.registry, "tradelane_bridge_deadlettered_total"))

    @property
    def duplicates(self) -> int:
        return int(value(self.registry, "tradelane_bridge_duplicates_total"))

    @property
    def inflight(self) -> int:
        return int(value(self.registry, "tradelane_bridge_inflight"))

    @property
    def send_failures(self) -> int:
        return int(value(self.registry, "tradelane_bridge_send_failures_total"))

    def send_latency_quantile(self, q: float) -> float:
        return quantile(self.registry, "tradelane_bridge_kafka_send_latency_seconds", q)
