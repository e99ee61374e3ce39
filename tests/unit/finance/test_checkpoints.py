"""Signed ledger checkpoints (finance/checkpoints.py, finance/ledger.py): the signature covers
every field, is reproducible from the documented bytes in any language, and a verifier holding
the public key catches a re-forged chain, an appended entry, a truncated chain and a checkpoint
signed by another key. One case a line where the cases are a table."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from finance.checkpoints import (
    DOMAIN,
    CheckpointSigner,
    checkpoint_id,
    key_id,
    raw_public,
    signature_ok,
    signed_bytes,
)
from finance.ledger import build_entry, canonical_body, chain_hash, checkpoint_fault, verify
from finance.ledger_keys import public_pem
from finance.ledger_store import heads
from finance.money import identity
from finance.shell import EVENT
from streams.pledge_stage import PledgeStage
from streams.registries import Registries
from tests.strategies import aware, ids
from tests.unit.finance.builders import (
    FAC,
    SHP,
    SHP2,
    breach_started,
    milestone,
    setup,
    story_ledger,
)
from tradelane.contracts import Milestone
from tradelane.contracts.finance import (
    GENESIS_HASH,
    Direction,
    LedgerAccount,
    LedgerCheckpoint,
    LedgerEntry,
    LedgerEntryKind,
)
from tradelane.topics import FINANCE_CHECKPOINTS, FINANCE_LEDGER

DOCS = Path(__file__).resolve().parents[3] / "docs" / "finance.md"

SEED = bytes(range(32))
"""The documented test vector's private key (docs/finance.md): never a real key."""
SIGNER = CheckpointSigner(Ed25519PrivateKey.from_private_bytes(SEED))
OTHER = CheckpointSigner(Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33))))
KEYS = [SIGNER.public_key]
hex64 = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)


def signed(entries: list[LedgerEntry], signer: CheckpointSigner = SIGNER) -> list[LedgerCheckpoint]:
    """A checkpoint after every entry, as a worker batching one input at a time signs."""
    return [signer.sign(e) for e in entries]


# --- the signature ----------------------------------------------------------------------------


def test_a_checkpoint_names_the_head_and_verifies_with_the_public_key() -> None:
    entries = story_ledger()
    head = entries[-1]
    c = SIGNER.sign(head)
    assert (c.facility_id, c.seq, c.head_hash, c.entry_count, c.at) == (
        FAC,
        head.seq,
        head.hash,
        head.seq + 1,
        head.at,
    )
    assert c.checkpoint_id == checkpoint_id(FAC, head.seq)
    assert c.algorithm == "ed25519"
    assert c.key_id == SIGNER.key_id == key_id(SIGNER.public_key)
    assert len(c.key_id) == 16
    assert signature_ok(c, SIGNER.public_key)
    assert not signature_ok(c, OTHER.public_key)


def test_signing_the_same_head_twice_gives_identical_bytes() -> None:
    """Ed25519 is deterministic: a re-run step's checkpoint is an identical redelivery."""
    head = story_ledger()[-1]
    assert SIGNER.sign(head).model_dump_json() == SIGNER.sign(head).model_dump_json()


def test_the_documented_recipe_verifies_a_stored_record() -> None:
    """What a bank does in any language: parse the stored JSON, drop ``signature``, dump it
    with sorted keys and no whitespace, prefix the domain line, verify with the raw key."""
    record = SIGNER.sign(story_ledger()[-1]).model_dump_json()
    data = json.loads(record)
    signature = base64.b64decode(data.pop("signature"))
    message = b"tradelane-ledger-checkpoint\n" + json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    assert message == signed_bytes(LedgerCheckpoint.model_validate_json(record))
    assert message.startswith(DOMAIN)
    Ed25519PublicKey.from_public_bytes(raw_public(SIGNER.public_key)).verify(signature, message)


