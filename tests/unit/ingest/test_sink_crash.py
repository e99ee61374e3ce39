"""The sink does not run on half alive: a registry follower that failed fails the sink."""

from __future__ import annotations

import asyncio

import pytest

from ingest.sink import Sink
from tradelane.settings import InfluxSettings, KafkaSettings


def test_a_failed_registry_follower_fails_the_sink_and_a_finished_one_does_not() -> None:
    async def scenario() -> None:
        sink = Sink(KafkaSettings(), InfluxSettings())

        async def fails() -> None:
            raise ConnectionError("broker gone")

        async def finishes() -> None:
            return None

        sink._follow = asyncio.create_task(finishes())
        await asyncio.gather(sink._follow, return_exceptions=True)
        sink._check_follower()  # a follower that ended by design (the sink stopping)
        sink._follow = asyncio.create_task(fails())
        await asyncio.gather(sink._follow, return_exceptions=True)
        with pytest.raises(RuntimeError, match="registry follower failed"):
            sink._check_follower()

    asyncio.run(scenario())
