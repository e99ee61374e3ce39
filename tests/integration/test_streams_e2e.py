"""Simulator → Mosquitto → bridge → Kafka → worker, in the `reefer-failure` scenario: every
shipment whose reefer the simulator failed gets a consecutive temperature breach with evidence,
departures are detected for every shipment, and the manifest is the oracle."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.bridge import Bridge, BridgeConfig
from tests.integration.helpers import Tail, stop_process, wait_for_output
from tradelane.contracts import BreachStarted, MilestoneReached, ShipmentEvent
from tradelane.mqtt import forget_session
from tradelane.settings import KafkaSettings, MqttSettings
from tradelane.topics import SHIPMENTS_EVENTS

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]


async def test_reefer_failure_scenario_end_to_end(
    mqtt_settings: MqttSettings, kafka_settings: KafkaSettings, unique: str, tmp_path: Path
) -> None:
    prefix = f"e2e{unique[:6]}"
    manifest = tmp_path / "manifest.json"
    stop = asyncio.Event()
    bridge = Bridge(
        mqtt_settings,
        kafka_settings,
        BridgeConfig(
            client_id=f"s-{unique}",
            share_group=f"s-{unique}",
            session_expiry_s=300,
            metrics_port=None,
        ),
    )
    log = tmp_path / "worker.log"
    with log.open("ab") as out:
        worker = subprocess.Popen(  # noqa: ASYNC220 - a child we watch, not a blocking call
            [
                sys.executable,
                "-m",
                "tradelane.cli.main",
                "worker",
                "--from-now",
                "--app-id",
                f"it-e2e-{unique}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )
    task = asyncio.create_task(bridge.run(stop))
    try:
        wait_for_output(log, f"worker it-e2e-{unique}:", worker)
        async with Tail(kafka_settings, SHIPMENTS_EVENTS.name) as tail:
            await asyncio.wait_for(bridge.subscribed.wait(), 15)
            sim = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tradelane.cli.main",
                "simulate",
                "--trackers",
                "8",
                "--scenario",
                "reefer-failure",
                "--incident-share",
                "0.5",
                "--seed",
                "11",
                "--speedup",
                "172800",
                "--duration",
                "25",
                "--prefix",
                prefix,
                "--max-trackers-per-shipment",
                "1",
                "--manifest",
                str(manifest),
                "--quiet",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            sim_out, _ = await asyncio.wait_for(sim.communicate(), 180)
            assert sim.returncode == 0, sim_out.decode()
            plan = json.loads(manifest.read_text())
            shipments = {s["shipment_id"]: s for s in plan["shipments"]}
            failed = {
                s
                for s, rec in shipments.items()
                if any(i["kind"] == "reefer_failure" for i in rec["incidents"])
            }
            assert failed, "the scenario planted no reefer failure"

            def events(records: list[object]) -> list[ShipmentEvent]:
                return [
                    e
                    for e in (
                        ShipmentEvent.model_validate_json(r.value)  # type: ignore[attr-defined]
                        for r in records
                    )
                    if e.subject in shipments
                ]

            def breached(records: list[object]) -> set[str]:
                return {
                    e.subject
                    for e in events(records)
                    if isinstance(e.data, BreachStarted) and e.data.rule.value == "consecutive"
                }

            records = await tail.until(lambda rs: breached(rs) >= failed, timeout_s=240)
    finally:
        stop.set()
        await task
        forget_session(mqtt_settings, f"s-{unique}")
        code = stop_process(worker)
    got = events(records)
    assert breached(records) >= failed, (sorted(failed), log.read_text()[-2000:])
    departed = {
        e.subject
        for e in got
        if isinstance(e.data, MilestoneReached) and e.data.milestone.value == "departed_origin"
    }
    assert departed == set(shipments)
    for e in got:
        if isinstance(e.data, BreachStarted):
            assert e.data.breach.value.startswith("temperature")
    assert len({e.id for e in got}) == len({(e.id, e.model_dump_json()) for e in got})
    assert code == 0, log.read_text()[-2000:]