def vector_entry() -> LedgerEntry:
    """The entry of the documented test vector, built from fixed inputs (not by the engine,
    so the vector stays put while the engine's rules change)."""
    return build_entry(
        facility_id="fac-1",
        seq=0,
        prev_hash=GENESIS_HASH,
        kind=LedgerEntryKind.DRAWDOWN,
        cause_key=("shp-1", "departed_origin"),
        cause_event_id="evt-1",
        at=datetime(2026, 3, 2, 1, tzinfo=UTC),
        currency="USD",
        fx=identity("USD"),
        legs=[
            (LedgerAccount.LOAN_PRINCIPAL, Direction.DEBIT, Decimal("66000.00")),
            (LedgerAccount.FUNDING, Direction.CREDIT, Decimal("66000.00")),
        ],
    )


def test_the_docs_test_vector_is_what_the_code_signs() -> None:
    """docs/finance.md prints a key, a checkpoint and its signed bytes for implementers."""
    c = SIGNER.sign(vector_entry())
    docs = DOCS.read_text()
    assert base64.b64encode(SEED).decode() in docs
    assert base64.b64encode(raw_public(SIGNER.public_key)).decode() in docs
    assert c.model_dump_json() in docs, c.model_dump_json()
    assert signed_bytes(c).decode().split("\n", 1)[1] in docs


_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "checkpoint_id": st.text(min_size=1, max_size=64),
    "facility_id": ids,
    "seq": st.integers(0, 2**40),
    "head_hash": hex64,
    "entry_count": st.integers(1, 2**40),
    "at": aware,
    "key_id": st.text(alphabet="0123456789abcdef", min_size=16, max_size=16),
}


@settings(suppress_health_check=[HealthCheck.too_slow])  # one signature per example
@given(field=st.sampled_from(sorted(_FIELDS)), data=st.data())
def test_changing_any_signed_field_breaks_the_signature(field: str, data: st.DataObject) -> None:
    original = SIGNER.sign(story_ledger()[2])
    value = data.draw(_FIELDS[field].filter(lambda v: v != getattr(original, field)))
    forged = original.model_copy(update={field: value})
    forged = LedgerCheckpoint.model_validate_json(forged.model_dump_json())  # still a checkpoint
    assert not signature_ok(forged, SIGNER.public_key)


def test_every_field_but_the_signature_is_signed() -> None:
    c = SIGNER.sign(story_ledger()[0])
    body = json.loads(signed_bytes(c)[len(DOMAIN) :])
    assert set(body) == set(LedgerCheckpoint.model_fields) - {"signature"}
    assert set(_FIELDS) == set(body) - {"schema_version", "algorithm"}  # Literal: one value


@given(st.integers(0, 63), st.integers(1, 255))
def test_any_flipped_signature_bit_fails(index: int, mask: int) -> None:
    c = SIGNER.sign(story_ledger()[1])
    raw = bytearray(base64.b64decode(c.signature))
    raw[index] ^= mask
    forged = c.model_copy(update={"signature": base64.b64encode(bytes(raw)).decode()})
    assert not signature_ok(forged, SIGNER.public_key)


@pytest.mark.parametrize("bad", ["", "not base64", "A" * 88, "A" * 86 + "=", "+" * 86 + "=="])
def test_a_malformed_signature_is_not_a_checkpoint_or_does_not_verify(bad: str) -> None:
    raw = SIGNER.sign(story_ledger()[0]).model_dump(mode="json") | {"signature": bad}
    try:
        forged = LedgerCheckpoint.model_validate(raw)
    except ValidationError:
        return
    assert not signature_ok(forged, SIGNER.public_key)


# --- the chain and its checkpoints ------------------------------------------------------------


def _reforged(entries: list[LedgerEntry], at: int) -> list[LedgerEntry]:
    """The chain from ``at`` on rebuilt with a smaller first posting pair and every hash
    recomputed: a chain that verifies on its own (what a forger with write access can make)."""
    out = entries[:at]
    prev = entries[at - 1].hash if at else entries[0].prev_hash
    for index, entry in enumerate(entries[at:]):
        postings = entry.postings
        if index == 0:
            postings = [
                p.model_copy(update={"amount": p.amount / 2}) if i < 2 else p
                for i, p in enumerate(postings)
            ]
            if len(postings) > 2:  # keep a three-leg repayment balanced: forge a two-leg one
                postings = [p.model_copy(update={"amount": Decimal("1.00")}) for p in postings[:2]]
        draft = entry.model_copy(update={"postings": postings, "prev_hash": prev})
        forged = draft.model_copy(update={"hash": chain_hash(prev, canonical_body(draft))})
        out.append(forged)
        prev = forged.hash
    return out


