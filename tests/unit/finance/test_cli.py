"""``tradelane ledger verify --file`` and ``tradelane finance calendar --records`` (no Kafka)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
from tests.unit.finance.test_calendar import DEPARTED, published
from tradelane.cli.main import main
from tradelane.contracts import Milestone

DOCS = Path(__file__).resolve().parents[3] / "docs" / "finance.md"


def _export(tmp_path: Path) -> Path:
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
    path = tmp_path / "ledger.jsonl"
    path.write_text("".join(e.model_dump_json() + "\n" for o in outputs for e in o.entries))
    return path


def test_verify_a_good_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ledger", "verify", "--facility", FAC, "--file", str(_export(tmp_path))]) == 0
    assert "verified" in capsys.readouterr().out


def test_verify_names_a_tampered_entry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _export(tmp_path)
    lines = path.read_text().splitlines()
    assert '"amount":"66000.00"' in lines[0]
    lines[0] = lines[0].replace('"amount":"66000.00"', '"amount":"6600.00"', 1)
    lines.append("not json at all")
    path.write_text("\n".join(lines) + "\n")
    assert main(["ledger", "verify", "--facility", FAC, "--file", str(path)]) == 1
    err = capsys.readouterr().err
    assert "VERIFICATION FAILED" in err
    assert "seq 0, entry " in err
    assert "hash mismatch" in err
    assert "debits do not equal credits" in err
    assert f"line {len(lines)}: not a ledger entry" in err


def test_verify_checks_an_anchor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _export(tmp_path)
    wrong = f"1:{'ab' * 32}"
    assert (
        main(["ledger", "verify", "--facility", FAC, "--file", str(path), "--anchor", wrong]) == 1
    )
    assert "anchor mismatch" in capsys.readouterr().err
    assert main(["ledger", "verify", "--facility", FAC, "--anchor", "nonsense"]) == 2


def test_calendar_from_saved_records_matches_the_docs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "records.jsonl"
    lines = [json.dumps({"topic": t, "value": v.decode()}) for t, v in published(DEPARTED)]
    path.write_text("\n".join(lines) + "\n")
    argv = ["finance", "calendar", "--facility", FAC, "--records", str(path)]
    argv += ["--start", "2026-03-02", "--save", str(tmp_path / "again.jsonl")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "outstanding 66,000.00  base 132,000.00  headroom 66,000.00" in out
    docs = DOCS.read_text()
    for line in out.splitlines():
        assert line in docs, f"docs/finance.md lacks the calendar line {line!r}"
    assert (tmp_path / "again.jsonl").read_text() == path.read_text()
    assert main([*argv[:3], "fac-other", *argv[4:]]) == 2
    path.write_text("not json\n")
    assert main(argv) == 2


def test_fx_feed_dry_run_is_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["finance", "fx-feed", "--dry-run", "--count", "3", "--start", "2026-03-02T00:00:00Z"]
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert main(argv) == 0
    assert capsys.readouterr().out == first
    assert len(first.splitlines()) == 3 * 8
    assert main(["finance", "fx-feed", "--dry-run", "--start", "2026-03-02T00:00:00"]) == 2
