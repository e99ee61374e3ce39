"""A worker loop's restarts go through the one retry helper: a quarantined record replays at
once, a Kafka failure restarts after a growing back-off, anything else is raised (a bug of
the loop: the worker exits for its supervisor)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError

import streams.loop
from streams.loop import LoopConfig, PartitionLoop, Record, _Replay
from streams.store import Send, Store
from tradelane.retry import retrying
from tradelane.settings import KafkaSettings


class _Stage:
    keyed = frozenset({"in"})

    def __init__(self) -> None:
        self.store: Store[bytes] = Store(bytes, bytes)
        self.dropped = 0

    @property
    def stores(self) -> tuple[tuple[Store[Any], str], ...]:
        return ((self.store, "changelog"),)

    def route(self, topic: str, messages: Sequence[Any]) -> list[Send]:
        return []

    def apply(self, records: list[Record]) -> list[Send]:
        return []

    def drop(self, partitions: set[int]) -> None:
        self.dropped += 1


class _Done(Exception):  # noqa: N818 - ends the scenario: not restartable
    pass


def _loop_failing_with(
    errors: list[BaseException], monkeypatch: pytest.MonkeyPatch
) -> tuple[PartitionLoop, _Stage, list[float]]:
    stage = _Stage()
    loop = PartitionLoop(
        KafkaSettings(transactions=False), LoopConfig("g", ("in",)), stage, asyncio.Event()
    )
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    async def run_once() -> None:
        raise errors.pop(0)

    monkeypatch.setattr(loop, "_run_once", run_once)
    monkeypatch.setattr(
        streams.loop, "retrying", functools.partial(retrying, sleep=sleep, draw=lambda: 0.999)
    )
    return loop, stage, pauses


async def test_replays_at_once_and_restarts_after_kafka_failures_with_back_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    errors: list[BaseException] = [
        _Replay("record quarantined"),
        KafkaConnectionError("broker gone"),
        _Replay("record quarantined"),
        KafkaConnectionError("broker gone"),
        _Done(),
    ]
    loop, stage, pauses = _loop_failing_with(errors, monkeypatch)
    with pytest.raises(_Done):
        await loop.run()
    assert loop.restarts == 4  # every restartable failure dropped the states
    assert stage.dropped == 4
    assert pauses == pytest.approx([1.0, 2.0], rel=1e-2)  # only the Kafka failures waited


async def test_a_bug_of_the_loop_is_raised_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    loop, stage, pauses = _loop_failing_with([KeyError("bug")], monkeypatch)
    with pytest.raises(KeyError):
        await loop.run()
    assert (loop.restarts, stage.dropped, pauses) == (0, 0, [])
