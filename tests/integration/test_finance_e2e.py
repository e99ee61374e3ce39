"""The whole chain on real services, `reefer-failure` scenario with a pledged, insured fleet:
simulator → Mosquitto → bridge → Kafka → worker (shipment state, pledge engine, insurance
engine). The line draws at departure, a failed reefer raises a temperature claim with evidence,
and the facility's hash-chained ledger verifies."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from finance.demo_terms import demo_facility, demo_policy
from finance.fx_feed import simulated_rates
from finance.fx_publisher import publish_rates
from finance.ledger_store import LedgerStore
from tests.integration.helpers import Tail, bridge_and_worker, simulate_reefer_failure
from tradelane.contracts import ClaimEvent, Money
from tradelane.contracts.finance import FinanceEvent
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

    async with (
        bridge_and_worker(mqtt_settings, kafka_settings, f"it-fin-{unique}", tmp_path) as run,
        Tail(kafka_settings, FINANCE_EVENTS.name) as finance,
        Tail(kafka_settings, INSURANCE_CLAIMS.name) as claims,
    ):
        await simulate_reefer_failure(prefix)

        def kinds(records: list[object]) -> list[str]:
            events = (FinanceEvent.model_validate_json(r.value) for r in records)  # type: ignore[attr-defined]
            return [e.data.kind for e in events if e.subject == facility_id]

        def raised(records: list[object]) -> list[ClaimEvent]:
            events = (ClaimEvent.model_validate_json(r.value) for r in records)  # type: ignore[attr-defined]
            return [c for c in events if c.subject.startswith(f"pol-{prefix}")]

        wanted = {"drawdown_executed", "borrowing_base_changed"}
        await finance.until(lambda rs: wanted <= set(kinds(rs)), timeout_s=300)
        await claims.until(lambda rs: len(raised(rs)) > 0, timeout_s=120)
    log = run.worker_log
    finance_kinds = kinds(finance.records)
    assert "drawdown_executed" in finance_kinds, (finance_kinds, log.read_text()[-2000:])
    assert "borrowing_base_changed" in finance_kinds
    claim_events = raised(claims.records)
    assert claim_events, log.read_text()[-2000:]
    assert {c.data.kind for c in claim_events} & {"claim_raised", "claim_needs_review"}
    result = await LedgerStore(kafka_settings).verify(facility_id)
    assert result.ok, result
    assert result.entries > 0
    assert run.worker_exit == 0, log.read_text()[-2000:]
