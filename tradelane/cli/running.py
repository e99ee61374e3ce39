"""Running a long-lived stage (bridge, sink) from the command line: the same shell for each.

Stops on SIGINT/SIGTERM, prints one line once the stage is ready and a stats line every
``interval_s`` seconds, and lets the stage's own exception reach the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable


async def run_until_signalled(
    run: Callable[[asyncio.Event], Awaitable[None]],
    ready: asyncio.Event,
    announce: Callable[[], str],
    stats_line: Callable[[float], str],
    interval_s: float,
) -> None:
    """Run ``run(stop)`` until it returns; ``stop`` is set by SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.ensure_future(run(stop))
    waiting = asyncio.create_task(ready.wait())
    await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
    if ready.is_set():
        print(announce(), flush=True)
    stats = asyncio.create_task(_print_stats(stats_line, interval_s)) if interval_s > 0 else None
    try:
        await task
    finally:
        waiting.cancel()
        if stats is not None:
            stats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stats


async def _print_stats(stats_line: Callable[[float], str], interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        print(stats_line(interval_s), flush=True)
