"""A worker never stops on input: a record its loops cannot read becomes a dead letter that
names its topic, partition and offset and why, and the batch goes on; a record whose
application raises is quarantined and dead-lettered when the loop replays it; a task that
crashes takes the worker down instead of leaving it half alive."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import ConsumerRecord

import streams.hotpath
from streams import app as worker_app
from streams.hotpath import BOOKING, READING, STATUS, HotPath
from streams.loop import LoopConfig, PartitionLoop, Record, RecordFailedError, _Replay
from streams.pledge_stage import PledgeStage
from streams.registries import Registries
from streams.store import Send, Store
from tests.samples import booking
from tests.unit.streams.test_hotpath import voyage
from tradelane.contracts import DeadLetter, DeadLetterReason, Milestone
from tradelane.settings import KafkaSettings
from tradelane.topics import (
    FINANCE_COMMANDS,
    FINANCE_REQUESTS,
    INSURANCE_COMMANDS,
    SHIPMENTS_EVENTS,
    TRACKER_DEADLETTER,
    TRACKER_READINGS,
    TRACKER_STATUS,
)

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
SHIPMENT, DEVICE = "shp-dl", "trk-dl"


def _hot() -> HotPath:
    registries = Registries()
    registries.learn(booking(SHIPMENT, [DEVICE]))
    hot = HotPath(
        registries, "by-shipment", ("c-ship", "c-ins"), None, source="worker:t", clock=lambda: NOW
    )
    hot.shipments.load(0, [])
    hot.insurance.load(0, [])
    return hot


def _letters(sends: list[Send]) -> list[DeadLetter]:
    return [
        DeadLetter.model_validate_json(v) for t, _k, v, _p in sends if t == TRACKER_DEADLETTER.name
    ]


def _message(topic: str, offset: int, key: bytes | None, value: bytes | None) -> Any:
    return ConsumerRecord(topic, 2, offset, 0, 0, key, value, None, 0, 0, ())


def _reading(seq: int) -> bytes:
    return READING + voyage(DEVICE, seq + 1)[seq].model_dump_json().encode()


JUNK = [b"{}", b"\xff\xfe not json", READING + b"{}", BOOKING + b"[1]", STATUS + b"9" * 5000]


def test_unreadable_shipment_inputs_become_dead_letters_and_the_batch_goes_on() -> None:
    hot = _hot()
    key = SHIPMENT.encode()
    records: list[Record] = [("by-shipment", 0, key, v, 10 + i) for i, v in enumerate(JUNK)]
    records += [
        (
            "by-shipment",
            0,
            key,
            BOOKING + booking(SHIPMENT, [DEVICE]).model_dump_json().encode(),
            20,
        ),
        ("by-shipment", 0, b"", _reading(0), 21),  # no key
        ("by-shipment", 0, b"\xff\xfe", _reading(0), 22),  # a key that is no text
        *[("by-shipment", 0, key, _reading(seq), 30 + seq) for seq in range(4)],
    ]
    sends = hot.apply(records)
    letters = _letters(sends)
    assert [(d.kafka_topic, d.kafka_partition, d.kafka_offset) for d in letters] == [
        ("by-shipment", 0, o) for o in (10, 11, 12, 13, 14, 21, 22)
    ]
    assert all(d.source == "worker:t" and d.received_at == NOW and d.message for d in letters)
    reasons = [d.reason for d in letters]
    assert reasons[2:4] == [DeadLetterReason.SCHEMA_VIOLATION, DeadLetterReason.SCHEMA_VIOLATION]
    assert reasons[5:] == [DeadLetterReason.INVALID_KEY, DeadLetterReason.INVALID_KEY]
    assert reasons[4] is DeadLetterReason.MALFORMED_JSON  # 5,000 digits
    # the good inputs around them were applied: the departure is an event
    events = [json.loads(v)["type"] for t, _k, v, _p in sends if t == SHIPMENTS_EVENTS.name]
    assert any("milestone" in e for e in events)


def test_unroutable_junk_becomes_a_dead_letter_with_its_origin() -> None:
    hot = _hot()
    good = voyage(DEVICE, 1)[0].model_dump_json().encode()
    sends = hot.route(
        TRACKER_READINGS.name,
        [
            _message(TRACKER_READINGS.name, 5, None, b"{}"),
            _message(TRACKER_READINGS.name, 6, b"\xff", good),
            _message(TRACKER_READINGS.name, 7, DEVICE.encode(), good),
        ],
    )
    letters = _letters(sends)
    assert [(d.kafka_offset, d.reason) for d in letters] == [
        (5, DeadLetterReason.SCHEMA_VIOLATION),
        (6, DeadLetterReason.INVALID_KEY),
    ]
    assert [s[0] for s in sends if s[0] != TRACKER_DEADLETTER.name] == ["by-shipment"]
    status = hot.route(TRACKER_STATUS.name, [_message(TRACKER_STATUS.name, 1, b"\xff", b"{}")])
    assert [d.reason for d in _letters(status)] == [DeadLetterReason.INVALID_KEY]
    decisions = hot.route(
        INSURANCE_COMMANDS.name,
        [
            _message(INSURANCE_COMMANDS.name, 3, None, b"{}"),
            _message(INSURANCE_COMMANDS.name, 4, b"s", b"{}"),
        ],
    )
    assert [(d.kafka_offset, d.reason) for d in _letters(decisions)] == [
        (3, DeadLetterReason.INVALID_KEY),
        (4, DeadLetterReason.SCHEMA_VIOLATION),
    ]


def test_a_record_whose_application_raises_is_named_and_its_states_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hot = _hot()
    original = streams.hotpath.apply_to_shipment

    def failing(state: Any, insurance: Any, item: Any, *rest: Any) -> Any:
        if getattr(getattr(item, "reading", None), "seq", None) == 2:
            raise ZeroDivisionError("a rule's bug")
        return original(state, insurance, item, *rest)

    monkeypatch.setattr("streams.hotpath.apply_to_shipment", failing)
    key = SHIPMENT.encode()
    records: list[Record] = [("by-shipment", 0, key, _reading(s), 40 + s) for s in range(4)]
    with pytest.raises(RecordFailedError) as failed:
        hot.apply(records)
    assert failed.value.index == 2
    assert isinstance(failed.value.cause, ZeroDivisionError)
    assert 0 not in hot.shipments  # half-applied states are recovered from the changelog


class _Stage:
    keyed = frozenset({"in"})

    def __init__(self, fail_at: set[int]) -> None:
        self.fail_at, self.applied = fail_at, list[int]()
        self.store: Store[bytes] = Store(bytes, bytes)

    @property
    def stores(self) -> tuple[tuple[Store[Any], str], ...]:
        return ((self.store, "changelog"),)

    def route(self, topic: str, messages: Sequence[Any]) -> list[Send]:
        return []

    def apply(self, records: list[Record]) -> list[Send]:
        for i, record in enumerate(records):
            if record[4] in self.fail_at:
                raise RecordFailedError(i, ValueError("boom"))
            self.applied.append(record[4])
        return [("out", r[2], r[3], None) for r in records]

    def drop(self, partitions: set[int]) -> None:
        return None


def test_a_failing_record_is_quarantined_then_dead_lettered_on_replay() -> None:
    stage = _Stage({3})
    loop = PartitionLoop(
        KafkaSettings(transactions=False), LoopConfig("g", ("in",)), stage, asyncio.Event()
    )
    records: list[Record] = [("in", 1, b"k", str(i).encode(), i) for i in range(5)]
    with pytest.raises(_Replay):
        loop._apply(records)
    assert loop.poison == {("in", 1, 3): "ValueError: boom"}
    stage.applied.clear()
    sends = loop._apply(records)  # the replay after the restart
    assert stage.applied == [0, 1, 2, 4]
    (letter,) = _letters(sends)
    assert (letter.kafka_topic, letter.kafka_partition, letter.kafka_offset) == ("in", 1, 3)
    assert letter.reason is DeadLetterReason.APPLY_FAILED
    assert letter.source == "worker:g"
    assert "boom" in letter.message


class _Shell:
    def handle(self, table: Any, key: bytes, value: bytes, sync: Any) -> list[Any]:
        if value.endswith(b"raise"):
            raise KeyError("an engine's bug")
        if value.endswith(b"{}"):
            from tradelane.contracts import FinanceCommand

            FinanceCommand.model_validate_json(b"{}")
        return [("events", key, b"ok")]


def test_a_request_is_read_as_a_request_so_a_repayment_cannot_pass_as_one() -> None:
    """The API's principal writes ``finance.requests``: a repayment there is refused (it
    would move money), a tranche decision is routed to the facility's log."""
    from tests.unit.finance.builders import decision, repayment
    from tradelane.contracts import FinanceCommand, FinanceRequest

    def wrap(model: type[Any], data: Any) -> bytes:
        envelope = model(
            id="r-1", source="/t", type="tradelane.test.v1", subject="fac-1", time=NOW, data=data
        )
        return bytes(envelope.model_dump_json().encode())

    stage = PledgeStage(Registries(), "finance-in", "c-fac", source="worker:p", clock=lambda: NOW)
    smuggled = wrap(FinanceCommand, repayment("1000", 2))
    click = wrap(FinanceRequest, decision(Milestone.DEPARTED_ORIGIN, 2))
    routed = stage.route(
        FINANCE_REQUESTS.name,
        [
            _message(FINANCE_REQUESTS.name, 1, b"fac-1", smuggled),
            _message(FINANCE_REQUESTS.name, 2, b"fac-1", click),
        ],
    )
    letters = _letters(routed)
    assert [(d.kafka_offset, d.reason) for d in letters] == [(1, DeadLetterReason.SCHEMA_VIOLATION)]
    assert [s[0] for s in routed if s[0] == "finance-in"] == ["finance-in"]
    assert FINANCE_REQUESTS.name in stage.topics


