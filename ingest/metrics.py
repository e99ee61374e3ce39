"""Bridge counters, rendered in the Prometheus text exposition format.

Kept dependency-free and pure (render is a function of the counters), so the numbers the
bridge serves are the numbers the tests and the benchmark read.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class Histogram:
    buckets: tuple[float, ...] = LATENCY_BUCKETS_S
    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_S) + 1))
    total: float = 0.0
    count: int = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.count += 1

    def quantile(self, q: float) -> float:
        """Upper bucket bound below which a share ``q`` of observations fall."""
        if self.count == 0:
            return 0.0
        want, seen = q * self.count, 0
        for bound, n in zip((*self.buckets, float("inf")), self.counts, strict=True):
            seen += n
            if seen >= want:
                return bound
        return float("inf")


@dataclass
class BridgeMetrics:
    received: int = 0
    forwarded: int = 0
    deadlettered: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    inflight: int = 0
    send_failures: int = 0
    kafka_send_latency: Histogram = field(default_factory=Histogram)

    def render(self) -> str:
        lines = [
            "# HELP tradelane_bridge_received_total MQTT messages received.",
            "# TYPE tradelane_bridge_received_total counter",
            f"tradelane_bridge_received_total {self.received}",
            "# HELP tradelane_bridge_forwarded_total Readings acknowledged by Kafka.",
            "# TYPE tradelane_bridge_forwarded_total counter",
            f"tradelane_bridge_forwarded_total {self.forwarded}",
            "# HELP tradelane_bridge_deadlettered_total Messages sent to tracker.deadletter.",
            "# TYPE tradelane_bridge_deadlettered_total counter",
            *(
                f'tradelane_bridge_deadlettered_total{{reason="{r}"}} {n}'
                for r, n in sorted(self.deadlettered.items())
            ),
            "# HELP tradelane_bridge_duplicates_total Readings whose (device_id, seq) was seen "
            "recently (forwarded anyway; consumers deduplicate).",
            "# TYPE tradelane_bridge_duplicates_total counter",
            f"tradelane_bridge_duplicates_total {self.duplicates}",
            "# HELP tradelane_bridge_inflight Messages received but not yet acknowledged.",
            "# TYPE tradelane_bridge_inflight gauge",
            f"tradelane_bridge_inflight {self.inflight}",
            "# HELP tradelane_bridge_send_failures_total Kafka sends that failed.",
            "# TYPE tradelane_bridge_send_failures_total counter",
            f"tradelane_bridge_send_failures_total {self.send_failures}",
            "# HELP tradelane_bridge_kafka_send_latency_seconds Send to Kafka ack.",
            "# TYPE tradelane_bridge_kafka_send_latency_seconds histogram",
        ]
        cumulative = 0
        hist = self.kafka_send_latency
        for bound, n in zip((*hist.buckets, float("inf")), hist.counts, strict=True):
            cumulative += n
            le = "+Inf" if bound == float("inf") else f"{bound:g}"
            lines.append(
                f'tradelane_bridge_kafka_send_latency_seconds_bucket{{le="{le}"}} {cumulative}'
            )
        lines += [
            f"tradelane_bridge_kafka_send_latency_seconds_sum {hist.total:.6f}",
            f"tradelane_bridge_kafka_send_latency_seconds_count {hist.count}",
        ]
        return "\n".join(lines) + "\n"
