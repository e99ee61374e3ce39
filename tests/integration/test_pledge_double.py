"""One cargo, two banks, through the real worker on the real Kafka: a USD 250,000 cargo pledged
USD 150,000 to one facility and USD 150,000 to another (the issue's 300,000 secured on
250,000). The worker's collateral register (the shipment loop, keyed by shipment) caps the
pledge it saw second to the USD 100,000 left; both facilities' ``finance.events`` carry the
decision (same id, same code, ``own_pledge`` for the capped one, ``later_pledge`` for the
other); the departure draws 60 % of what each pledge secures (90,000 and 60,000, not 90,000
twice); and the two borrowing bases value the cargo at 250,000 in all."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.integration.helpers import Tail, stop_process, wait_for_output
from tests.integration.test_worker import start_worker, voyage
from tests.samples import booking
from tradelane.contracts import CollateralStatus, Facility, Money
from tradelane.contracts.finance import (
    BorrowingBaseChanged,
    DrawdownExecuted,
    FinanceEvent,
    PledgeCode,
    PledgeDecided,
)
from tradelane.settings import KafkaSettings
from tradelane.topics import (
    FINANCE_EVENTS,
    FINANCE_FACILITIES,
    SHIPMENTS_REGISTRY,
    TRACKER_READINGS,
)
from transport import kafka as clients

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]


def usd(amount: int) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


def _facility(facility_id: str, bank: str, shipment_id: str) -> Facility:
    return Facility(
        facility_id=facility_id,
        bank_id=bank,
        borrower_id="shipper-twice",
        limit=usd(1_000_000),
        advance_rates={CollateralStatus.IN_TRANSIT: Decimal("0.6")},
        concentration_limit=Decimal(1),
        drawdown_schedule={"departed_origin": Decimal(1)},
        pledged_shipments=[shipment_id],
        pledge_amounts={shipment_id: usd(150_000)},
    )


async def test_one_cargo_pledged_to_two_banks_secures_its_value_once(
    kafka_settings: KafkaSettings, unique: str, tmp_path: Path
) -> None:
    app_id = f"tradelane-streams-twice-{unique}"
    shipment, device = f"shp-t{unique}", f"trk-t{unique}"
    first, second = f"fac-a{unique}", f"fac-b{unique}"
    facilities = {first, second}
    log = tmp_path / "worker.log"
    producer = clients.producer(kafka_settings)
    await producer.start()
    worker = start_worker(app_id, log)

    def mine(records: list[Any]) -> list[FinanceEvent]:
        events = (FinanceEvent.model_validate_json(r.value) for r in records)
        return [e for e in events if e.subject in facilities]

    def done(records: list[Any]) -> bool:
        events = mine(records)
        told = {e.subject for e in events if isinstance(e.data, PledgeDecided)}
        drew = {e.subject for e in events if isinstance(e.data, DrawdownExecuted)}
        return told == drew == facilities

    try:
        wait_for_output(log, f"worker {app_id}:", worker)
        async with Tail(kafka_settings, FINANCE_EVENTS.name) as money:
            await producer.send_and_wait(
                SHIPMENTS_REGISTRY.name,
                booking(shipment, [device]).model_dump_json().encode(),
                key=shipment.encode(),
            )
            for facility_id, bank in ((first, "bank-a"), (second, "bank-b")):
                await producer.send_and_wait(
                    FINANCE_FACILITIES.name,
                    _facility(facility_id, bank, shipment).model_dump_json().encode(),
                    key=facility_id.encode(),
                )
            for item in voyage(device)[:3]:  # at the origin, then away from it: departed
                await producer.send_and_wait(
                    TRACKER_READINGS.name, item.model_dump_json().encode(), key=device.encode()
                )
            await money.until(done, timeout_s=120)
            assert worker.poll() is None, log.read_text()[-3000:]
    finally:
        for facility_id in facilities:  # the compacted registry forgets the test's lines
            await producer.send_and_wait(FINANCE_FACILITIES.name, None, key=facility_id.encode())
        await producer.stop()
        code = stop_process(worker)

    events = mine(money.records)
    assert done(money.records), log.read_text()[-3000:]
    decided = {e.subject: e.data for e in events if isinstance(e.data, PledgeDecided)}
    # whichever pledge the register saw first keeps its 150,000 (the two facility records
    # may reach the worker in either order; seen in one step, they are taken by facility id)
    (capped,) = [f for f, d in decided.items() if d.concerns == "own_pledge"]
    (holder,) = facilities - {capped}
    assert decided[capped].code is PledgeCode.PLEDGE_CAPPED_TO_CARGO_VALUE
    assert decided[capped].granted == usd(100_000)
    assert decided[holder].concerns == "later_pledge"
    assert decided[holder].code is PledgeCode.PLEDGE_CAPPED_TO_CARGO_VALUE
    assert decided[holder].decision_id == decided[capped].decision_id
    assert decided[holder].granted == usd(150_000)
    assert "bank-" not in decided[holder].model_dump_json()  # no bank's terms cross over
    # both facilities' events show it: the decision came before the departure's drawdown
    for facility_id in facilities:
        kinds = [e.data.kind for e in events if e.subject == facility_id]
        assert kinds.index("pledge_decided") < kinds.index("drawdown_executed"), kinds
    drawn = {e.subject: e.data.amount for e in events if isinstance(e.data, DrawdownExecuted)}
    assert drawn == {holder: usd(90_000), capped: usd(60_000)}
    bases = [e.data for e in events if isinstance(e.data, BorrowingBaseChanged)]
    secured: dict[str, Decimal] = {}
    for base in bases:  # the latest line of the shipment per facility
        for line in base.collateral:
            if line.shipment_id == shipment and line.value is not None:
                secured[base.facility_id] = line.value.amount
    assert secured == {holder: Decimal(150_000), capped: Decimal(100_000)}
    assert sum(secured.values()) == Decimal(250_000)  # the cargo's value, once
    assert code == 0, log.read_text()[-3000:]
