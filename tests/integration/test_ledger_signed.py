"""Signed ledger checkpoints on the real Kafka: a worker signs each facility's head in the
ledger's transaction and `tradelane ledger verify` accepts it; then, writing the topics as
the admin (anyone with write access), an appended entry, a re-forged chain, a checkpoint
signed with another key and the wrong public key each fail with their reason."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cli.main import main
from finance.checkpoints import CheckpointSigner
from finance.facility_state import new_state
from finance.ledger import canonical_body, chain_hash
from finance.ledger_keys import public_pem
from finance.ledger_store import LedgerStore
from finance.pledge_engine import run
from tests.integration.helpers import Tail, stop_process, wait_for_output
from tests.integration.test_worker import start_worker, voyage
from tests.samples import booking as sample_booking
from tests.unit.finance.builders import (
    booking,
    breach_progress,
    breach_started,
    eur_usd,
    facility,
    milestone,
)
from tests.unit.finance.test_checkpoints import _reforged
from tradelane.contracts import Milestone
from tradelane.contracts.finance import LedgerCheckpoint, LedgerEntry
from tradelane.ids import derive_id
from tradelane.settings import KafkaSettings
from tradelane.topics import (
    FINANCE_CHECKPOINTS,
    FINANCE_FACILITIES,
    SHIPMENTS_REGISTRY,
    TRACKER_READINGS,
)
from transport import kafka as clients

pytestmark = pytest.mark.integration

FORGER = CheckpointSigner(Ed25519PrivateKey.from_private_bytes(bytes(range(7, 39))))


def _ledger(facility_id: str) -> list[LedgerEntry]:
    """A departure draw, then a reefer failure over two days: a drawdown and interest."""
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


def _continuation(head: LedgerEntry) -> LedgerEntry:
    """A well-formed next entry (derived ids, recomputed hash): all a forger needs besides
    write access to finance.ledger."""
    eid = derive_id("ledger_entry", head.facility_id, "forged")
    postings = [
        p.model_copy(update={"posting_id": derive_id("posting", eid, i)})
        for i, p in enumerate(head.postings)
    ]
    draft = head.model_copy(
        update={"seq": head.seq + 1, "entry_id": eid, "prev_hash": head.hash, "postings": postings}
    )
    return draft.model_copy(update={"hash": chain_hash(head.hash, canonical_body(draft))})


def _verify(facility_id: str, *extra: str) -> int:
    return main(["ledger", "verify", "--facility", facility_id, *extra])


def test_forgeries_on_kafka_fail_verification_with_their_reason(
    kafka_settings: KafkaSettings,
    ledger_signer: CheckpointSigner,
    unique: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    facility_id = f"fac-signed-{unique}"
    entries = _ledger(facility_id)
    assert len(entries) >= 3
    asyncio.run(LedgerStore(kafka_settings, signer=ledger_signer).append(entries))
    assert _verify(facility_id) == 0
    out = capsys.readouterr().out
    assert f"signed to seq {entries[-1].seq} by key {ledger_signer.key_id}: verified" in out

    # the bank pins the public key and verifies an export offline: the signed bundle
    pinned = tmp_path / "pinned.pem"
    pinned.write_text(public_pem(ledger_signer.public_key))
    bundle = tmp_path / "bundle.jsonl"
    assert main(["ledger", "export", "--facility", facility_id, "--out", str(bundle)]) == 0
    assert f"exported {len(entries)} entries and 1 checkpoints" in capsys.readouterr().err
    assert _verify(facility_id, "--file", str(bundle), "--public-key", str(pinned)) == 0
    capsys.readouterr()

    # an export re-forged from seq 1 on (valid hashes), with the genuine checkpoint
    lines = bundle.read_text().splitlines()
    reforged = tmp_path / "reforged.jsonl"
    chain = _reforged(entries, 1)
    reforged.write_text("".join(e.model_dump_json() + "\n" for e in chain) + lines[-1] + "\n")
    assert _verify(facility_id, "--file", str(reforged), "--public-key", str(pinned)) == 1
    err = capsys.readouterr().err
    assert "the chain was re-forged" in err
    assert f"unsigned tail: seqs 0-{entries[-1].seq}" in err  # one checkpoint: the head's

    # the same chain appended to finance.ledger, as a writer of the topic can
    forger = LedgerStore(kafka_settings)  # no signing key
    asyncio.run(forger.append(chain[1:]))
    assert _verify(facility_id) == 1
    err = capsys.readouterr().err
    assert f"seq 1, entry {entries[1].entry_id}: a second, different version" in err

    # a well-formed continuation, then the forger's own checkpoint of it
    other = f"{facility_id}-b"
    genuine = _ledger(other)
    asyncio.run(LedgerStore(kafka_settings, signer=ledger_signer).append(genuine))
    appended = _continuation(genuine[-1])
    asyncio.run(forger.append([appended]))
    assert _verify(other) == 1
    err = capsys.readouterr().err
    assert f"seq {appended.seq}, entry {appended.entry_id}: unsigned tail" in err
    asyncio.run(forger.append_checkpoints([FORGER.sign(appended)]))
    assert _verify(other) == 1
    err = capsys.readouterr().err
    assert f"(key {FORGER.key_id}): signed by an untrusted key" in err
    assert "unsigned tail" in err

    # a forger's checkpoint that claims the bank's key id does not verify either
    claimed = FORGER.sign(appended).model_copy(update={"key_id": ledger_signer.key_id})
    asyncio.run(forger.append_checkpoints([claimed]))
    assert _verify(other) == 1
    assert "signature does not verify" in capsys.readouterr().err

    # and a bank pinning another key trusts none of the genuine checkpoints
    wrong = tmp_path / "wrong.pem"
    wrong.write_text(public_pem(FORGER.public_key))
    fresh = f"{facility_id}-c"
    asyncio.run(LedgerStore(kafka_settings, signer=ledger_signer).append(_ledger(fresh)))
    assert _verify(fresh) == 0
    assert _verify(fresh, "--public-key", str(wrong)) == 1
    assert f"signed by an untrusted key (trusted: {FORGER.key_id})" in capsys.readouterr().err

    # junk under the facility's key on the checkpoint topic is reported by offset
    asyncio.run(forger.append_raw(fresh, b'{"seq": 1}', topic=FINANCE_CHECKPOINTS.name))
    assert _verify(fresh) == 1
    assert "finance.checkpoints: not a ledger checkpoint" in capsys.readouterr().err


@pytest.mark.slow
def test_a_worker_signs_its_ledger_and_verify_accepts_it(
    kafka_settings: KafkaSettings,
    ledger_signer: CheckpointSigner,
    unique: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The worker (a child process, the machine's key) draws at departure: its ledger entries
    and their checkpoint land in one transaction, and `tradelane ledger verify` accepts them."""
    shipment, device, facility_id = f"shp-{unique}", f"ls-{unique}", f"fac-w-{unique}"
    terms = facility(facility_id=facility_id, pledged_shipments=[shipment])
    log = tmp_path / "worker.log"
    app_id = f"tradelane-streams-ledger-{unique}"
    worker = start_worker(app_id, log)
    try:
        wait_for_output(log, f"worker {app_id}:", worker)
        checkpoints = asyncio.run(_drive(kafka_settings, terms, shipment, device, facility_id))
        assert worker.poll() is None, log.read_text()[-3000:]
    finally:
        code = stop_process(worker)
    assert code == 0, log.read_text()[-3000:]
    assert checkpoints, f"no checkpoint for {facility_id}: {log.read_text()[-3000:]}"
    assert {c.key_id for c in checkpoints} == {ledger_signer.key_id}
    assert _verify(facility_id) == 0
    out = capsys.readouterr().out
    head = max(c.seq for c in checkpoints)
    assert f"head seq {head} " in out
    assert f"signed to seq {head} by key {ledger_signer.key_id}: verified" in out

    # an entry appended behind the worker's back is the unsigned tail
    stored = asyncio.run(LedgerStore(kafka_settings).read(facility_id))
    asyncio.run(LedgerStore(kafka_settings).append([_continuation(stored.entries[-1])]))
    assert _verify(facility_id) == 1
    assert f"seq {head + 1}, entry" in capsys.readouterr().err


