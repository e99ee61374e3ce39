"""The one retry loop: a deadline, jittered exponential back-off, and only retriable errors.

Every place that tries something again (a client waiting for a starting broker, a writer
waiting for InfluxDB, a supervisor restarting a failed loop) goes through :func:`retrying`, so
they all wait the same way and say the same things: an error that is not retriable is raised
at once (retrying a refused grant or a bad argument only hides it), a retriable one is tried
again after a back-off that doubles up to ``max_s``, and at ``deadline_s`` the helper gives up
(``deadline_s=None`` for a supervisor that must never give up).

The back-off is jittered (each delay drawn in ``[cap/2, cap]``) so that processes restarted
together by the same broker outage do not come back in lockstep. The clock, the sleep and the
random draw are parameters, so the policy is tested without waiting (tests/unit/test_retry.py).

Pure kernel: asyncio, random and time only; how a failure is logged or counted is the
caller's ``on_retry``, and which library errors are retriable is each transport's predicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tradelane.errors import ServiceError

T = TypeVar("T")


class RetryDeadlineError(ServiceError, TimeoutError):
    """A retriable error was still raised when the deadline passed (the last one is the
    cause). Retriable itself: a caller further out may wait longer."""


def is_retriable(exc: BaseException) -> bool:
    """The default question: the error's class says so (``retriable``, as on ours and on
    aiokafka's errors)."""
    return bool(getattr(type(exc), "retriable", False))


def backoff_s(attempt: int, *, base_s: float, max_s: float, draw: float) -> float:
    """The pause after failed attempt number ``attempt`` (0 for the first): the cap doubles
    from ``base_s`` up to ``max_s``, and ``draw`` (in [0, 1)) places the pause in
    ``[cap/2, cap]``."""
    cap = min(max_s, base_s * 2.0 ** min(attempt, 64))
    return cap * (0.5 + 0.5 * draw)


def until_stopped(stop: asyncio.Event) -> Callable[[float], Awaitable[None]]:
    """A ``sleep`` for :func:`retrying` that ends early when ``stop`` is set, so a process
    asked to stop is not held by a back-off (the operation then sees ``stop`` and returns)."""

    async def pause(seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)

    return pause


def any_error(_exc: BaseException) -> bool:
    """The predicate of a supervisor: every ``Exception`` is retried (a follower or loop
    that must outlive a broker outage and a bad record alike; cancellation still ends it)."""
    return True


def _deadline_error(what: str, deadline_s: float, exc: BaseException) -> BaseException:
    return RetryDeadlineError(f"{what}: still failing after {deadline_s:.0f} s ({exc!r})")


async def retrying(
    op: Callable[[], Awaitable[T]],
    *,
    what: str,
    deadline_s: float | None,
    retriable: Callable[[BaseException], bool] = is_retriable,
    base_s: float = 0.1,
    max_s: float = 5.0,
    healthy_s: float | None = None,
    on_retry: Callable[[BaseException, float], None] | None = None,
    give_up: Callable[[str, float, BaseException], BaseException] = _deadline_error,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    draw: Callable[[], float] = random.random,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """``await op()`` until it returns, retrying the errors ``retriable`` accepts.

    Before each pause ``on_retry(error, pause_s)`` is called (to log or count it). A pause
    never runs past the deadline: the last one is cut short to end there, and an attempt that
    fails at or after the deadline ends the loop with ``give_up(what, deadline_s, error)``
    raised from that error. An attempt that ran at least ``healthy_s`` starts the back-off
    again from ``base_s`` (a supervised loop that failed after an hour of work is not a
    crash loop). Cancellation is never retried: it is not an ``Exception``.
    """
    deadline = None if deadline_s is None else clock() + deadline_s
    attempt = 0
    while True:
        started = clock()
        try:
            return await op()
        except Exception as exc:  # classified by ``retriable`` just below
            if not retriable(exc):
                raise
            now = clock()
            if healthy_s is not None and now - started >= healthy_s:
                attempt = 0
            pause = backoff_s(attempt, base_s=base_s, max_s=max_s, draw=draw())
            if deadline is not None:
                if now >= deadline:
                    assert deadline_s is not None
                    raise give_up(what, deadline_s, exc) from exc
                pause = min(pause, deadline - now)
            if on_retry is not None:
                on_retry(exc, pause)
            await sleep(pause)
            attempt += 1
