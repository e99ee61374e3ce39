"""``tradelane finance calendar --records`` and ``fx-feed`` (no Kafka); ``tradelane ledger``
is tested in ``test_ledger_cli.py``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main
from tests.unit.finance.builders import FAC
from tests.unit.finance.test_calendar import DEPARTED, published

DOCS = Path(__file__).resolve().parents[3] / "docs" / "finance.md"


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


def test_calendar_window_defaults_to_the_facilitys_event_time_and_help_explains_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "records.jsonl"
    lines = [json.dumps({"topic": t, "value": v.decode()}) for t, v in published(DEPARTED)]
    path.write_text("\n".join(lines) + "\n")
    argv = ["finance", "calendar", "--facility", FAC, "--records", str(path)]
    assert main([*argv, "--days", "3", "--daily"]) == 0
    out = capsys.readouterr().out
    # the ledger head's day (2026-03-02), not the reader's clock
    assert out.splitlines()[0] == "Funding calendar fac-1 (USD), 2026-03-02 .. 2026-03-04"
    printed = out.splitlines()
    daily = printed[printed.index("every day:") + 2 :][:4]
    assert [row[:10] for row in daily] == ["2026-03-02", "2026-03-03", "2026-03-04", ""]
    assert main([*argv, "--days", "183"]) == 2
    with pytest.raises(SystemExit):
        main([*argv, "--days", "7", "--weeks", "1"])
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["finance", "calendar", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for column in ("basis", "certainty", "headroom", "available", "short", "CASH GAP", "firm"):
        assert column in text
