"""The shell of the long-lived stages: a SIGTERM stops a stage that is still waiting for a
broker at once (it has nothing in flight), and lets a ready stage stop by itself."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from cli.running import run_until_signalled, stop_on_signals


async def test_a_stage_stopped_before_it_is_ready_is_cancelled(
    capsys: pytest.CaptureFixture[str],
) -> None:
    began, cancelled = asyncio.Event(), asyncio.Event()

    async def waiting_for_kafka(_stop: asyncio.Event) -> None:
        began.set()
        try:
            await asyncio.Event().wait()  # a broker that never comes
        except asyncio.CancelledError:
            cancelled.set()
            raise

    shell = asyncio.create_task(
        run_until_signalled(waiting_for_kafka, asyncio.Event(), lambda: "READY", str, 0)
    )
    await asyncio.wait_for(began.wait(), 5)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(shell, 5)
    assert cancelled.is_set()
    assert "READY" not in capsys.readouterr().out


async def test_a_ready_stage_stops_by_itself(capsys: pytest.CaptureFixture[str]) -> None:
    ready, stopped_cleanly = asyncio.Event(), asyncio.Event()

    async def stage(stop: asyncio.Event) -> None:
        ready.set()
        await stop.wait()
        stopped_cleanly.set()

    shell = asyncio.create_task(run_until_signalled(stage, ready, lambda: "READY", str, 0))
    await asyncio.wait_for(ready.wait(), 5)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(shell, 5)
    assert stopped_cleanly.is_set()
    assert "READY" in capsys.readouterr().out


async def test_the_signals_set_stop_only_inside_the_block() -> None:
    with stop_on_signals() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stop.wait(), 5)
    loop = asyncio.get_running_loop()
    assert not loop.remove_signal_handler(signal.SIGINT)  # none left to remove
    assert not loop.remove_signal_handler(signal.SIGTERM)
