"""``tradelane webhooks``: replay arguments are checked before anything connects."""

from __future__ import annotations

import pytest

from cli.main import main
from cli.webhooks_cmd import parse_offset
from webhooks.sealing import SecretBox


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


def test_generate_key_prints_a_usable_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["webhooks", "--generate-key"]) == 0
    key = capsys.readouterr().out.strip()
    box = SecretBox.parse(key)
    assert box.decrypt(box.encrypt(b"whsec_x")) == b"whsec_x"
    assert main(["webhooks", "--generate-key", "--reencrypt"]) == 2
    assert "separate steps" in capsys.readouterr().err
    assert main(["webhooks", "--reencrypt", "--replay", "wh_x"]) == 2
    assert "no replay options" in capsys.readouterr().err


def test_a_production_worker_or_api_without_a_key_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TRADELANE_WEBHOOKS_SECRET_KEYS", raising=False)
    monkeypatch.setenv("TRADELANE_KAFKA_BOOTSTRAP_SERVERS", "kafka-1.internal:9092")
    for args in (["webhooks"], ["webhooks", "--reencrypt"], ["api", "--port", "0"]):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert "TRADELANE_WEBHOOKS_SECRET_KEYS is not set" in err
        assert "--generate-key" in err


def test_a_bad_allow_list_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRADELANE_WEBHOOKS_ALLOW_HOSTS", "127.0.0.1,http://x")
    assert main(["webhooks"]) == 2
    assert "allow-list entry 'http://x'" in capsys.readouterr().err
