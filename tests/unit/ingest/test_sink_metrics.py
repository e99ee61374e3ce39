"""The sink's series count what its writes did: points accepted (per write, not per point),
each accepted write's time, and every refused attempt."""

from __future__ import annotations

import asyncio

from tests.unit.ingest.test_sink_write import FlakyWriteApi, _sink
from transport.metrics import value


async def test_writes_failures_and_points_are_counted() -> None:
    sink, api = _sink(), FlakyWriteApi(failures=2)
    lines = ["m f=1 1", "m f=2 2", "m f=3 3"]
    assert await sink._write(api, lines, asyncio.Event()) is True  # type: ignore[arg-type]
    r = sink.metrics.registry
    assert value(r, "tradelane_sink_points_written_total") == 3
    assert value(r, "tradelane_sink_write_failures_total") == 2
    assert value(r, "tradelane_sink_write_seconds_count") == 1
