"""A facility's ledger as CSV and as a signed bundle (finance/ledger_export.py): the CSV reads
back with csv.DictReader to the exact Decimal amounts, a row per posting; the bundle verifies
offline with the public key, through the library and `tradelane ledger verify --file`, and any
tampering fails it. One case a line where the cases are a table."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli.main import main
from finance.checkpoints import CheckpointSigner
from finance.ledger import canonical_body, chain_hash
from finance.ledger_export import (
    BUNDLE_FORMAT,
    LEDGER_COLUMNS,
    bundle,
    bundle_bytes,
    canonical,
    chain,
    is_bundle,
    ledger_csv,
    verify_bundle,
)
from finance.ledger_keys import public_pem
from tests.unit.finance.builders import (
    FAC,
    story_ledger,
)
from tradelane.contracts.finance import Direction, LedgerEntry

SIGNER = CheckpointSigner(Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
OTHER = CheckpointSigner(Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33))))
KEYS = [SIGNER.public_key]


ENTRIES = story_ledger()
CHECKPOINTS = [SIGNER.sign(e) for e in ENTRIES]  # a worker signing every batch's head


def _rows(entries: list[LedgerEntry]) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO("".join(ledger_csv(entries)), newline="")))


# --- CSV ----------------------------------------------------------------------------------------


def test_the_csv_has_one_row_per_posting_with_the_documented_columns() -> None:
    text = "".join(ledger_csv(ENTRIES))
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    assert tuple(reader.fieldnames or ()) == LEDGER_COLUMNS
    assert len(rows) == sum(len(e.postings) for e in ENTRIES) > len(ENTRIES) >= 5
    assert text.endswith("\r\n")
    first = rows[0]
    entry, posting = ENTRIES[0], ENTRIES[0].postings[0]
    assert (first["entry_id"], first["seq"], first["hash"], first["prev_hash"]) == (
        entry.entry_id,
        "0",
        entry.hash,
        entry.prev_hash,
    )
    assert (first["posting_id"], first["account"], first["currency"]) == (
        posting.posting_id,
        posting.account.value,
        posting.currency,
    )


def test_csv_amounts_read_back_as_the_exact_decimals_and_each_entry_balances() -> None:
    rows = _rows(ENTRIES)
    expected = [p.amount for e in ENTRIES for p in e.postings]
    assert [Decimal(r["amount"]) for r in rows] == expected
    assert all("e" not in r["amount"].lower() for r in rows), "plain notation, no exponent"
    net: dict[str, Decimal] = {}
    for r in rows:
        sign = 1 if r["direction"] == Direction.DEBIT.value else -1
        net[r["entry_id"]] = net.get(r["entry_id"], Decimal(0)) + sign * Decimal(r["amount"])
    assert set(net.values()) == {Decimal(0)}


@given(st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("1e19"), places=8))
def test_any_amount_survives_the_csv_exactly(amount: Decimal) -> None:
    entry = ENTRIES[0]
    postings = [p.model_copy(update={"amount": amount}) for p in entry.postings]
    rows = _rows([entry.model_copy(update={"postings": postings})])
    assert {Decimal(r["amount"]) for r in rows} == {amount}


def test_redelivered_entries_appear_once_in_order() -> None:
    shuffled = [ENTRIES[2], ENTRIES[0], ENTRIES[1], ENTRIES[0], *ENTRIES[3:], ENTRIES[-1]]
    assert chain(shuffled) == ENTRIES


# --- the bundle ---------------------------------------------------------------------------------


def _bundle(entries: list[LedgerEntry] = ENTRIES, checkpoints: Any = None) -> bytes:
    return bundle_bytes(FAC, entries, CHECKPOINTS if checkpoints is None else checkpoints)


def test_a_bundle_holds_the_chain_the_latest_checkpoint_and_the_head() -> None:
    doc = json.loads(_bundle())
    assert doc["format"] == BUNDLE_FORMAT
    assert doc["version"] == 1
    assert doc["facility_id"] == FAC
    assert [e["seq"] for e in doc["entries"]] == list(range(len(ENTRIES)))
    assert doc["checkpoint"]["seq"] == ENTRIES[-1].seq
    assert doc["head"] == {"seq": ENTRIES[-1].seq, "hash": ENTRIES[-1].hash}
    assert _bundle() == canonical(doc), "served as canonical JSON"
    assert is_bundle(_bundle())
    assert not is_bundle(ENTRIES[0].model_dump_json().encode())


def test_a_bundle_verifies_offline_with_the_public_key() -> None:
    result = verify_bundle(_bundle(), KEYS, FAC)
    assert result.ok, result.problems
    assert result.entries == len(ENTRIES)
    assert result.signatures is not None
    assert result.signatures.signed_seq == ENTRIES[-1].seq


def test_an_empty_ledger_makes_a_bundle_that_verifies() -> None:
    assert verify_bundle(bundle_bytes(FAC, [], []), KEYS).ok


def _doc() -> dict[str, Any]:
    return json.loads(_bundle())  # type: ignore[no-any-return]


def _amount(doc: dict[str, Any]) -> None:
    doc["entries"][1]["postings"][0]["amount"] = "1.00"


def _rehashed(doc: dict[str, Any]) -> None:
    """A forger who recomputes the hashes after changing an amount: the chain is consistent,
    the signed head is not."""
    _amount(doc)
    prev = doc["entries"][0]["hash"]
    for raw in doc["entries"][1:]:
        entry = LedgerEntry.model_validate(raw | {"prev_hash": prev})
        raw.update(prev_hash=prev, hash=chain_hash(prev, canonical_body(entry)))
        prev = raw["hash"]
    doc["head"]["hash"] = prev


def _truncated(doc: dict[str, Any]) -> None:
    doc["entries"].pop()
    doc["head"] = {"seq": doc["entries"][-1]["seq"], "hash": doc["entries"][-1]["hash"]}


def _other_key(doc: dict[str, Any]) -> None:
    doc["checkpoint"] = OTHER.sign(ENTRIES[-1]).model_dump(mode="json")


TAMPERING: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("an amount changed", _amount, "hash mismatch"),
    ("amount changed and hashes recomputed", _rehashed, "re-forged"),
    ("last entry removed", _truncated, "entries were removed"),
    ("an entry removed from the middle", lambda d: d["entries"].pop(2), "gap"),
    ("checkpoint dropped", lambda d: d.update(checkpoint=None), "unsigned tail"),
    ("checkpoint of another key", _other_key, "untrusted key"),
    ("signature altered", lambda d: d["checkpoint"].update(signature="B" * 86 + "=="), "forged"),
    ("head moved", lambda d: d["head"].update(seq=0), "head is not"),
    ("another facility named", lambda d: d.update(facility_id="fac-x"), "facility"),
    ("not a bundle", lambda d: d.update(format="other"), "not a ledger bundle"),
    ("an entry that is no entry", lambda d: d["entries"][0].pop("hash"), "not a ledger entry"),
]


@pytest.mark.parametrize(("name", "tamper", "reason"), TAMPERING, ids=[t[0] for t in TAMPERING])
def test_a_tampered_bundle_fails_naming_why(
    name: str, tamper: Callable[[dict[str, Any]], None], reason: str
) -> None:
    doc = _doc()
    tamper(doc)
    result = verify_bundle(canonical(doc), KEYS, FAC)
    assert not result.ok, name
    assert any(reason in str(p) for p in result.problems), [str(p) for p in result.problems]


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_changed_byte_of_an_entry_value_fails(data: st.DataObject) -> None:
    doc = _doc()
    entry = data.draw(st.sampled_from(doc["entries"]))
    posting = data.draw(st.sampled_from(entry["postings"]))
    field = data.draw(st.sampled_from(["amount", "account", "direction", "posting_id"]))
    original = posting[field]
    posting[field] = data.draw(st.sampled_from(["interest_income", "credit", "9.99", "x-1"]))
    if posting[field] == original:
        posting[field] = original + "0" if field == "amount" else "other"
    assert not verify_bundle(canonical(doc), KEYS, FAC).ok


def test_the_cli_verifies_a_bundle_and_fails_a_tampered_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "key.pem"
    key.write_text(public_pem(SIGNER.public_key))
    good = tmp_path / "bundle.json"
    good.write_bytes(_bundle())
    argv = ["ledger", "verify", "--facility", FAC, "--public-key", str(key), "--file"]
    assert main([*argv, str(good)]) == 0
    assert "verified" in capsys.readouterr().out
    doc = _doc()
    _rehashed(doc)
    bad = tmp_path / "bad.json"
    bad.write_bytes(canonical(doc))
    assert main([*argv, str(bad)]) == 1
    assert "VERIFICATION FAILED" in capsys.readouterr().err
    assert main([*argv, str(good), "--anchor", f"0:{ENTRIES[0].hash}"]) == 0
    assert main([*argv, str(good), "--anchor", f"0:{ENTRIES[1].hash}"]) == 1


def test_bundle_keeps_only_the_facilitys_records() -> None:
    stray = ENTRIES[0].model_copy(update={"facility_id": "fac-other"})
    doc = bundle(FAC, [*ENTRIES, stray], [*CHECKPOINTS, OTHER.sign(stray)])
    assert len(doc["entries"]) == len(ENTRIES)
    assert doc["checkpoint"]["facility_id"] == FAC
