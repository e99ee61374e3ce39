"""The retry helper's policy, on a fake clock: gives up at the deadline and never sleeps past
it, retries only retriable errors, and keeps its jitter within bounds."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradelane.errors import ContractError, OwnershipError, ServiceError, UsageError
from tradelane.retry import RetryDeadlineError, backoff_s, is_retriable, retrying, until_stopped


class FakeTime:
    """A clock that only the injected sleep moves, recording every pause."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.pauses: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


class Flaky:
    """An operation failing with ``errors`` in turn, each taking ``cost_s`` of fake time."""

    def __init__(self, time: FakeTime, errors: list[Exception], cost_s: float = 0.0) -> None:
        self.time = time
        self.errors = list(errors)
        self.cost_s = cost_s
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        self.time.now += self.cost_s
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def _run(time: FakeTime, op: Flaky, **kwargs: object) -> str:
    return asyncio.run(
        retrying(op, what="test", sleep=time.sleep, clock=time.clock, **kwargs)  # type: ignore[arg-type]
    )


@settings(deadline=None, max_examples=60)
@given(
    deadline_s=st.floats(0.0, 30.0),
    cost_s=st.floats(0.0, 3.0),
    base_s=st.floats(0.1, 2.0),
    max_s=st.floats(0.1, 10.0),
    draws=st.lists(st.floats(0.0, 0.999), min_size=1, max_size=5),
)
def test_gives_up_at_the_deadline_and_never_sleeps_past_it(
    deadline_s: float, cost_s: float, base_s: float, max_s: float, draws: list[float]
) -> None:
    time = FakeTime()
    deadline = time.now + deadline_s
    op = Flaky(time, [ServiceError("down")] * 100_000, cost_s)
    pause_ends: list[float] = []

    async def sleep(seconds: float) -> None:
        await time.sleep(seconds)
        pause_ends.append(time.now)

    with pytest.raises(RetryDeadlineError) as caught:
        asyncio.run(
            retrying(
                op,
                what="test",
                deadline_s=deadline_s,
                base_s=base_s,
                max_s=max(base_s, max_s),
                draw=lambda: draws[op.calls % len(draws)],
                sleep=sleep,
                clock=time.clock,
            )
        )
    assert isinstance(caught.value.__cause__, ServiceError)
    assert time.now >= deadline  # never before the deadline
    assert all(end <= deadline + 1e-9 for end in pause_ends)  # no pause runs past it
    assert all(pause >= 0 for pause in time.pauses)


def test_each_pause_ends_by_the_deadline() -> None:
    time = FakeTime()
    start = time.now
    op = Flaky(time, [ServiceError("down")] * 100)
    with pytest.raises(RetryDeadlineError, match=r"test: still failing after 3 s"):
        _run(time, op, deadline_s=3.0, base_s=1.0, max_s=10.0, draw=lambda: 0.999)
    assert time.now == pytest.approx(start + 3.0)
    assert time.pauses[-1] < 2.0  # cut short to end at the deadline
    assert op.calls == len(time.pauses) + 1


@pytest.mark.parametrize(
    "error", [UsageError("bad"), ContractError("bad"), OwnershipError("held"), KeyError("x")]
)
def test_errors_that_are_not_retriable_are_raised_at_once(error: Exception) -> None:
    time = FakeTime()
    op = Flaky(time, [error])
    with pytest.raises(type(error)):
        _run(time, op, deadline_s=60.0)
    assert op.calls == 1
    assert time.pauses == []


def test_retriable_errors_are_retried_until_the_call_succeeds() -> None:
    time = FakeTime()
    seen: list[tuple[str, float]] = []
    op = Flaky(time, [ServiceError("a"), ServiceError("b"), ServiceError("c")])
    result = _run(
        time,
        op,
        deadline_s=None,
        base_s=1.0,
        max_s=3.0,
        draw=lambda: 0.999999,
        on_retry=lambda exc, pause: seen.append((str(exc), pause)),
    )
    assert result == "done"
    assert op.calls == 4
    assert [why for why, _ in seen] == ["a", "b", "c"]
    assert time.pauses == pytest.approx([1.0, 2.0, 3.0], rel=1e-5)
    assert time.pauses == [pause for _, pause in seen]


def test_a_custom_predicate_decides() -> None:
    time = FakeTime()
    op = Flaky(time, [KeyError("x"), KeyError("y")])
    assert _run(time, op, deadline_s=10.0, retriable=lambda e: isinstance(e, KeyError)) == "done"
    assert op.calls == 3


def test_a_long_healthy_attempt_starts_the_back_off_again() -> None:
    time = FakeTime()
    op = Flaky(time, [ServiceError("x")] * 3, cost_s=0.0)
    costs = iter([0.0, 0.0, 120.0, 0.0])

    async def op_with_costs() -> str:
        time.now += next(costs)
        return await op()

    result = asyncio.run(
        retrying(
            op_with_costs,
            what="loop",
            deadline_s=None,
            base_s=1.0,
            max_s=30.0,
            healthy_s=60.0,
            draw=lambda: 0.999999,
            sleep=time.sleep,
            clock=time.clock,
        )
    )
    assert result == "done"
    assert time.pauses == pytest.approx([1.0, 2.0, 1.0], rel=1e-5)


def test_cancellation_is_never_retried() -> None:
    time = FakeTime()
    calls = 0

    async def cancelled() -> None:
        nonlocal calls
        calls += 1
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(
            retrying(
                cancelled,
                what="x",
                deadline_s=None,
                retriable=lambda _e: True,
                sleep=time.sleep,
                clock=time.clock,
            )
        )
    assert calls == 1


@given(
    attempt=st.integers(0, 200),
    base_s=st.floats(0.001, 10.0),
    max_s=st.floats(0.001, 100.0),
    draw=st.floats(0.0, 1.0, exclude_max=True),
)
def test_jitter_stays_within_half_the_cap_and_the_cap(
    attempt: int, base_s: float, max_s: float, draw: float
) -> None:
    cap = min(max_s, base_s * 2.0**attempt)
    pause = backoff_s(attempt, base_s=base_s, max_s=max_s, draw=draw)
    assert cap / 2 <= pause <= cap


@given(base_s=st.floats(0.001, 10.0), max_s=st.floats(0.001, 100.0))
def test_the_cap_doubles_until_max(base_s: float, max_s: float) -> None:
    caps = [backoff_s(n, base_s=base_s, max_s=max_s, draw=0.999999999) for n in range(12)]
    assert all(b >= a for a, b in itertools.pairwise(caps))
    assert caps[-1] <= max_s


def test_the_tree_says_what_is_retriable() -> None:
    assert is_retriable(ServiceError("down"))
    assert is_retriable(RetryDeadlineError("late"))
    assert not is_retriable(UsageError("bad"))
    assert not is_retriable(ContractError("bad"))
    assert not is_retriable(OwnershipError("held"))
    assert not is_retriable(ValueError("a library's"))


async def test_until_stopped_ends_a_pause_when_stop_is_set() -> None:
    stop = asyncio.Event()
    pause = until_stopped(stop)
    waiting = asyncio.ensure_future(pause(60.0))
    await asyncio.sleep(0)
    assert not waiting.done()
    stop.set()
    await asyncio.wait_for(waiting, 5)  # well before the 60 s pause


async def test_until_stopped_pauses_the_full_time_otherwise() -> None:
    pause = until_stopped(asyncio.Event())
    loop = asyncio.get_running_loop()
    before = loop.time()
    await pause(0.02)
    assert loop.time() - before >= 0.02