def test_a_signed_ledger_verifies_and_reports_what_signed_it() -> None:
    entries = story_ledger()
    result = verify(FAC, entries, checkpoints=signed(entries), keys=KEYS)
    assert result.ok, result.problems
    assert result.signatures is not None
    assert result.signatures.signed_seq == len(entries) - 1
    assert result.signatures.key_ids == (SIGNER.key_id,)
    assert result.signatures.checkpoints == len(entries)


def test_one_checkpoint_of_the_head_covers_the_whole_chain() -> None:
    entries = story_ledger()
    assert verify(FAC, entries, checkpoints=[SIGNER.sign(entries[-1])], keys=KEYS).ok


def test_an_empty_ledger_needs_no_checkpoint() -> None:
    result = verify(FAC, [], checkpoints=[], keys=KEYS)
    assert result.ok
    assert result.signatures is not None
    assert result.signatures.signed_seq is None


def test_a_reforged_chain_with_valid_hashes_fails() -> None:
    entries = story_ledger()
    forged = _reforged(entries, 1)
    assert forged[1] != entries[1]
    assert verify(FAC, forged).ok, "the hash chain alone is fooled by a re-forged chain"
    result = verify(FAC, forged, checkpoints=signed(entries), keys=KEYS)
    assert not result.ok
    assert any("the chain was re-forged" in p.reason for p in result.problems)
    assert "unsigned tail" in result.problems[-1].reason
    assert result.problems[-1].seq == 1  # only seq 0 is still vouched for


def test_an_entry_appended_without_the_key_is_an_unsigned_tail() -> None:
    entries = story_ledger()
    head = entries[-1]
    draft = head.model_copy(
        update={"seq": head.seq + 1, "prev_hash": head.hash, "entry_id": "e" * 32}
    )
    draft = draft.model_copy(
        update={
            "postings": [
                p.model_copy(update={"posting_id": _posting_id("e" * 32, i)})
                for i, p in enumerate(draft.postings)
            ]
        }
    )
    appended = draft.model_copy(update={"hash": chain_hash(head.hash, canonical_body(draft))})
    assert verify(FAC, [*entries, appended]).ok, "a well-formed continuation"
    result = verify(FAC, [*entries, appended], checkpoints=signed(entries), keys=KEYS)
    assert [str(p) for p in result.problems] == [
        f"seq {appended.seq}, entry {'e' * 32}: unsigned tail: seq {appended.seq} covered by "
        "no valid checkpoint (appended without the signing key, or its checkpoint was lost)"
    ]


def _posting_id(entry_id: str, index: int) -> str:
    from tradelane.ids import derive_id

    return derive_id("posting", entry_id, index)


def test_a_checkpoint_signed_by_another_key_fails_and_covers_nothing() -> None:
    entries = story_ledger()
    result = verify(FAC, entries, checkpoints=[OTHER.sign(entries[-1])], keys=KEYS)
    assert [p.reason for p in result.problems] == [
        f"checkpoint of seq {entries[-1].seq} (key {OTHER.key_id}): signed by an untrusted key "
        f"(trusted: {SIGNER.key_id})",
        f"unsigned tail: seqs 0-{entries[-1].seq} covered by no valid checkpoint (appended "
        "without the signing key, or its checkpoint was lost)",
    ]


def test_a_checkpoint_claiming_the_trusted_key_but_signed_by_another_fails() -> None:
    entries = story_ledger()
    forged = OTHER.sign(entries[-1]).model_copy(update={"key_id": SIGNER.key_id})
    result = verify(FAC, entries, checkpoints=[forged], keys=KEYS)
    assert "signature does not verify" in result.problems[0].reason


def test_a_truncated_chain_is_caught_by_a_checkpoint_beyond_it() -> None:
    entries = story_ledger()
    result = verify(FAC, entries[:-2], checkpoints=signed(entries), keys=KEYS)
    reasons = [p.reason for p in result.problems]
    assert len(reasons) == 2
    assert all("signs an entry the chain does not have" in r for r in reasons)