def test_the_pledge_stage_dead_letters_and_goes_on() -> None:
    stage = PledgeStage(Registries(), "finance-in", "c-fac", source="worker:p", clock=lambda: NOW)
    stage.store.load(0, [])
    stage.shell = _Shell()  # type: ignore[assignment]
    routed = stage.route(
        FINANCE_COMMANDS.name,
        [
            _message(FINANCE_COMMANDS.name, 8, b"fac-1", b"{}"),
            _message(FINANCE_COMMANDS.name, 9, None, b"{}"),
            _message(FINANCE_COMMANDS.name, 10, b"fac-1", b"\x00" * 10_000),
        ],
    )
    letters = _letters(routed)
    assert [(d.kafka_topic, d.kafka_offset, d.reason) for d in letters] == [
        (FINANCE_COMMANDS.name, 8, DeadLetterReason.SCHEMA_VIOLATION),
        (FINANCE_COMMANDS.name, 9, DeadLetterReason.INVALID_KEY),
        (FINANCE_COMMANDS.name, 10, DeadLetterReason.MALFORMED_JSON),
    ]
    assert letters[2].payload_truncated
    assert letters[2].payload_size == 10_000
    sends = stage.apply(
        [
            ("finance-in", 0, b"fac-1", b"Craise", 1),
            ("finance-in", 0, b"fac-1", b"C{}", 2),
            ("finance-in", 0, b"\xff", b"Cfine", 3),
            ("finance-in", 0, b"fac-1", b"Cfine", 4),
        ]
    )
    assert [(d.kafka_offset, d.reason) for d in _letters(sends)] == [
        (1, DeadLetterReason.APPLY_FAILED),
        (2, DeadLetterReason.SCHEMA_VIOLATION),
        (3, DeadLetterReason.INVALID_KEY),
    ]
    assert ("finance.events", b"fac-1", b"ok", None) in sends  # the good one went through


def test_a_crashed_task_exits_the_worker_and_a_cancelled_one_does_not() -> None:
    exits: list[int] = []

    async def crashes() -> None:
        raise RuntimeError("a loop's bug")

    async def runs() -> None:
        await asyncio.sleep(3600)

    async def scenario() -> None:
        await worker_app.fatal("loop x", crashes, exits.append)()
        task = asyncio.ensure_future(worker_app.fatal("loop y", runs, exits.append)())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert exits == [worker_app.EXIT_CRASHED]


def test_dead_letters_of_records_are_bounded_whatever_the_payload() -> None:
    hot = _hot()
    huge = READING + b"[" * 900_000
    (letter,) = _letters(hot.apply([("by-shipment", 0, SHIPMENT.encode(), huge, 1)]))
    assert letter.payload_size == len(huge)
    assert letter.payload_truncated
    assert len(letter.model_dump_json()) < 12_000
    assert timedelta(0) == letter.received_at - NOW