async def _drive(
    kafka: KafkaSettings, terms: object, shipment: str, device: str, facility_id: str
) -> list[LedgerCheckpoint]:
    producer = clients.producer(kafka)
    await producer.start()
    try:
        async with Tail(kafka, FINANCE_CHECKPOINTS.name) as tail:
            await producer.send_and_wait(
                FINANCE_FACILITIES.name,
                terms.model_dump_json().encode(),  # type: ignore[attr-defined]
                key=facility_id.encode(),
            )
            await producer.send_and_wait(
                SHIPMENTS_REGISTRY.name,
                sample_booking(shipment, [device]).model_dump_json().encode(),
                key=shipment.encode(),
            )
            for item in voyage(device):
                await producer.send(
                    TRACKER_READINGS.name, item.model_dump_json().encode(), key=device.encode()
                )
            await producer.flush()

            def mine(records: list[object]) -> list[LedgerCheckpoint]:
                return [
                    LedgerCheckpoint.model_validate_json(r.value)  # type: ignore[attr-defined]
                    for r in records
                    if r.key == facility_id.encode()  # type: ignore[attr-defined]
                ]

            records = await tail.until(lambda rs: bool(mine(rs)), timeout_s=120)
            await asyncio.sleep(3)  # later batches (breach, arrival) may sign newer heads
            records = await tail.until(lambda _: False, timeout_s=2)
            return mine(records)
    finally:
        await producer.stop()
