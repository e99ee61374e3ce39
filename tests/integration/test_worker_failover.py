"""Two workers share a group; one is SIGKILLed mid-stream. Its partitions move to the other,
which recovers their shipment state from the changelog and carries on: every event the pure
core derives offline from the same input is on `shipments.events` (none lost), with the same
content, and no event exists that the oracle does not know (none invented twice under another
id). A redelivered reading may re-send an event with the same id: consumers de-duplicate by id
(docs/reliability.md)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

import streams.core
from tests.integration.helpers import Tail, stop_process, wait_for_output
from tests.integration.test_worker import voyage
from tests.samples import booking
from tradelane.contracts import IngestedReading, MilestoneReached, ShipmentEvent
from tradelane.settings import KafkaSettings
from tradelane.topics import SHIPMENTS_EVENTS, SHIPMENTS_REGISTRY, TRACKER_READINGS
from transport import kafka as clients
from transport.admin import members_with_partitions

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]
SHIPMENTS = 24
FAST_FAILOVER = {"BROKER_SESSION_TIMEOUT": "10", "BROKER_HEARTBEAT_INTERVAL": "1"}
"""faust reads these from the environment: a dead member leaves the group after 10 s."""


def start(app_id: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                *(sys.executable, "-m", "cli.main", "worker"),
                *("--from-now", "--no-finance", "--app-id", app_id),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **FAST_FAILOVER},
        )


async def send(producer: AIOKafkaProducer, items: list[tuple[str, IngestedReading]]) -> None:
    for device, item in items:
        await producer.send(
            TRACKER_READINGS.name, item.model_dump_json().encode(), key=device.encode()
        )
    await producer.flush()


def oracle(shipment: str, device: str) -> dict[str, str]:
    """The events the pure core derives from the booking and the whole voyage, in order."""
    state = streams.core.new_state(shipment)
    events = streams.core.apply_in_place(state, booking(shipment, [device]))
    for item in voyage(device):
        events += streams.core.apply_in_place(state, item)
    return {e.id: e.model_dump_json() for e in events}


async def test_killing_one_of_two_workers_loses_and_duplicates_nothing(
    kafka_settings: KafkaSettings, unique: str, tmp_path: Path
) -> None:
    app_id = f"tradelane-streams-failover-{unique}"
    pairs = {f"fo{unique}-shp{i:03d}": f"fo{unique}-t{i:03d}" for i in range(SHIPMENTS)}
    producer = clients.producer(kafka_settings, acks="all")
    await producer.start()
    # Bookings first: a worker reads the registry to its end before it routes a reading.
    for shipment, device in pairs.items():
        await producer.send(
            SHIPMENTS_REGISTRY.name,
            booking(shipment, [device]).model_dump_json().encode(),
            key=shipment.encode(),
        )
    await producer.flush()
    survivor = start(app_id, tmp_path / "a.log")
    victim = start(app_id, tmp_path / "b.log")
    try:
        wait_for_output(tmp_path / "a.log", f"worker {app_id}:", survivor)
        wait_for_output(tmp_path / "b.log", f"worker {app_id}:", victim)
        deadline = time.monotonic() + 120
        while await members_with_partitions(kafka_settings, app_id) < 2:
            assert time.monotonic() < deadline, "the two workers never shared the partitions"
            assert survivor.poll() is None
            assert victim.poll() is None
            await asyncio.sleep(0.5)  # polling the group coordinator under a deadline

        async with Tail(kafka_settings, SHIPMENTS_EVENTS.name) as tail:

            def mine(records: list[Any]) -> list[ShipmentEvent]:
                parsed = (ShipmentEvent.model_validate_json(r.value) for r in records)
                return [e for e in parsed if e.subject in pairs]

            def reached(records: list[Any], milestone: str) -> set[str]:
                return {
                    e.subject
                    for e in mine(records)
                    if isinstance(e.data, MilestoneReached) and e.data.milestone.value == milestone
                }

            voyages = {device: voyage(device) for device in pairs.values()}
            half = len(next(iter(voyages.values()))) // 2
            await send(producer, [(d, r) for d, v in voyages.items() for r in v[:half]])
            await tail.until(lambda rs: reached(rs, "departed_origin") == set(pairs), 120)
            assert reached(tail.records, "departed_origin") == set(pairs)

            victim.kill()  # SIGKILL: no commit, no goodbye to the group
            assert victim.wait(10) == -9
            await send(producer, [(d, r) for d, v in voyages.items() for r in v[half:]])
            await tail.until(lambda rs: reached(rs, "arrived_destination") == set(pairs), 240)
            assert survivor.poll() is None, (tmp_path / "a.log").read_text()[-3000:]
    finally:
        await producer.stop()
        code = stop_process(survivor)
        if victim.poll() is None:
            victim.kill()

    seen: dict[str, set[str]] = {}
    for e in mine(tail.records):
        seen.setdefault(e.id, set()).add(e.model_dump_json())
    expected: dict[str, str] = {}
    for shipment, device in pairs.items():
        expected |= oracle(shipment, device)
    assert set(seen) == set(expected), (
        f"lost {sorted(set(expected) - set(seen))[:5]}, "
        f"unknown {sorted(set(seen) - set(expected))[:5]}"
    )
    assert all(contents == {expected[i]} for i, contents in seen.items())
    copies = len(mine(tail.records)) - len(seen)
    print(f"{len(seen)} events, {copies} redelivered copies (same id and content)")
    assert code == 0, (tmp_path / "a.log").read_text()[-3000:]
