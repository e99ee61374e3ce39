"""The worker's series (``tradelane_worker_*``), in a registry of its own.

Counted per batch, not per record: a loop hands :meth:`LoopMetrics.batch` the number of records
one fetch returned and :meth:`LoopMetrics.sends` what that batch produced; the per-record work
is one dict lookup per produced record, and for the few records that are events (shipment and
finance events, claims) two short ``bytes.find`` calls near the start of their CloudEvents
envelope, for the event ``type`` and ``time``. Lag, state sizes and changelog positions are
sampled at most once a second (:meth:`LoopMetrics.due`). docs/operations.md lists every series.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter as Tally
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streams.store import Send
from tradelane.topics import FINANCE_EVENTS, INSURANCE_CLAIMS, SHIPMENTS_EVENTS, TRACKER_DEADLETTER
from transport.metrics import LATENCY_BUCKETS_S

EVENT_TOPICS = frozenset({SHIPMENTS_EVENTS.name, FINANCE_EVENTS.name, INSURANCE_CLAIMS.name})
"""Where the money events (and every other shipment event) are written."""
BATCH_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000)
"""Records per batch; a fetch returns at most 1,000 (:data:`streams.loop.FETCH_MAX_RECORDS`)."""
EVENT_LATENCY_BUCKETS_S = (*LATENCY_BUCKETS_S, 30.0, 60.0, 300.0)
"""Reading event time to output written: devices buffer while offline, so the tail is long."""
RECOVERY_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
SAMPLE_EVERY_S = 1.0


class WorkerMetrics:
    """Every series of one worker process; one :class:`LoopMetrics` view per loop."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.records = Counter(
            "tradelane_worker_records", "Input records fetched, by loop.", ["loop"], registry=r
        )
        self.batch_size = Histogram(
            "tradelane_worker_batch_size",
            "Records per batch (one fetch), by loop.",
            ["loop"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.lag = Gauge(
            "tradelane_worker_consumer_lag",
            "Records of an assigned input partition not yet read (end offset - position).",
            ["loop", "topic", "partition"],
            registry=r,
        )
        self.state_entries = Gauge(
            "tradelane_worker_state_entries",
            "States held in memory, by store.",
            ["store"],
            registry=r,
        )
        self.changelog_writes = Counter(
            "tradelane_worker_changelog_writes",
            "State records written to a changelog, by store.",
            ["store"],
            registry=r,
        )
        self.rebalances = Counter(
            "tradelane_worker_rebalances",
            "Partition assignments received, by loop.",
            ["loop"],
            registry=r,
        )
        self.recovery = Histogram(
            "tradelane_worker_recovery_seconds",
            "Time to recover newly assigned partitions' states from their changelogs.",
            ["loop"],
            buckets=RECOVERY_BUCKETS_S,
            registry=r,
        )
        self.deadlettered = Counter(
            "tradelane_worker_deadlettered",
            "Records the worker sent to tracker.deadletter, by reason.",
            ["reason"],
            registry=r,
        )
        self.events = Counter(
            "tradelane_worker_events",
            "Events written to shipments.events, finance.events and insurance.claims.",
            ["topic", "kind"],
            registry=r,
        )
        self.event_latency = Histogram(
            "tradelane_worker_event_latency_seconds",
            "From the event time of the input that caused an event to the event being written.",
            ["topic"],
            buckets=EVENT_LATENCY_BUCKETS_S,
            registry=r,
        )

    def loop(self, name: str, stores: Iterable[tuple[Any, str]]) -> LoopMetrics:
        return LoopMetrics(self, name, tuple(stores))


def store_name(changelog: str) -> str:
    """The store a changelog topic holds: ``{app}-shipments-changelog`` -> ``shipments``."""
    return changelog.removesuffix("-changelog").rsplit("-", 1)[-1]


class LoopMetrics:
    """One loop's view: its label bound once, its stores named by their changelogs."""

    def __init__(
        self, metrics: WorkerMetrics, name: str, stores: tuple[tuple[Any, str], ...]
    ) -> None:
        self.m = metrics
        self.name = name
        self.stores = tuple((store, store_name(topic)) for store, topic in stores)
        self.changelogs = {topic: store_name(topic) for _, topic in stores}
        self._records = metrics.records.labels(name)
        self._batch = metrics.batch_size.labels(name)
        self._last_sample = 0.0
        self._lagging: set[tuple[str, str]] = set()

    def batch(self, records: int) -> None:
        if records:
            self._records.inc(records)
            self._batch.observe(records)

    def sends(self, sends: Sequence[Send]) -> None:
        """Count what one batch (or slice) produced: changelog writes, events, dead letters."""
        if not sends:
            return
        writes: Tally[str] = Tally()
        events: list[tuple[str, bytes]] = []
        for topic, _key, value, _partition in sends:
            if topic in self.changelogs:
                writes[self.changelogs[topic]] += 1
            elif topic in EVENT_TOPICS:
                events.append((topic, value))
            elif topic == TRACKER_DEADLETTER.name:
                self.m.deadlettered.labels(_field(value, b'"reason":"') or "unknown").inc()
        for store, n in writes.items():
            self.m.changelog_writes.labels(store).inc(n)
        if events:
            self._events(events)

    def _events(self, events: list[tuple[str, bytes]]) -> None:
        now = datetime.now(UTC)
        kinds: Tally[tuple[str, str]] = Tally()
        for topic, value in events:
            kinds[(topic, _kind(_field(value, b'"type":"')))] += 1
            at = _field(value, b'"time":"')
            if at:
                with contextlib.suppress(ValueError):
                    lag = (now - datetime.fromisoformat(at)).total_seconds()
                    self.m.event_latency.labels(topic).observe(max(lag, 0.0))
        for (topic, kind), n in kinds.items():
            self.m.events.labels(topic, kind).inc(n)

    def rebalanced(self) -> None:
        self.m.rebalances.labels(self.name).inc()

    def recovered(self, seconds: float) -> None:
        self.m.recovery.labels(self.name).observe(seconds)

    def due(self) -> bool:
        """Whether a second has passed since the last sample of lag and state sizes."""
        now = time.monotonic()
        if now - self._last_sample < SAMPLE_EVERY_S:
            return False
        self._last_sample = now
        return True

    def sample(self, lag: dict[tuple[str, int], int]) -> None:
        """Lag per assigned input partition (partitions no longer assigned are removed) and
        the stores' sizes."""
        current = {(topic, str(partition)) for topic, partition in lag}
        for topic, label in self._lagging - current:
            with contextlib.suppress(KeyError):
                self.m.lag.remove(self.name, topic, label)
        self._lagging = current
        for (topic, partition), n in lag.items():
            self.m.lag.labels(self.name, topic, str(partition)).set(n)
        for store, name in self.stores:
            self.m.state_entries.labels(name).set(len(store))


def _field(value: bytes, marker: bytes) -> str:
    """The string value after ``marker`` in a JSON document, without parsing it (the envelope
    puts ``type``, ``time`` and a dead letter's ``reason`` near the start)."""
    found = value.find(marker)
    if found < 0:
        return ""
    start = found + len(marker)
    end = value.find(b'"', start)
    return value[start:end].decode(errors="replace") if end > start else ""


def _kind(event_type: str) -> str:
    """``tradelane.finance.drawdown_released.v1`` -> ``drawdown_released``."""
    parts = event_type.split(".")
    return parts[-2] if len(parts) >= 3 else "unknown"
