"""The facility ledger on real Kafka: written by the store, verified by the CLI, and a forged
record appended under the facility's key is caught and named."""

from __future__ import annotations

import asyncio

import pytest

from cli.main import main
from finance.checkpoints import CheckpointSigner
from finance.facility_state import new_state
from finance.ledger_store import LedgerStore
from finance.pledge_engine import run
from tests.unit.finance.builders import (
    booking,
    breach_progress,
    breach_started,
    eur_usd,
    facility,
    milestone,
)
from tradelane.contracts import Milestone
from tradelane.contracts.finance import LedgerEntry
from tradelane.settings import KafkaSettings

pytestmark = pytest.mark.integration


def _ledger(facility_id: str) -> list[LedgerEntry]:
    """Departure draw, then a reefer failure over two days: a drawdown and interest entries."""
    _, outputs = run(
        new_state(facility_id),
        [
            facility(facility_id=facility_id),
            booking(),
            eur_usd(),
            milestone(Milestone.DEPARTED_ORIGIN, 1),
            breach_started(30),
            breach_progress(30, 24 * 60),
        ],
    )
    return [entry for out in outputs for entry in out.entries]


def test_ledger_on_kafka_verifies_and_a_forgery_fails(
    kafka_settings: KafkaSettings,
    ledger_signer: CheckpointSigner,
    unique: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    facility_id = f"fac-{unique}"
    entries = _ledger(facility_id)
    assert len(entries) >= 3
    store = LedgerStore(kafka_settings, signer=ledger_signer)
    asyncio.run(store.append(entries))  # and the head's signed checkpoint
    asyncio.run(store.append(entries[:2]))  # a producer retry re-sends identical records

    stored = asyncio.run(store.read(facility_id))
    assert stored.entries == (*entries, *entries[:2])
    assert main(["ledger", "verify", "--facility", facility_id]) == 0
    out = capsys.readouterr().out
    assert f"{len(entries)} entries, 2 duplicate records" in out
    assert entries[-1].hash in out

    drawdown = entries[0].model_dump(mode="json")
    drawdown["postings"][0]["amount"] = drawdown["postings"][1]["amount"] = "1.00"
    forged = LedgerEntry.model_validate(drawdown)  # balanced, but not what was lent
    asyncio.run(store.append([forged]))
    asyncio.run(store.append_raw(facility_id, b'{"seq": 99}'))

    assert main(["ledger", "verify", "--facility", facility_id]) == 1
    err = capsys.readouterr().err
    assert "VERIFICATION FAILED, 2 problem(s)" in err
    assert f"seq 0, entry {entries[0].entry_id}: a second, different version" in err
    assert "not a ledger entry" in err


def test_an_unknown_facility_has_an_empty_ledger(
    kafka_settings: KafkaSettings, unique: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ledger", "verify", "--facility", f"fac-none-{unique}"]) == 0
    assert "0 entries" in capsys.readouterr().out
