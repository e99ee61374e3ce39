"""``tradelane webhooks``: replay arguments are checked before anything connects."""

from __future__ import annotations

import pytest

from tradelane.cli.main import main
from tradelane.cli.webhooks_cmd import parse_offset


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2026-03-01T00:00:00+00:00"], "need --replay"),
        (["--replay", "wh_x"], "exactly one of --since or --from-offset"),
        (["--replay", "wh_x", "--since", "2026-03-01T00:00:00"], "needs a zone"),
        (["--replay", "wh_x", "--from-offset", "fx.rates:0:1"], "TOPIC one of"),
        (["--replay", "wh_x", "--from-offset", "finance.events:x:1"], "TOPIC:PARTITION:OFFSET"),
    ],
)
def test_bad_replay_arguments_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["webhooks", *args]) == 2
    assert message in capsys.readouterr().err


def test_offsets_parse() -> None:
    assert parse_offset("insurance.claims:5:1200") == (("insurance.claims", 5), 1200)


def test_inconsistent_retry_settings_are_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRADELANE_WEBHOOKS_RETRY_BASE_S", "60")
    monkeypatch.setenv("TRADELANE_WEBHOOKS_RETRY_CAP_S", "10")
    assert main(["webhooks"]) == 2
    assert "RETRY_CAP_S must be >= RETRY_BASE_S" in capsys.readouterr().err
