"""No consumer stops on input, against the real Kafka: junk (``{}``, bytes that are no JSON,
wrong-version records, a 5,000-digit number, records without a key) written to every topic a
worker reads, and to the readings the sink reads; then a pledged shipment departs and the
worker still draws on its credit line. Every junk record is found on ``tracker.deadletter``
with its topic, partition, offset and reason, and the worker stops cleanly afterwards."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.sink import Sink, SinkConfig
from streams.app import finance_topic, shipment_topic
from tests.integration.helpers import Tail, stop_process, wait_for_output
from tests.integration.test_worker import start_worker, voyage
from tests.samples import booking
from tests.samples import facility as facility_sample
from tradelane.contracts import (
    DeadLetter,
    DeadLetterReason,
    read_dead_letter,
)
from tradelane.contracts.finance import DrawdownExecuted, FinanceEvent
from tradelane.settings import InfluxSettings, KafkaSettings
from tradelane.topics import (
    FINANCE_COMMANDS,
    FINANCE_EVENTS,
    FINANCE_FACILITIES,
    FX_RATES,
    INSURANCE_COMMANDS,
    INSURANCE_POLICIES,
    SHIPMENTS_REGISTRY,
    TRACKER_DEADLETTER,
    TRACKER_READINGS,
    TRACKER_STATUS,
)
from transport import kafka as clients

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

COMPACTED = {
    SHIPMENTS_REGISTRY.name,
    FINANCE_FACILITIES.name,
    INSURANCE_POLICIES.name,
    FX_RATES.name,
}
ENVELOPES = {FINANCE_COMMANDS.name}
Junk = tuple[str, bytes | None, bytes, str]
"""(topic, key, value, what it is)."""


def _junk(app_id: str, unique: str) -> Iterator[Junk]:
    """Junk for every topic the worker reads. Keys name nothing booked (so the records are
    judged where they were written), except on the worker's own topics."""
    internal = {shipment_topic(app_id), finance_topic(app_id)}
    topics = [
        TRACKER_READINGS.name,
        TRACKER_STATUS.name,
        INSURANCE_COMMANDS.name,
        FINANCE_COMMANDS.name,
        *sorted(COMPACTED),
        *sorted(internal),
    ]
    for topic in topics:
        key = f"junk-{unique}-{topic}".encode()
        version = (
            b'{"specversion": "2.0", "id": "x", "source": "/x", "type": "tradelane.x.v1", '
            b'"subject": "fac-x", "time": "2026-01-01T00:00:00Z", "data": {}}'
            if topic in ENVELOPES
            else b'{"schema_version": 99, "id": "' + unique.encode() + b'"}'
        )
        yield topic, key, b"{}", "empty"
        yield topic, key, b"\xff\xfe\x00 junk " + unique.encode(), "bytes"
        yield topic, key, version, "version"
        yield topic, key, b'{"seq": ' + b"9" * 5000 + b', "n": "' + unique.encode() + b'"}', "huge"
        if topic not in COMPACTED:  # a compacted topic refuses a record without a key
            yield topic, None, b'{"no": "key", "n": "' + unique.encode() + b'"}', "keyless"
            # a key that is no text (its decoding once crashed the shipment loop for good)
            yield topic, b"\xff\xfe", b'{"bad": "key", "n": "' + unique.encode() + b'"}', "badkey"


