"""The sink's series (``tradelane_sink_*``), in a registry of its own (one per
:class:`ingest.sink.Sink`); counted per InfluxDB write, not per point. docs/operations.md
lists every series."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from transport.metrics import LATENCY_BUCKETS_S


class SinkMetrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.points_written = Counter(
            "tradelane_sink_points_written", "Points InfluxDB accepted.", registry=r
        )
        self.write_seconds = Histogram(
            "tradelane_sink_write_seconds",
            "One accepted InfluxDB write (a batch of points), seconds.",
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self.write_failures = Counter(
            "tradelane_sink_write_failures",
            "InfluxDB writes that failed (each is retried until accepted).",
            registry=r,
        )
        self.deadlettered = Counter(
            "tradelane_sink_deadlettered",
            "Records of tracker.readings the sink could not read, by reason.",
            ["reason"],
            registry=r,
        )
