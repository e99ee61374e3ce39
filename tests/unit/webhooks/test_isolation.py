"""One tenant's failing receiver stays its own problem: a subscription has a few requests in
flight at most, a breaker pauses a subscription that keeps failing (all its lanes, and only
its lanes), and a tenant at its pending-delivery cap has its fullest subscription disabled
while routing goes on for everyone else."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.webhooks.test_audience import directory
from tests.unit.webhooks.test_routing import _drawdown
from tradelane.contracts.webhooks import SubscriberRole, SubscriptionStatus, WebhookSubscription
from tradelane.settings import KafkaSettings
from webhooks.lifecycle import created
from webhooks.retry import Breaker, Lanes, RetryPolicy
from webhooks.settings import WebhookSettings
from webhooks.signing import new_secret
from webhooks.worker import WebhookWorker

POLICY = RetryPolicy(base_s=1.0, cap_s=8.0, max_attempts=100)


def test_a_subscription_never_holds_more_than_its_share_of_requests() -> None:
    lanes: Lanes[str] = Lanes(POLICY, per_subscription=2)
    for n in range(10):
        lanes.push(("wh_slow", f"s{n}"), f"slow-{n}", 0.0)
    lanes.push(("wh_fast", "s0"), "fast-0", 0.0)
    due = lanes.due(0.0)
    assert sorted(item for _, item, _ in due) == ["fast-0", "slow-0", "slow-1"]
    assert lanes.due(0.0) == []  # slow is at its limit until a result comes back
    lanes.record(("wh_slow", "s0"), "slow-0", ok=True, now=0.0)
    assert [item for _, item, _ in lanes.due(0.0)] == ["slow-2"]
    assert lanes.pending("wh_slow") == 9
    assert lanes.pending("wh_fast") == 1


def test_the_breaker_pauses_every_lane_of_a_failing_subscription_only() -> None:
    breaker = Breaker(failures=3, pause_s=10.0, cap_s=40.0)
    lanes: Lanes[str] = Lanes(POLICY, breaker=breaker)
    for subject in ("a", "b", "c", "d"):
        lanes.push(("wh_down", subject), f"down-{subject}", 0.0)
    lanes.push(("wh_up", "a"), "up-a", 0.0)
    for lane, item, _ in lanes.due(0.0):
        lanes.record(lane, item, ok=lane[0] == "wh_up", now=1.0)
    # four failures >= 3: paused for 10 * 2 s (the fourth doubled the first pause)
    assert lanes.paused_until("wh_down") == pytest.approx(21.0)
    lanes.push(("wh_up", "b"), "up-b", 1.0)
    assert [item for _, item, _ in lanes.due(20.0)] == ["up-b"]
    probe = lanes.due(21.0)
    assert len(probe) == 1  # half-open: one probe, not four
    lane, item, attempt = probe[0]
    assert attempt == 2
    lanes.record(lane, item, ok=True, now=21.5)
    assert lanes.paused_until("wh_down") is None
    assert len(lanes.due(100.0)) == 3  # closed again: the other lanes go


@given(st.integers(min_value=1, max_value=10), st.integers(min_value=0, max_value=80))
def test_pauses_grow_and_stay_capped(failures: int, extra: int) -> None:
    breaker = Breaker(failures=failures, pause_s=5.0, cap_s=300.0)
    assert breaker.pause_after(failures - 1) is None
    pause = breaker.pause_after(failures + extra)
    assert pause is not None
    assert 5.0 <= pause <= 300.0
    later = breaker.pause_after(failures + extra + 1)
    assert later is not None
    assert later >= pause


def _bank(sid: str, party: str) -> WebhookSubscription:
    return created(
        sid,
        SubscriberRole.BANK,
        party,
        new_secret(),
        datetime(2026, 1, 1, tzinfo=UTC),
        url="https://bank.example/h",
    )


def test_a_tenant_at_its_pending_cap_loses_its_fullest_subscription_not_the_reader() -> None:
    settings = WebhookSettings(max_pending_per_tenant=5)
    worker = WebhookWorker(KafkaSettings(), settings, clock=lambda: 0.0)
    worker.directory = directory()
    worker.directory.facilities.update({f"fac-a{n}": ("bank-a", "seller-a") for n in range(10)})
    for sid, party in (("wh_bankaxxx", "bank-a"), ("wh_bankbxxx", "bank-b")):
        worker.book.put(_bank(sid, party))
    for n in range(5):
        assert worker.route("finance.events", 0, n, _drawdown(f"fac-a{n}")) == 1
    assert worker.lanes.pending("wh_bankaxxx") == 5
    # the sixth for bank A: its subscription is disabled and its queue dropped ...
    assert worker.route("finance.events", 0, 5, _drawdown("fac-a5")) == 0
    sub = worker.book.subscriptions["wh_bankaxxx"]
    assert sub.status is SubscriptionStatus.DISABLED
    assert sub.disabled_reason is not None
    assert "5 undelivered deliveries" in sub.disabled_reason
    assert worker.lanes.pending("wh_bankaxxx") == 0
    assert worker.stats.shed == 1
    assert [s.subscription_id for s in worker._writes] == ["wh_bankaxxx"]
    # ... its offsets are settled (nothing holds the commit back), and bank B goes on
    assert worker.offsets.commit_points()[("finance.events", 0)] == 6
    assert worker.route("finance.events", 1, 0, _drawdown("fac-b")) == 1
    assert worker.lanes.pending("wh_bankbxxx") == 1
