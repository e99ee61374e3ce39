"""A pledged chilled shipment in the ``reefer-failure`` scenario, end to end through Kafka as
far as it is built: simulator readings → the stream processor's pure core → shipments.events
(real Kafka) → read back as the finance worker will → pledge engine → finance.events and
finance.ledger (real Kafka) → ``tradelane ledger verify``.

It draws at departure, takes a haircut when the breach starts, gets a margin call when the
breach grows, and its ledger verifies. This drives the pledge engine directly, so every step
of the story is asserted; `test_scenarios_e2e.py` runs the same scenario through the worker.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

import streams.core
from cli.main import main
from devices.config import FleetConfig
from devices.engine import FleetEngine
from devices.messages import Kind
from devices.plan import SimShipment, plan_fleet
from finance.checkpoints import CheckpointSigner
from finance.facility_state import new_state
from finance.fx_feed import latest, simulated_rates
from finance.ledger_store import LedgerStore
from finance.pledge_engine import run
from finance.rebuild import read_topic
from tradelane.contracts import (
    CollateralStatus,
    Facility,
    IngestedReading,
    Milestone,
    Money,
    ProfileKind,
    ShipmentEvent,
    TrackerReading,
    TransportMode,
)
from tradelane.contracts.finance import BorrowingBaseChanged, DrawdownExecuted, FinanceEvent
from tradelane.contracts.registries import HaircutRule, ImpairmentKind
from tradelane.settings import KafkaSettings
from tradelane.topics import (
    FINANCE_EVENTS,
    FINANCE_FACILITIES,
    SHIPMENTS_EVENTS,
    SHIPMENTS_REGISTRY,
)
from transport import kafka as clients

pytestmark = [pytest.mark.integration, pytest.mark.slow]

START = datetime(2026, 3, 2, tzinfo=UTC)


def _reefer_failure(prefix: str) -> tuple[SimShipment, list[ShipmentEvent]]:
    """The first chilled sea shipment whose reefer fails, and the shipment events the stream
    processor's core derives from its trackers' readings."""
    config = FleetConfig(
        start=START,
        trackers=6,
        scenario="reefer-failure",
        seed=11,
        incident_share=1.0,
        interval_s=3600,
        alarm_interval_s=900,
        prefix=prefix,
    )
    plan = plan_fleet(config)
    target = next(
        s
        for s in plan.shipments
        if s.reefer_failure_at is not None
        and s.profile is ProfileKind.CHILLED
        and s.mode is TransportMode.SEA
    )
    engine = FleetEngine(plan)
    assert target.reefer_failure_at is not None
    until = (
        target.reefer_failure_at + timedelta(days=1).total_seconds()
    )  # the breach is long by then
    messages = engine.advance(until) + engine.finish()
    state = streams.core.new_state(target.shipment_id)
    events = streams.core.apply_in_place(state, target.booking)
    for message in messages:
        if message.kind is Kind.READING and message.device in target.devices:
            reading = TrackerReading.model_validate_json(message.payload)
            item = IngestedReading(
                reading=reading, received_at=reading.ts, mqtt_topic=message.topic
            )
            events += streams.core.apply_in_place(state, item)
    return target, events


def _facility(facility_id: str, shipment_id: str, currency: str) -> Facility:
    """A line in the cargo's currency, so the story needs no FX rate from the shared topic."""
    return Facility(
        facility_id=facility_id,
        bank_id="bank-e2e",
        borrower_id="shipper-e2e",
        limit=Money(amount=Decimal(1_000_000), currency=currency),
        advance_rates={CollateralStatus.IN_TRANSIT: Decimal("0.6")},
        concentration_limit=Decimal("0.5"),
        drawdown_schedule={"departed_origin": Decimal(1)},
        pledged_shipments=[shipment_id],
        haircut_schedule=[
            HaircutRule(
                impairment=ImpairmentKind.TEMPERATURE_HIGH,
                min_severity=Decimal(0),
                haircut=Decimal("0.2"),
            ),
            HaircutRule(
                impairment=ImpairmentKind.TEMPERATURE_HIGH,
                min_severity=Decimal(240),
                haircut=Decimal("0.6"),
            ),
        ],
        interest_rate=Decimal("0.08"),
    )


