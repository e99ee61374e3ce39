"""``tradelane api`` refuses a taken port with a clear message instead of a traceback."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import pytest

from api.auth import Principal, Role, key_id_of, load_keys
from cli.main import main


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


def test_demo_keys_on_a_public_address_refuse_to_start(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRADELANE_API_KEYS_FILE", raising=False)
    assert main(["api", "--host", "0.0.0.0", "--port", "0"]) == 2  # noqa: S104
    err = capsys.readouterr().err
    assert "refusing to serve the public demo keys on 0.0.0.0" in err
    assert "TRADELANE_API_KEYS_FILE" in err


def test_a_key_file_with_plain_keys_refuses_to_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text("keys:\n  - {key: ops-secret-1, role: operator, name: desk}\n")
    monkeypatch.setenv("TRADELANE_API_KEYS_FILE", str(path))
    assert main(["api", "--port", "0"]) == 2
    assert "plain-text key" in capsys.readouterr().err


def test_keys_add_list_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "conf" / "keys.yaml"
    file = ["--file", str(path)]
    assert main(["api", "keys", "add", "--role", "bank", "--tenant", "bank-a", *file]) == 0
    first = capsys.readouterr()
    bank_key = first.out.strip()
    assert main(["api", "keys", "add", "--role", "operator", "--name", "ops desk", *file]) == 0
    ops_key = capsys.readouterr().out.strip()
    assert bank_key.startswith("tl_")
    assert "shown once" in first.err
    stored = path.read_text()
    assert bank_key not in stored
    assert ops_key not in stored
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ring = load_keys(path)
    assert ring.lookup(bank_key) == Principal(name="bank bank-a", role=Role.BANK, party="bank-a")
    assert ring.lookup(ops_key) == Principal(name="ops desk", role=Role.OPERATOR)
    bank_id = key_id_of(bank_key)
    assert main(["api", "keys", "list", *file]) == 0
    listed = capsys.readouterr().out
    assert bank_id is not None
    assert bank_id in listed
    assert "ops desk" in listed
    assert bank_key not in listed
    assert main(["api", "keys", "remove", bank_id, *file]) == 0
    assert load_keys(path).lookup(bank_key) is None
    assert main(["api", "keys", "remove", bank_id, *file]) == 2
    assert f"no key {bank_id}" in capsys.readouterr().err


def test_keys_add_needs_a_party_for_a_bank(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "keys.yaml"
    assert main(["api", "keys", "add", "--role", "bank", "--file", str(path)]) == 2
    assert "needs a party" in capsys.readouterr().err
    assert not path.exists()
