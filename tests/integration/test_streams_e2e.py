"""Simulator → Mosquitto → bridge → Kafka → worker, in the `reefer-failure` scenario: every
shipment whose reefer the simulator failed gets a consecutive temperature breach with evidence,
departures are detected for every shipment, and the manifest is the oracle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.helpers import Tail, bridge_and_worker, simulate_reefer_failure
from tradelane.contracts import BreachStarted, MilestoneReached, ShipmentEvent
from tradelane.settings import KafkaSettings, MqttSettings
from tradelane.topics import SHIPMENTS_EVENTS

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]


def shipment_events(records: list[object], shipments: dict[str, object]) -> list[ShipmentEvent]:
    events = (ShipmentEvent.model_validate_json(r.value) for r in records)  # type: ignore[attr-defined]
    return [e for e in events if e.subject in shipments]


def breached(events: list[ShipmentEvent]) -> set[str]:
    return {
        e.subject
        for e in events
        if isinstance(e.data, BreachStarted) and e.data.rule.value == "consecutive"
    }


async def test_reefer_failure_scenario_end_to_end(
    mqtt_settings: MqttSettings, kafka_settings: KafkaSettings, unique: str, tmp_path: Path
) -> None:
    prefix = f"e2e{unique[:6]}"
    manifest = tmp_path / "manifest.json"
    async with (
        bridge_and_worker(mqtt_settings, kafka_settings, f"it-e2e-{unique}", tmp_path) as run,
        Tail(kafka_settings, SHIPMENTS_EVENTS.name) as tail,
    ):
        await simulate_reefer_failure(prefix, "--manifest", str(manifest))
        shipments = {s["shipment_id"]: s for s in json.loads(manifest.read_text())["shipments"]}
        failed = {
            s
            for s, rec in shipments.items()
            if any(i["kind"] == "reefer_failure" for i in rec["incidents"])
        }
        assert failed, "the scenario planted no reefer failure"
        records = await tail.until(
            lambda rs: breached(shipment_events(rs, shipments)) >= failed, timeout_s=240
        )
    events = shipment_events(records, shipments)
    assert breached(events) >= failed, (sorted(failed), run.worker_log.read_text()[-2000:])
    departed = {
        e.subject
        for e in events
        if isinstance(e.data, MilestoneReached) and e.data.milestone.value == "departed_origin"
    }
    assert departed == set(shipments)
    for e in events:
        if isinstance(e.data, BreachStarted):
            assert e.data.breach.value.startswith("temperature")
    assert len({e.id for e in events}) == len({(e.id, e.model_dump_json()) for e in events})
    assert run.worker_exit == 0, run.worker_log.read_text()[-2000:]
