"""The worker's series, counted per batch: what a batch produced is sorted into changelog
writes by store, events by topic and kind (with their latency from the causing event's time),
and dead letters by reason; lag is kept for the assigned partitions only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streams.metrics import WorkerMetrics, store_name
from streams.store import Send, Store
from tradelane.topics import FINANCE_EVENTS, SHIPMENTS_EVENTS, TRACKER_DEADLETTER
from transport.metrics import value


def _event(kind: str, area: str, at: datetime) -> bytes:
    time = at.isoformat().replace("+00:00", "Z")
    return (
        f'{{"specversion":"1.0","id":"e1","source":"worker","type":"tradelane.{area}.{kind}.v1",'
        f'"subject":"s","time":"{time}","data":{{"kind":"{kind}","time":"x"}}}}'
    ).encode()


def test_a_batch_is_sorted_into_changelogs_events_and_dead_letters() -> None:
    store: Store[bytes] = Store(lambda b: b, lambda b: b)
    metrics = WorkerMetrics()
    loop = metrics.loop("shipment", [(store, "tradelane-streams-shipments-changelog")])
    old = datetime.now(UTC) - timedelta(seconds=30)
    sends: list[Send] = [
        ("tradelane-streams-shipments-changelog", b"s1", b"{}", 0),
        ("tradelane-streams-shipments-changelog", b"s2", b"{}", 1),
        (SHIPMENTS_EVENTS.name, b"s1", _event("milestone_reached", "shipment", old), None),
        (FINANCE_EVENTS.name, b"f1", _event("drawdown_released", "finance", old), None),
        (TRACKER_DEADLETTER.name, b"t", b'{"source":"w","reason":"apply_failed"}', None),
        ("tradelane-streams-by-shipment", b"s1", b"routed", 3),
    ]
    loop.batch(6)
    loop.sends(sends)
    r = metrics.registry
    assert value(r, "tradelane_worker_records_total", {"loop": "shipment"}) == 6
    assert value(r, "tradelane_worker_changelog_writes_total", {"store": "shipments"}) == 2
    shipment = {"topic": SHIPMENTS_EVENTS.name, "kind": "milestone_reached"}
    money = {"topic": FINANCE_EVENTS.name, "kind": "drawdown_released"}
    assert value(r, "tradelane_worker_events_total", shipment) == 1
    assert value(r, "tradelane_worker_events_total", money) == 1
    assert value(r, "tradelane_worker_deadlettered_total", {"reason": "apply_failed"}) == 1
    latency = {"topic": SHIPMENTS_EVENTS.name}
    assert value(r, "tradelane_worker_event_latency_seconds_count", latency) == 1
    assert value(r, "tradelane_worker_event_latency_seconds_sum", latency) >= 30


def test_lag_is_kept_for_assigned_partitions_only() -> None:
    metrics = WorkerMetrics()
    loop = metrics.loop("pledge", [])
    loop.sample({("finance.commands", 0): 5, ("finance.commands", 1): 0})
    loop.sample({("finance.commands", 1): 2})
    r = metrics.registry
    gone = {"loop": "pledge", "topic": "finance.commands", "partition": "0"}
    kept = {**gone, "partition": "1"}
    assert r.get_sample_value("tradelane_worker_consumer_lag", gone) is None
    assert value(r, "tradelane_worker_consumer_lag", kept) == 2


def test_store_names_drop_the_app_id_and_the_changelog_suffix() -> None:
    assert store_name("tradelane-streams-it-1-insurance-changelog") == "insurance"
    assert store_name("tradelane-streams-facilities-changelog") == "facilities"
