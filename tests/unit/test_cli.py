"""The CLI answers --help at every level and turns bad input into a clear exit code."""

from __future__ import annotations

import argparse

import pytest

from cli import topics_cmd
from cli.main import build_parser, main
from tradelane.errors import ServiceError


def _paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                out += _paths(child, (*prefix, name))
    return out


@pytest.mark.parametrize("path", _paths(build_parser()), ids=lambda p: " ".join(p) or "root")
def test_help_at_every_level(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*path, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: tradelane")
    assert len(out.splitlines()) >= 3


def test_unknown_command_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["launch-rockets"])
    assert exit_.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_unknown_service_name_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["services", "status", "postgres"]) == 2
    assert "unknown service(s) postgres" in capsys.readouterr().err


def test_bad_environment_is_reported_not_raised(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRADELANE_KAFKA_BOOTSTRAP_SERVERS", "nonsense")
    assert main(["topics", "create"]) == 2
    assert "host:port" in capsys.readouterr().err


def test_topics_list_prints_every_topic(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topics", "list"]) == 0
    out = capsys.readouterr().out
    assert "tracker.readings" in out
    assert "fx.rates" in out


def test_pledging_without_kafka_is_refused_before_anything_runs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["simulate", "--bookings", "off", "--insure", "--duration", "1"]) == 2
    assert "--pledge-to and --insure publish to Kafka" in capsys.readouterr().err
    assert main(["simulate", "--pledge-to", " ", "--duration", "1"]) == 2
    assert "--pledge-to needs a facility id" in capsys.readouterr().err


def test_a_usage_error_is_reported_like_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "engines", "--shipments", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: tradelane bench engines ")
    assert err.endswith("tradelane bench engines: error: --shipments: integers, got 'x'\n")


def test_a_service_error_is_reported_without_usage(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def unreachable(_args: argparse.Namespace) -> int:
        raise ServiceError("no Kafka broker answers at k:1")

    monkeypatch.setattr(topics_cmd, "_list", unreachable)
    assert main(["topics", "list"]) == 2
    assert capsys.readouterr().err == "tradelane: error: no Kafka broker answers at k:1\n"
