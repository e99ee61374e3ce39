"""The retry core: backoff bounds, the retry limit, per-subject ordering under any failure
pattern, and commit points that never skip an unsettled record."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webhooks.offsets import OffsetTracker
from webhooks.retry import Lanes, RetryPolicy, Verdict, after_attempt

POLICY = RetryPolicy(base_s=5, cap_s=3600, max_attempts=14)


@given(delivery=st.text(min_size=1, max_size=30), attempt=st.integers(1, 40))
def test_delay_is_jittered_within_half_to_full_backoff(delivery: str, attempt: int) -> None:
    ceiling = min(POLICY.cap_s, POLICY.base_s * 2 ** (attempt - 1))
    delay = POLICY.delay_s(delivery, attempt)
    assert ceiling / 2 <= delay < ceiling or delay == ceiling / 2
    assert delay == POLICY.delay_s(delivery, attempt)  # deterministic


def test_default_policy_retries_for_hours_and_jitter_spreads() -> None:
    assert 3 * 3600 < POLICY.worst_case_s() < 5 * 3600
    spread = {round(POLICY.delay_s(f"d{i}", 3), 3) for i in range(50)}
    assert len(spread) > 40


@pytest.mark.parametrize(
    ("attempt", "ok", "verdict"),
    [
        (1, True, Verdict.DELIVERED),
        (1, False, Verdict.RETRY),
        (13, False, Verdict.RETRY),
        (14, False, Verdict.GIVE_UP),
        (14, True, Verdict.DELIVERED),
    ],
)
def test_after_attempt(attempt: int, ok: bool, verdict: Verdict) -> None:
    step = after_attempt(POLICY, "d", attempt, ok, now=100.0)
    assert step.verdict is verdict
    assert (step.next_at is not None) == (verdict is Verdict.RETRY)


def test_invalid_policies_are_refused() -> None:
    with pytest.raises(ValueError, match="invalid retry policy"):
        RetryPolicy(base_s=0)


@settings(max_examples=150, deadline=None)
@given(
    events=st.lists(
        st.tuples(st.sampled_from(["s1", "s2"]), st.sampled_from(["a", "b", "c"])),
        min_size=1,
        max_size=25,
    ),
    failures=st.lists(st.booleans(), max_size=200),
)
def test_lanes_deliver_in_order_per_subject_and_never_early(
    events: list[tuple[str, str]], failures: list[bool]
) -> None:
    """Whatever fails when, each (subscription, subject) lane settles its items in push
    order, each item exactly once, and nothing is attempted before it is due."""
    policy = RetryPolicy(base_s=1, cap_s=8, max_attempts=4)
    lanes: Lanes[int] = Lanes(policy)
    for n, (sub, subject) in enumerate(events):
        lanes.push((sub, subject), n, now=0.0)
    fail = iter(failures)
    now = 0.0
    settled: dict[tuple[str, str], list[int]] = {}
    due_at: dict[int, float] = {}
    while len(lanes):
        batch = lanes.due(now)
        if not batch:
            next_at = lanes.next_due_at()
            assert next_at is not None
            assert next_at > now
            now = next_at
            continue
        for lane, item, _attempt in batch:
            assert due_at.get(item, 0.0) <= now
            step = lanes.record(lane, f"d{item}", ok=not next(fail, False), now=now)
            if step.verdict is Verdict.RETRY:
                assert step.next_at is not None
                due_at[item] = step.next_at
            else:
                settled.setdefault(lane, []).append(item)
    for lane, items in settled.items():
        assert items == [n for n, ev in enumerate(events) if ev == lane]
    assert sum(len(v) for v in settled.values()) == len(events)


def test_a_failing_head_blocks_only_its_own_lane() -> None:
    lanes: Lanes[str] = Lanes(POLICY)
    lanes.push(("s", "fac-a"), "a1", 0)
    lanes.push(("s", "fac-a"), "a2", 0)
    lanes.push(("s", "fac-b"), "b1", 0)
    first = {item for _, item, _ in lanes.due(0)}
    assert first == {"a1", "b1"}
    lanes.record(("s", "fac-a"), "a1", ok=False, now=0)
    lanes.record(("s", "fac-b"), "b1", ok=True, now=0)
    assert lanes.due(1) == []  # a1 waits its backoff; a2 may not overtake it
    assert lanes.drop_subscription("s") == ["a1", "a2"]
    assert len(lanes) == 0


@given(
    reads=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 3)), min_size=1, max_size=40),
    order=st.randoms(use_true_random=False),
)
def test_commit_point_never_passes_an_open_record(
    reads: list[tuple[int, int]], order: st.SearchStrategy[object] | object
) -> None:
    tracker = OffsetTracker()
    tp = ("finance.events", 0)
    open_units: list[int] = []
    for offset, (_, deliveries) in enumerate(reads):
        tracker.read(tp, offset, deliveries)
        open_units += [offset] * deliveries
    order.shuffle(open_units)
    while open_units:
        offset = open_units.pop()
        tracker.settle(tp, offset)
        point = tracker.commit_points()[tp]
        assert all(o >= point for o in open_units)
    assert tracker.commit_points()[tp] == len(reads)
    assert tracker.pending() == 0