async def test_junk_on_every_input_is_dead_lettered_and_money_still_moves(
    kafka_settings: KafkaSettings, influx_settings: InfluxSettings, unique: str, tmp_path: Path
) -> None:
    app_id = f"tradelane-streams-junk-{unique}"
    shipment, device, facility = f"shp-j{unique}", f"trk-j{unique}", f"fac-j{unique}"
    log = tmp_path / "worker.log"
    junk = list(_junk(app_id, unique))
    producer = clients.producer(kafka_settings)
    await producer.start()
    worker = start_worker(app_id, log)
    sink = Sink(
        kafka_settings,
        influx_settings,
        SinkConfig(group_id=f"sink-junk-{unique}", from_beginning=False, fetch_min_bytes=1),
    )
    stop = asyncio.Event()
    sink_task = asyncio.create_task(sink.run(stop))
    try:
        wait_for_output(log, f"worker {app_id}:", worker)
        await asyncio.wait_for(sink.ready.wait(), 60)
        async with (
            Tail(kafka_settings, TRACKER_DEADLETTER.name) as dead,
            Tail(kafka_settings, FINANCE_EVENTS.name) as money,
        ):
            for topic, key, value, _what in junk:
                await producer.send_and_wait(topic, value, key=key)
            # then a pledged shipment departs
            await producer.send_and_wait(
                SHIPMENTS_REGISTRY.name,
                booking(shipment, [device]).model_dump_json().encode(),
                key=shipment.encode(),
            )
            await producer.send_and_wait(
                FINANCE_FACILITIES.name,
                facility_sample(facility, shipment, "bank-junk", "shipper-junk")
                .model_dump_json()
                .encode(),
                key=facility.encode(),
            )
            for item in voyage(device)[:3]:  # at the origin, then away from it: departed
                await producer.send_and_wait(
                    TRACKER_READINGS.name, item.model_dump_json().encode(), key=device.encode()
                )

            def drawn(records: list[object]) -> list[DrawdownExecuted]:
                events = (FinanceEvent.model_validate_json(r.value) for r in records)  # type: ignore[attr-defined]
                return [
                    e.data
                    for e in events
                    if e.subject == facility and isinstance(e.data, DrawdownExecuted)
                ]

            await money.until(lambda rs: bool(drawn(rs)), timeout_s=120)
            expected = {_origin(t, v) for t, k, v, _ in junk}

            def letters(records: list[object]) -> dict[tuple[str, str], DeadLetter]:
                out = {}
                for r in records:
                    letter = read_dead_letter(r.value)  # type: ignore[attr-defined]
                    if (
                        isinstance(letter, DeadLetter)
                        and letter.kafka_topic is not None
                        and letter.source.startswith(f"worker:{app_id}")
                    ):
                        out[(letter.kafka_topic, letter.payload_sha256)] = letter
                return out

            def sink_letters(records: list[object]) -> set[str]:
                out = set()
                for r in records:
                    letter = read_dead_letter(r.value)  # type: ignore[attr-defined]
                    if isinstance(letter, DeadLetter) and letter.source == "sink":
                        out.add(letter.payload_sha256)
                return out

            readings_junk = {
                hashlib.sha256(v).hexdigest() for t, _k, v, _ in junk if t == TRACKER_READINGS.name
            }
            await dead.until(
                lambda rs: expected <= set(letters(rs)) and readings_junk <= sink_letters(rs),
                timeout_s=120,
            )
            assert worker.poll() is None, log.read_text()[-3000:]
    finally:
        stop.set()
        await asyncio.wait_for(sink_task, 60)
        for topic, key, _value, _what in junk:  # the compacted registries forget the junk
            if topic in COMPACTED:
                await producer.send_and_wait(topic, None, key=key)
        await producer.stop()
        code = stop_process(worker)

    assert drawn(money.records), log.read_text()[-3000:]
    (draw,) = drawn(money.records)
    assert draw.shipment_id == shipment
    assert draw.amount.amount > 0
    found = letters(dead.records)
    missing = expected - set(found)
    assert not missing, (missing, log.read_text()[-3000:])
    assert readings_junk <= sink_letters(dead.records)
    for topic, _key, value, what in junk:
        letter = found[_origin(topic, value)]
        assert letter.kafka_partition is not None
        assert letter.kafka_offset is not None
        assert letter.message
        assert letter.payload_size == len(value) + (letter.kafka_topic != topic)
        assert len(letter.model_dump_json()) < 12_000
        if what == "bytes":
            assert letter.reason is DeadLetterReason.MALFORMED_JSON, letter
        if letter.kafka_topic == topic and topic not in {
            shipment_topic(app_id),
            finance_topic(app_id),
        }:
            if what == "version":
                assert letter.reason is DeadLetterReason.UNSUPPORTED_VERSION, letter
            if what == "empty":
                assert letter.reason is DeadLetterReason.SCHEMA_VIOLATION, letter
            if what == "keyless" and topic in (INSURANCE_COMMANDS.name, FINANCE_COMMANDS.name):
                assert letter.reason is DeadLetterReason.INVALID_KEY, letter
            if what == "badkey":
                assert letter.reason is DeadLetterReason.INVALID_KEY, letter
    assert code == 0, log.read_text()[-3000:]


def _origin(topic: str, value: bytes) -> tuple[str, str]:
    """Where a junk record's dead letter says it was refused, and its payload's hash."""
    return topic, hashlib.sha256(value).hexdigest()
