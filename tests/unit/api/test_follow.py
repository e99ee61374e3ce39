"""The Kafka follower is restarted when it fails, and stops when asked."""

from __future__ import annotations

import asyncio

from api.app import follow


class FlakyConsumer:
    """Fails on its first run, then runs until stopped."""

    def __init__(self) -> None:
        self.runs = 0
        self.running_again = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        self.runs += 1
        if self.runs == 1:
            raise ConnectionError("Kafka went away")
        self.running_again.set()
        await stop.wait()


async def test_follow_restarts_a_failed_follower() -> None:
    consumer = FlakyConsumer()
    stop = asyncio.Event()
    task = asyncio.create_task(follow(consumer, stop, retry_s=0.01))  # type: ignore[arg-type]
    await asyncio.wait_for(consumer.running_again.wait(), 5)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert consumer.runs == 2
