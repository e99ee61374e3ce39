"""One balance everywhere, on the real services: a worker moves money for a pledged facility
(two drawdowns at departure, a borrower's repayment, an insurer's payout larger than what its
shipment still owes), and a real ``tradelane api`` then states the same outstanding, to the
cent, in the facility's summary, its chart's last point, its calendar and its ledger, equal to
the balance recomputed here from the ledger entries on Kafka; ``tradelane finance calendar``
prints it too. The surplus of the payout is booked for the borrower, and nothing is below
zero."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from finance.ledger import balances, verify
from tests.integration.api_helpers import running_api, wait_until
from tests.integration.helpers import Tail, run_tradelane, stop_process, wait_for_output
from tests.integration.test_worker import T0, voyage
from tests.samples import booking
from tradelane.contracts import CollateralStatus, Facility, Money
from tradelane.contracts.finance import (
    FINANCE_EVENT_SOURCE,
    DrawdownExecuted,
    FinanceCommand,
    FinanceEvent,
    LedgerAccount,
    LedgerEntry,
    RepaymentApplied,
    RepaymentReceived,
    RepaymentSource,
    finance_command_type,
)
from tradelane.ids import derive_id
from tradelane.settings import KafkaSettings
from tradelane.topics import (
    FINANCE_COMMANDS,
    FINANCE_EVENTS,
    FINANCE_FACILITIES,
    FINANCE_LEDGER,
    SHIPMENTS_REGISTRY,
    TRACKER_READINGS,
)
from transport import kafka as clients

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(720)]


def _worker(app_id: str, log: Path) -> subprocess.Popen[bytes]:
    """A worker that waits up to 5 minutes for another group (a fault run on the shared
    cluster) to release the lease, instead of the default 90 s."""
    with log.open("ab") as out:
        command = ["worker", "--from-now", "--app-id", app_id, "--other-group-wait", "300"]
        return subprocess.Popen(
            [sys.executable, "-m", "cli.main", *command],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )


def _usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


def _command(data: RepaymentReceived) -> bytes:
    return (
        FinanceCommand(
            id=derive_id("test-command", data.cause_id),
            source=FINANCE_EVENT_SOURCE,
            type=finance_command_type(data.kind),
            subject=data.facility_id,
            time=data.at,
            data=data,
        )
        .model_dump_json()
        .encode()
    )


async def test_summary_chart_calendar_and_ledger_state_one_balance(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    unique = uuid.uuid4().hex[:10]
    app_id = f"tradelane-streams-balance-{unique}"
    first, second = f"shp-b1{unique}", f"shp-b2{unique}"
    devices = {first: f"trk-b1{unique}", second: f"trk-b2{unique}"}
    with running_api(tmp_path, unique) as api:
        facility = Facility(
            facility_id=f"fac-bal{unique}",
            bank_id=api.parties["bank_a"],
            borrower_id="shipper-balance",
            limit=_usd("1000000"),
            advance_rates={CollateralStatus.IN_TRANSIT: Decimal("0.6")},
            concentration_limit=Decimal(1),
            drawdown_schedule={"departed_origin": Decimal("0.5")},
            pledged_shipments=[first, second],
            interest_rate=Decimal("0.08"),
        )
        fid = facility.facility_id
        log = tmp_path / "worker.log"
        producer = clients.producer(kafka_settings)
        await producer.start()
        worker = _worker(app_id, log)
        try:
            wait_for_output(log, f"worker {app_id}:", worker, timeout_s=330)
            async with (
                Tail(kafka_settings, FINANCE_EVENTS.name) as events,
                Tail(kafka_settings, FINANCE_LEDGER.name) as ledger_tail,
            ):
                for shipment, device in devices.items():
                    await producer.send_and_wait(
                        SHIPMENTS_REGISTRY.name,
                        booking(shipment, [device]).model_dump_json().encode(),
                        key=shipment.encode(),
                    )
                await producer.send_and_wait(
                    FINANCE_FACILITIES.name,
                    facility.model_dump_json().encode(),
                    key=fid.encode(),
                )
                for device in devices.values():
                    for item in voyage(device)[:3]:  # at the origin, then away: departed
                        await producer.send_and_wait(
                            TRACKER_READINGS.name,
                            item.model_dump_json().encode(),
                            key=device.encode(),
                        )

                def mine(records: list[Any]) -> list[Any]:
                    found = (FinanceEvent.model_validate_json(r.value) for r in records)
                    return [e.data for e in found if e.subject == fid]

                def drawn(records: list[Any]) -> list[DrawdownExecuted]:
                    return [d for d in mine(records) if isinstance(d, DrawdownExecuted)]

                def repaid(records: list[Any]) -> list[RepaymentApplied]:
                    return [d for d in mine(records) if isinstance(d, RepaymentApplied)]

                await events.until(lambda rs: len(drawn(rs)) == 2, timeout_s=180)
                assert len(drawn(events.records)) == 2, log.read_text()[-3000:]
                repayments = [
                    RepaymentReceived(
                        facility_id=fid,
                        amount=_usd("20000.55"),
                        cause_id=f"borrower-{unique}",
                        at=T0 + timedelta(hours=4),
                    ),
                    RepaymentReceived(  # more than the shipment still owes: a surplus
                        facility_id=fid,
                        shipment_id=first,
                        amount=_usd("80000.00"),
                        cause_id=f"claim-{unique}",
                        source=RepaymentSource.INSURANCE,
                        at=T0 + timedelta(hours=5),
                    ),
                ]
                for command in repayments:
                    await producer.send_and_wait(
                        FINANCE_COMMANDS.name, _command(command), key=fid.encode()
                    )
                await events.until(lambda rs: len(repaid(rs)) == 2, timeout_s=120)
                assert len(repaid(events.records)) == 2, log.read_text()[-3000:]
                head = max(r.ledger_seq or 0 for r in repaid(events.records))
                await ledger_tail.until(
                    lambda rs: (
                        head
                        in {
                            LedgerEntry.model_validate_json(r.value).seq
                            for r in rs
                            if r.key == fid.encode()
                        }
                    ),
                    timeout_s=60,
                )
        finally:
            await producer.stop()
            code = stop_process(worker)
        assert code == 0, log.read_text()[-3000:]

        # the balance, recomputed here from the entries on Kafka
        entries = [
            LedgerEntry.model_validate_json(r.value)
            for r in ledger_tail.records
            if r.key == fid.encode()
        ]
        assert verify(fid, entries).ok
        sums = balances(entries)
        principal = sums[LedgerAccount.LOAN_PRINCIPAL]
        surplus = sum((r.surplus.amount for r in repaid(events.records)), Decimal(0))
        assert surplus > 0
        assert -sums[LedgerAccount.BORROWER_PAYABLE] == surplus
        assert principal == repaid(events.records)[-1].outstanding_after.amount
        repaid_principal = sum(
            (r.principal_paid.amount for r in repaid(events.records)), Decimal(0)
        )
        assert principal == Decimal("150000.00") - repaid_principal >= 0

        bank = api.keys["bank_a"]

        def summary() -> dict[str, Any] | None:
            found = api.get(f"/api/v1/facilities/{fid}", bank)
            if found.status_code != 200 or found.json()["position"]["ledger_seq"] != head:
                return None
            body: dict[str, Any] = found.json()
            return body

        detail = wait_until(summary, 60, "the summary at the ledger's head")
        calendar = api.get(f"/api/v1/facilities/{fid}/calendar", bank)
        assert calendar.status_code == 200, calendar.text
        ledger = api.get(f"/api/v1/facilities/{fid}/ledger", bank, timeout_s=60)
        assert ledger.status_code == 200, ledger.text
        figures = {
            "summary": detail["outstanding"],
            "summary position": detail["position"]["outstanding"],
            "chart's last point": detail["history"][-1]["outstanding"],
            "calendar": calendar.json()["outstanding"],
            "ledger view": ledger.json()["position"]["outstanding"],
        }
        print(f"facility {fid}: ledger principal {principal}; the API's figures {figures}")
        assert {k: Decimal(v) for k, v in figures.items()} == dict.fromkeys(figures, principal)
        assert all(Decimal(p["outstanding"]) >= 0 for p in detail["history"])
        assert len(detail["history"]) == len(entries)
        assert Decimal(detail["position"]["borrower_payable"]) == surplus
        assert ledger.json()["verified"]
        assert calendar.json()["position"]["ledger_seq"] == head

        done = run_tradelane("finance", "calendar", "--facility", fid, timeout_s=120)
        assert done.returncode == 0, done.stderr
        assert f"outstanding {principal:,.2f}" in done.stdout, done.stdout
