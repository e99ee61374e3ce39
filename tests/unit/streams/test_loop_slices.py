"""A loop applies a large batch in slices: every record once and in order, each slice's effects
produced before the next slice is applied, and other tasks run in between."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from streams import loop as loop_module
from streams.loop import LoopConfig, PartitionLoop, Record
from streams.store import Send, Store
from tradelane.settings import KafkaSettings


class _Producer:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def send(
        self,
        topic: str,
        value: bytes,
        key: bytes,
        partition: int | None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Any:
        self.log.append(f"send {value.decode()}")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class _Stage:
    """Echoes each record as an effect; counts how often the other task ran meanwhile."""

    keyed = frozenset({"in"})

    def __init__(self, log: list[str], ticks: list[int]) -> None:
        self.log, self.ticks = log, ticks
        self.store: Store[bytes] = Store(bytes, bytes)

    @property
    def stores(self) -> tuple[tuple[Store[Any], str], ...]:
        return ((self.store, "changelog"),)

    def route(self, topic: str, messages: Sequence[Any]) -> list[Send]:
        return []

    def apply(self, records: list[Record]) -> list[Send]:
        self.log.append(f"apply {len(records)} at tick {self.ticks[0]}")
        return [("out", k, v, None) for _, _, k, v, _ in records]

    def drop(self, partitions: set[int]) -> None:
        return None


def test_a_batch_is_applied_in_slices_with_other_tasks_running_between() -> None:
    async def scenario() -> tuple[list[str], list[int]]:
        log: list[str] = []
        ticks = [0]
        stage = _Stage(log, ticks)
        loop = PartitionLoop(
            KafkaSettings(transactions=False), LoopConfig("g", ("in",)), stage, asyncio.Event()
        )
        loop._producer = _Producer(log)  # type: ignore[assignment]
        loop._slice = 3  # as if each record had taken a third of a slice's time

        async def other() -> None:
            while True:
                ticks[0] += 1
                await asyncio.sleep(0)

        ticker = asyncio.create_task(other())
        await asyncio.sleep(0)
        records: list[Record] = [("in", 0, b"k", str(i).encode(), i) for i in range(7)]
        await loop._apply_in_slices(records, [])
        ticker.cancel()
        return log, ticks

    original = loop_module.SLICE_S
    loop_module.SLICE_S = 1e9  # as if the first slice had been quick: the rest fits in one
    try:
        log, _ = asyncio.run(scenario())
    finally:
        loop_module.SLICE_S = original
    applies = [line for line in log if line.startswith("apply")]
    # a first slice of 3, then the rest at once (a slice grows to what fits in SLICE_S)
    assert [int(a.split()[1]) for a in applies] == [3, 4]
    sent = [line.removeprefix("send ") for line in log if line.startswith("send")]
    assert sent == [str(i) for i in range(7)]  # every record once, in order
    # the first slice's effects were sent before the second slice was applied
    assert log.index("send 2") < log.index(applies[1])
    ticks_at = [int(a.rsplit(" ", 1)[1]) for a in applies]
    assert ticks_at == sorted(set(ticks_at))  # the other task ran between any two slices