def test_duplicate_checkpoints_and_a_rotated_key_are_fine() -> None:
    entries = story_ledger()
    half = len(entries) // 2
    stored = [*signed(entries[:half]), *signed(entries[:half]), *signed(entries[half:], OTHER)]
    result = verify(FAC, entries, checkpoints=stored, keys=[SIGNER.public_key, OTHER.public_key])
    assert result.ok, result.problems
    assert result.signatures is not None
    assert result.signatures.checkpoints == len(entries)
    assert set(result.signatures.key_ids) == {SIGNER.key_id, OTHER.key_id}
    retired = verify(FAC, entries, checkpoints=stored, keys=[OTHER.public_key])
    assert not retired.ok, "a key no longer trusted vouches for nothing"


def _with(field: str, value: object) -> Callable[[LedgerCheckpoint], LedgerCheckpoint]:
    """Change ``field`` and sign again with the trusted key (only the chain check can object)."""

    def change(c: LedgerCheckpoint) -> LedgerCheckpoint:
        raw = c.model_copy(update={field: value})
        return raw.model_copy(
            update={
                "signature": base64.b64encode(SIGNER.private_key.sign(signed_bytes(raw))).decode()
            }
        )

    return change


def _resigned_by_other(c: LedgerCheckpoint) -> LedgerCheckpoint:
    return OTHER.sign(story_ledger()[c.seq])


FAULTS: list[tuple[str, Callable[[LedgerCheckpoint], LedgerCheckpoint], str]] = [
    ("foreign", _with("facility_id", "fac-9"), "belongs to facility 'fac-9'"),
    ("id", _with("checkpoint_id", "x" * 32), "checkpoint id is not derived"),
    ("untrusted", _resigned_by_other, "signed by an untrusted key"),
    (
        "altered",
        lambda c: c.model_copy(update={"head_hash": "cd" * 32}),
        "signature does not verify",
    ),
    ("count", _with("entry_count", 99), "entry_count 99 is not seq + 1"),
    (
        "beyond",
        lambda c: _with("checkpoint_id", checkpoint_id(FAC, 99))(
            _with("entry_count", 100)(_with("seq", 99)(c))
        ),
        "signs an entry the chain does not have",
    ),
    ("hash", _with("head_hash", "ab" * 32), "the chain was re-forged"),
    ("time", lambda c: _with("at", c.at + timedelta(seconds=1))(c), "covers event time"),
]
"""Each fault of a checkpoint, in the order ``checkpoint_fault`` reports them."""


@pytest.mark.parametrize(("name", "change", "reason"), FAULTS, ids=[f[0] for f in FAULTS])
def test_each_checkpoint_fault_is_named(
    name: str, change: Callable[[LedgerCheckpoint], LedgerCheckpoint], reason: str
) -> None:
    entries = story_ledger()
    genuine = SIGNER.sign(entries[2])
    assert checkpoint_fault(FAC, entries, genuine, {SIGNER.key_id: SIGNER.public_key}) is None
    fault = checkpoint_fault(FAC, entries, change(genuine), {SIGNER.key_id: SIGNER.public_key})
    assert fault is not None, name
    assert reason in fault, (name, fault)


def test_the_first_fault_in_precedence_order_is_the_one_reported() -> None:
    entries = story_ledger()
    keys = {SIGNER.key_id: SIGNER.public_key}
    genuine = SIGNER.sign(entries[2])
    both = _with("facility_id", "fac-9")(_with("head_hash", "ab" * 32)(genuine))
    assert "belongs to facility" in str(checkpoint_fault(FAC, entries, both, keys))
    both = _with("entry_count", 99)(_with("head_hash", "ab" * 32)(genuine))
    assert "entry_count 99" in str(checkpoint_fault(FAC, entries, both, keys))
    unsigned = OTHER.sign(entries[2]).model_copy(update={"head_hash": "ab" * 32})
    assert "untrusted key" in str(checkpoint_fault(FAC, entries, unsigned, keys))


def test_heads_are_the_last_entry_of_each_facility() -> None:
    entries = story_ledger()
    other = [e.model_copy(update={"facility_id": "fac-2"}) for e in entries[:2]]
    assert heads([entries[0], other[0], entries[1], other[1]]) == [entries[1], other[1]]


# --- the worker's pledge stage ----------------------------------------------------------------


