"""``tradelane ledger verify --file`` on a signed bundle (what ``tradelane ledger export``
writes), with and without ``--public-key`` (no Kafka)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cli.main import main
from finance.checkpoints import CheckpointSigner
from finance.ledger_keys import load_signer, private_pem, public_pem
from tests.unit.finance.builders import (
    FAC,
    breach_progress,
    breach_started,
    milestone,
    play,
    repayment,
    setup,
    tick,
)
from tests.unit.finance.test_checkpoints import _reforged
from tradelane.contracts import Milestone
from tradelane.contracts.finance import LedgerEntry
from tradelane.settings import LedgerSettings

DOCS = Path(__file__).resolve().parents[3] / "docs" / "finance.md"

SIGNER = CheckpointSigner(Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
"""The docs' example key (docs/finance.md): never a real one."""
FORGER = CheckpointSigner(Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33))))


def _entries() -> list[LedgerEntry]:
    _, outputs = play(
        [
            *setup(),
            milestone(Milestone.DEPARTED_ORIGIN, 1),
            breach_started(30),
            breach_progress(30, 300),
            tick(72),
            repayment("70000", 73),
        ]
    )
    return [e for o in outputs for e in o.entries]


def _export(tmp_path: Path, signer: CheckpointSigner | None = SIGNER) -> Path:
    """What `tradelane ledger export` writes: the entries, then a checkpoint per step."""
    entries = _entries()
    path = tmp_path / "ledger.jsonl"
    lines = [e.model_dump_json() for e in entries]
    if signer is not None:
        lines += [signer.sign(e).model_dump_json() for e in entries]
    path.write_text("".join(line + "\n" for line in lines))
    return path


def _public_key(tmp_path: Path, signer: CheckpointSigner = SIGNER) -> Path:
    path = tmp_path / f"{signer.key_id}.pem"
    path.write_text(public_pem(signer.public_key))
    return path


def _verify(tmp_path: Path, path: Path, *extra: str) -> int:
    key = str(_public_key(tmp_path))
    return main(
        ["ledger", "verify", "--facility", FAC, "--file", str(path), "--public-key", key, *extra]
    )


def test_verify_a_good_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _verify(tmp_path, _export(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "5 checkpoints, signed to seq 4 by key 56475aa75463474c: verified" in out


def test_verify_names_a_tampered_entry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _export(tmp_path)
    lines = path.read_text().splitlines()
    assert '"amount":"66000.00"' in lines[0]
    lines[0] = lines[0].replace('"amount":"66000.00"', '"amount":"6600.00"', 1)
    lines.append("not json at all")
    path.write_text("\n".join(lines) + "\n")
    assert _verify(tmp_path, path) == 1
    err = capsys.readouterr().err
    assert "VERIFICATION FAILED" in err
    assert "seq 0, entry " in err
    assert "hash mismatch" in err
    assert "debits do not equal credits" in err
    assert f"line {len(lines)}: not a ledger entry" in err


def test_verify_checks_an_anchor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _export(tmp_path)
    wrong = f"1:{'ab' * 32}"
    assert _verify(tmp_path, path, "--anchor", wrong) == 1
    assert "anchor mismatch" in capsys.readouterr().err
    assert main(["ledger", "verify", "--facility", FAC, "--anchor", "nonsense"]) == 2


def test_an_export_without_checkpoints_is_an_unsigned_tail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _verify(tmp_path, _export(tmp_path, signer=None)) == 1
    assert "seqs 0-4 covered by no valid checkpoint" in capsys.readouterr().err


def test_a_bundle_signed_by_another_key_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _verify(tmp_path, _export(tmp_path, signer=FORGER)) == 1
    err = capsys.readouterr().err
    assert f"(key {FORGER.key_id}): signed by an untrusted key (trusted: {SIGNER.key_id})" in err
    key = str(_public_key(tmp_path, FORGER))
    path = str(_export(tmp_path, signer=FORGER))
    argv = ["ledger", "verify", "--facility", FAC, "--file", path]
    assert main([*argv, "--public-key", key]) == 0, "with the forger's key, it is their ledger"
    assert main([*argv, "--public-key", str(tmp_path / "missing.pem")]) == 2
    bad = tmp_path / "bad.pem"
    bad.write_text(private_pem(SIGNER.private_key))
    assert main([*argv, "--public-key", str(bad)]) == 2
    assert "this is a private key" in capsys.readouterr().err


def test_without_a_public_key_the_machines_own_key_is_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRADELANE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TRADELANE_LEDGER_SIGNING_KEY", raising=False)
    monkeypatch.delenv("TRADELANE_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    local = load_signer(LedgerSettings(), "127.0.0.1:9092")  # what a worker here signs with
    argv = ["ledger", "verify", "--facility", FAC, "--file"]
    assert main([*argv, str(_export(tmp_path, signer=local))]) == 0
    assert main([*argv, str(_export(tmp_path, signer=SIGNER))]) == 1
    assert "untrusted key" in capsys.readouterr().err


def _masked(text: str) -> str:
    return re.sub(r"\b[0-9a-f]{32}(?:[0-9a-f]{32})?\b", "…", text)


def test_the_documented_verify_session_is_what_the_command_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/finance.md's console session (hashes and ids masked: the engine may change
    amounts' rounding, the messages and counts may not drift from the docs)."""
    docs = _masked(DOCS.read_text())
    path = _export(tmp_path)
    assert _verify(tmp_path, path) == 0
    printed = capsys.readouterr().out
    text = path.read_text().replace('"amount":"66000.00"', '"amount":"6600.00"', 1)  # the sed
    forged = tmp_path / "forged.jsonl"
    forged.write_text(text)
    assert _verify(tmp_path, forged) == 1
    printed += capsys.readouterr().err
    reforged = tmp_path / "reforged.jsonl"  # from seq 3 on, hashes recomputed, head re-signed
    chain = _reforged(_entries(), 3)
    checkpoints = path.read_text().splitlines()[5:]
    lines = [e.model_dump_json() for e in chain] + checkpoints
    reforged.write_text("\n".join([*lines, FORGER.sign(chain[-1]).model_dump_json()]))
    assert _verify(tmp_path, reforged) == 1
    printed += capsys.readouterr().err
    for line in printed.splitlines():
        assert _masked(line) in docs, f"docs/finance.md lacks {line!r}"