async def _produce(settings: KafkaSettings, topic: str, items: list[tuple[str, bytes]]) -> None:
    producer = clients.producer(settings, acks="all")
    await producer.start()
    try:
        sent = [await producer.send(topic, value=v, key=k.encode()) for k, v in items]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def test_pledged_reefer_failure_draws_cuts_calls_and_verifies(
    kafka_settings: KafkaSettings,
    ledger_signer: CheckpointSigner,
    unique: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target, derived = _reefer_failure(f"p{unique}")
    sid = target.shipment_id
    asyncio.run(
        _produce(
            kafka_settings,
            SHIPMENTS_EVENTS.name,
            [(sid, e.model_dump_json().encode()) for e in derived],
        )
    )
    records = asyncio.run(read_topic(kafka_settings, SHIPMENTS_EVENTS.name, [sid]))
    events = [ShipmentEvent.model_validate_json(r.value or b"") for r in records]
    assert events == derived, "shipments.events gave back what was produced, in order"

    facility_id = f"fac-{unique}"
    currency = target.booking.cargo.value.currency
    rates = list(latest(simulated_rates(1, START - timedelta(days=1), count=1)).values())
    terms = _facility(facility_id, sid, currency)
    _, outputs = run(new_state(facility_id), [terms, target.booking, *rates, *events])
    finance = [e for out in outputs for e in out.events]
    kinds = [e.data.kind for e in finance]
    assert "drawdown_executed" in kinds
    drawn = kinds.index("drawdown_executed")
    first = finance[drawn].data
    assert isinstance(first, DrawdownExecuted)
    assert first.milestone is Milestone.DEPARTED_ORIGIN
    bases = [e.data for e in finance if isinstance(e.data, BorrowingBaseChanged)]
    cut = [b for b in bases if b.collateral and b.collateral[0].haircut > 0]
    assert cut, "the breach cut the collateral"
    assert cut[0].base.amount < bases[0].base.amount
    assert "margin_call_issued" in kinds[drawn:], kinds
    assert kinds.index("margin_call_issued") > kinds.index("borrowing_base_changed", drawn + 1)

    entries = [e for out in outputs for e in out.entries]
    asyncio.run(
        _produce(
            kafka_settings,
            FINANCE_EVENTS.name,
            [(facility_id, e.model_dump_json().encode()) for e in finance],
        )
    )
    asyncio.run(LedgerStore(kafka_settings, signer=ledger_signer).append(entries))  # + head
    published = asyncio.run(read_topic(kafka_settings, FINANCE_EVENTS.name, [facility_id]))
    assert [FinanceEvent.model_validate_json(r.value or b"") for r in published] == finance
    assert main(["ledger", "verify", "--facility", facility_id]) == 0
    assert f"{len(entries)} entries" in capsys.readouterr().out

    # the funding calendar: the ledger's balance, and the plan, from the records on Kafka
    asyncio.run(
        _produce(
            kafka_settings,
            FINANCE_FACILITIES.name,
            [(facility_id, terms.model_dump_json().encode())],
        )
    )
    asyncio.run(
        _produce(
            kafka_settings,
            SHIPMENTS_REGISTRY.name,
            [(sid, target.booking.model_dump_json().encode())],
        )
    )
    start = events[-1].time.date().isoformat()
    assert main(["finance", "calendar", "--facility", facility_id, "--start", start]) == 0
    calendar = capsys.readouterr().out
    assert f"Funding calendar {facility_id} ({currency}), {start}" in calendar
    assert f"outstanding {first.outstanding_after.amount:,.2f}" in calendar
    delivery = [line for line in calendar.splitlines() if sid in line]
    assert delivery, calendar
    assert "repayment" in delivery[-1]
    assert "delivered" in delivery[-1]
