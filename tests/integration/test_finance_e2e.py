"""The whole chain on real services, `reefer-failure` scenario with a pledged, insured fleet:
simulator → Mosquitto → bridge → Kafka → worker (shipment state, pledge engine, insurance
engine). The line draws at departure, a failed reefer raises a temperature claim with evidence,
and the facility's hash-chained ledger verifies."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from finance.demo_terms import demo_facility, demo_policy
from finance.fx_feed import simulated_rates
from finance.fx_publisher import publish_rates
from finance.ledger_store import LedgerStore
from ingest.bridge import Bridge, BridgeConfig
from tests.integration.helpers import Tail, stop_process, wait_for_output
from tradelane.contracts import ClaimEvent, Money
from tradelane.contracts.finance import FinanceEvent
from tradelane.mqtt import forget_session
from tradelane.settings import KafkaSettings, MqttSettings
from tradelane.topics import (
    FINANCE_EVENTS,
    FINANCE_FACILITIES,
    INSURANCE_CLAIMS,
    INSURANCE_POLICIES,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]
TRACKERS = 8


async def test_pledged_insured_fleet_end_to_end(
    mqtt_settings: MqttSettings, kafka_settings: KafkaSettings, unique: str, tmp_path: Path
) -> None:
    prefix = f"fin{unique[:6]}"
    facility_id = f"fac-{unique}"
    shipments = [f"{prefix}-shp{i:05d}" for i in range(TRACKERS)]
    await publish_rates(
        kafka_settings, simulated_rates(7, datetime(2026, 1, 1, tzinfo=UTC), count=1)
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_settings.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            FINANCE_FACILITIES.name,
            demo_facility(facility_id, shipments).model_dump_json().encode(),
            key=facility_id.encode(),
        )
        for shipment in shipments:
            policy = demo_policy(shipment, Money(amount=Decimal("100000"), currency="USD"))
            await producer.send_and_wait(
                INSURANCE_POLICIES.name,
                policy.model_dump_json().encode(),
                key=policy.policy_id.encode(),
            )
    finally:
        await producer.stop()

    stop = asyncio.Event()
    bridge = Bridge(
        mqtt_settings,
        kafka_settings,
        BridgeConfig(
            client_id=f"f-{unique}",
            share_group=f"f-{unique}",
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
                f"it-fin-{unique}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )
    task = asyncio.create_task(bridge.run(stop))
    try:
        wait_for_output(log, f"worker it-fin-{unique}:", worker)
        async with (
            Tail(kafka_settings, FINANCE_EVENTS.name) as finance,
            Tail(kafka_settings, INSURANCE_CLAIMS.name) as claims,
        ):
            await asyncio.wait_for(bridge.subscribed.wait(), 15)
            sim = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tradelane.cli.main",
                "simulate",
                "--trackers",
                str(TRACKERS),
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
                "--quiet",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            sim_out, _ = await asyncio.wait_for(sim.communicate(), 180)
            assert sim.returncode == 0, sim_out.decode()

            def kinds(records: list[object]) -> list[str]:
                return [
                    e.data.kind
                    for e in (
                        FinanceEvent.model_validate_json(r.value)  # type: ignore[attr-defined]
                        for r in records
                    )
                    if e.subject == facility_id
                ]

            def raised(records: list[object]) -> list[ClaimEvent]:
                return [
                    c
                    for c in (
                        ClaimEvent.model_validate_json(r.value)  # type: ignore[attr-defined]
                        for r in records
                    )
                    if c.subject.startswith(f"pol-{prefix}")
                ]

            await finance.until(lambda rs: "drawdown_executed" in kinds(rs), timeout_s=240)
            await claims.until(lambda rs: len(raised(rs)) > 0, timeout_s=240)
    finally:
        stop.set()
        await task
        forget_session(mqtt_settings, f"f-{unique}")
        code = stop_process(worker)
    finance_kinds = kinds(finance.records)
    assert "drawdown_executed" in finance_kinds, (finance_kinds, log.read_text()[-2000:])
    assert "borrowing_base_changed" in finance_kinds
    claim_events = raised(claims.records)
    assert claim_events, log.read_text()[-2000:]
    assert {c.data.kind for c in claim_events} & {"claim_raised", "claim_needs_review"}
    result = await LedgerStore(kafka_settings).verify(facility_id)
    assert result.ok, result
    assert result.entries > 0
    assert code == 0, log.read_text()[-2000:]
