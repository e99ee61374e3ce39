"""``tradelane api`` refuses a taken port with a clear message instead of a traceback."""

from __future__ import annotations

import socket

import pytest

from tradelane.cli.main import main


def test_a_taken_port_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["api", "--port", str(port)]) == 2
    assert f"port {port} on 127.0.0.1 is already taken" in capsys.readouterr().err


def test_a_port_out_of_range_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["api", "--port", "70000"]) == 2
    assert "--port must be within" in capsys.readouterr().err
