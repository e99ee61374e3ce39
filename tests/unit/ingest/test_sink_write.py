"""The sink's InfluxDB write: retried with back-off until accepted, counted, and given up
only when the sink is stopped (points are never dropped)."""

from __future__ import annotations

import asyncio
from typing import Any

from ingest.sink import Sink, SinkConfig
from tradelane.settings import InfluxSettings, KafkaSettings


class FlakyWriteApi:
    """Refuses the first ``failures`` writes, then accepts."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.refused_twice = asyncio.Event()

    async def write(self, **_kwargs: Any) -> bool:
        self.calls += 1
        if self.calls <= self.failures:
            if self.calls >= 2:
                self.refused_twice.set()
            raise ConnectionError("influxdb restarting")
        return True


def _sink() -> Sink:
    config = SinkConfig(retry_initial_s=0.001, retry_max_s=0.004)
    return Sink(KafkaSettings(), InfluxSettings(), config)


async def test_a_refused_write_is_retried_until_accepted() -> None:
    sink, api = _sink(), FlakyWriteApi(failures=3)
    assert await sink._write(api, ["m f=1 1"], asyncio.Event()) is True  # type: ignore[arg-type]
    assert api.calls == 4
    assert sink.stats.write_retries == 3
    assert sink.stats.points_written == 1


async def test_a_stop_ends_the_retries_without_writing() -> None:
    sink, api = _sink(), FlakyWriteApi(failures=10**9)
    stop = asyncio.Event()
    writing = asyncio.create_task(sink._write(api, ["m f=1 1"], stop))  # type: ignore[arg-type]
    await asyncio.wait_for(api.refused_twice.wait(), 5)
    stop.set()
    assert await asyncio.wait_for(writing, 5) is False
    assert sink.stats.points_written == 0


async def test_a_first_write_goes_out_even_when_stopping() -> None:
    sink, api = _sink(), FlakyWriteApi(failures=0)
    stop = asyncio.Event()
    stop.set()  # the final flush of a stopping sink
    assert await sink._write(api, ["m f=1 1"], stop) is True  # type: ignore[arg-type]
    assert api.calls == 1
