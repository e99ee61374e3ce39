"""Running a long-lived stage (bridge, sink, webhooks) from the command line: the same shell
for each; and the one way a command stops on Ctrl-C (:func:`stop_on_signals`, also used by
``tradelane simulate`` and ``tradelane demo``, which run several stages at once).

Stops on SIGINT/SIGTERM, prints one line once the stage is ready and a stats line every
``interval_s`` seconds, and lets the stage's own exception reach the caller. A stage stopped
before it is ready (still waiting for a broker) has nothing in flight and is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[asyncio.Event]:
    """An event that SIGINT or SIGTERM sets while the block runs: the command stops its stages
    in order instead of dying in the middle. Outside the block the signals act as before."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        yield stop
    finally:
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)


async def run_until_signalled(
    run: Callable[[asyncio.Event], Awaitable[None]],
    ready: asyncio.Event,
    announce: Callable[[], str],
    stats_line: Callable[[float], str],
    interval_s: float,
) -> None:
    """Run ``run(stop)`` until it returns; ``stop`` is set by SIGINT or SIGTERM."""
    with stop_on_signals() as stop:
        await _run_stage(run(stop), stop, ready, announce, (stats_line, interval_s))


async def _run_stage(
    run: Awaitable[None],
    stop: asyncio.Event,
    ready: asyncio.Event,
    announce: Callable[[], str],
    stats: tuple[Callable[[float], str], float],
) -> None:
    task = asyncio.ensure_future(run)
    waiting = asyncio.create_task(ready.wait())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({task, waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    cancelled = False
    if ready.is_set():
        print(announce(), flush=True)
    elif stop.is_set() and not task.done():
        cancelled = task.cancel()
    stats_line, interval_s = stats
    printer = asyncio.create_task(_print_stats(stats_line, interval_s)) if interval_s > 0 else None
    try:
        await task
    except asyncio.CancelledError:
        if not cancelled:
            raise
    finally:
        waiting.cancel()
        stopping.cancel()
        if printer is not None:
            printer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await printer


async def _print_stats(stats_line: Callable[[float], str], interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        print(stats_line(interval_s), flush=True)