def _stage(signer: CheckpointSigner | None = SIGNER) -> PledgeStage:
    registries = Registries()
    for record in setup():
        registries.learn(record)  # type: ignore[arg-type]
    stage = PledgeStage(registries, "finance-in", "c-fac", signer=signer)
    stage.store.load(0, [])
    return stage


def _records() -> list[tuple[str, int, bytes, bytes, int]]:
    inputs = [
        milestone(Milestone.DEPARTED_ORIGIN, 1),
        milestone(Milestone.DEPARTED_ORIGIN, 2, shipment_id=SHP2),
        breach_started(30),
        milestone(Milestone.ENTERED_BONDED_WAREHOUSE, 60, shipment_id=SHP),
    ]
    return [
        ("finance-in", 0, FAC.encode(), EVENT + e.model_dump_json().encode(), offset)
        for offset, e in enumerate(inputs)
    ]


def test_the_pledge_stage_signs_each_batch_head_in_the_same_sends() -> None:
    sends = _stage().apply(_records())
    topics = [topic for topic, *_ in sends]
    entries = [
        LedgerEntry.model_validate_json(v) for t, _, v, _ in sends if t == FINANCE_LEDGER.name
    ]
    (checkpoint,) = [
        LedgerCheckpoint.model_validate_json(v)
        for t, _, v, _ in sends
        if t == FINANCE_CHECKPOINTS.name
    ]
    assert len(entries) >= 2
    assert checkpoint.seq == entries[-1].seq
    assert topics.index(FINANCE_CHECKPOINTS.name) > max(
        i for i, t in enumerate(topics) if t == FINANCE_LEDGER.name
    )
    assert topics.index(FINANCE_CHECKPOINTS.name) < topics.index("c-fac"), "changelogs last"
    assert next(k for t, k, _, _ in sends if t == FINANCE_CHECKPOINTS.name) == FAC.encode()
    assert verify(FAC, entries, checkpoints=[checkpoint], keys=KEYS).ok


def test_a_rerun_batch_writes_identical_checkpoints_and_a_cut_one_valid_ones() -> None:
    records = _records()
    first = _stage().apply(records)
    again = _stage().apply(records)
    assert first == again
    stage = _stage()
    cut = stage.apply(records[:1]) + stage.apply(records[1:])
    checkpoints = [
        LedgerCheckpoint.model_validate_json(v)
        for t, _, v, _ in cut
        if t == FINANCE_CHECKPOINTS.name
    ]
    entries = [LedgerEntry.model_validate_json(v) for t, _, v, _ in cut if t == FINANCE_LEDGER.name]
    assert len(checkpoints) == 2
    assert verify(FAC, entries, checkpoints=checkpoints, keys=KEYS).ok


def test_a_stage_without_a_signer_writes_no_checkpoint() -> None:
    sends = _stage(None).apply(_records())
    assert FINANCE_CHECKPOINTS.name not in {t for t, *_ in sends}


@pytest.mark.skipif(
    not (shutil.which("jq") and shutil.which("openssl") and shutil.which("bash")),
    reason="needs jq and openssl",
)
def test_the_documented_shell_recipe_verifies_the_vector(tmp_path: Path) -> None:
    """docs/finance.md's jq + OpenSSL session, run as written on the test vector."""
    docs = DOCS.read_text()
    block = docs[docs.index("With `jq` and OpenSSL 3:") :]
    block = block[block.index("```console") : block.index("```", block.index("```console") + 3)]
    commands = [line[2:] for line in block.splitlines() if line.startswith("$ ")]
    expected = [line for line in block.splitlines()[1:] if line and not line.startswith("$ ")]
    (tmp_path / "checkpoint.json").write_text(SIGNER.sign(vector_entry()).model_dump_json())
    (tmp_path / "ledger-public.pem").write_text(public_pem(SIGNER.public_key))
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "\n".join(commands)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == expected
    forged = SIGNER.sign(vector_entry()).model_copy(update={"seq": 1})
    (tmp_path / "checkpoint.json").write_text(forged.model_dump_json())
    again = subprocess.run(
        ["bash", "-c", "\n".join(commands)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert "Signature Verified Successfully" not in again.stdout
