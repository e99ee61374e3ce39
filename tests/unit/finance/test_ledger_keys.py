"""The ledger signing key (finance/ledger_keys.py) and the commands around it: configured in
production, generated once on a loopback machine, refused when missing elsewhere."""

from __future__ import annotations

import base64
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from cli.main import main
from devtools.services.compose_secrets import environment
from finance.checkpoints import key_id, raw_public
from finance.ledger_keys import (
    KeyFormatError,
    MissingSigningKeyError,
    load_signer,
    local_key,
    parse_private_key,
    parse_public_key,
    private_pem,
    public_pem,
    seed_b64,
)
from tradelane.settings import LedgerSettings, is_loopback_only

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
REMOTE = "kafka-1.bank.example:9093,kafka-2.bank.example:9093"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRADELANE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TRADELANE_LEDGER_SIGNING_KEY", raising=False)
    monkeypatch.delenv("TRADELANE_LEDGER_SIGNING_KEY_FILE", raising=False)
    return tmp_path / "home"


def _same(a: Ed25519PrivateKey, b: Ed25519PrivateKey) -> bool:
    return raw_public(a.public_key()) == raw_public(b.public_key())


@pytest.mark.parametrize("text", [private_pem(KEY), seed_b64(KEY), f"  {seed_b64(KEY)}\n"])
def test_a_private_key_reads_as_pem_or_base64_seed(text: str) -> None:
    assert _same(parse_private_key(text), KEY)


def test_a_urlsafe_seed_reads_too() -> None:
    seed = KEY.private_bytes_raw()
    assert _same(parse_private_key(base64.urlsafe_b64encode(seed).decode()), KEY)


@pytest.mark.parametrize(
    "text",
    [public_pem(KEY.public_key()), base64.b64encode(raw_public(KEY.public_key())).decode()],
)
def test_a_public_key_reads_as_pem_or_base64(text: str) -> None:
    assert raw_public(parse_public_key(text)) == raw_public(KEY.public_key())


_EC = generate_private_key(SECP256R1())
BAD_PRIVATE = [
    ("not base64 at all!", "not base64"),
    (base64.b64encode(b"short").decode(), "32 bytes, this is 5"),
    ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "not a readable"),
    (
        _EC.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode(),
        "not an Ed25519 private key",
    ),
]


@pytest.mark.parametrize(("text", "reason"), BAD_PRIVATE)
def test_a_bad_private_key_is_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(KeyFormatError, match=reason):
        parse_private_key(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (private_pem(KEY), "this is a private key"),
        (base64.b64encode(bytes(31)).decode(), "32 bytes, this is 31"),
        (
            _EC.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode(),
            "not an Ed25519 public key",
        ),
    ],
)
def test_a_bad_public_key_is_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(KeyFormatError, match=reason):
        parse_public_key(text)


@pytest.mark.parametrize(
    ("servers", "local"),
    [
        ("127.0.0.1:9092", True),
        ("localhost:9092,127.0.0.2:9093", True),
        ("[::1]:9092", True),
        ("kafka:9092", False),
        ("127.0.0.1:9092,10.0.0.5:9092", False),
    ],
)
def test_only_an_all_loopback_cluster_is_local(servers: str, local: bool) -> None:
    assert is_loopback_only(servers) is local


def test_a_configured_key_wins_everywhere(home: Path) -> None:
    settings = LedgerSettings(signing_key=seed_b64(KEY))  # type: ignore[arg-type]
    assert _same(load_signer(settings, REMOTE).private_key, KEY)
    assert _same(load_signer(settings, "127.0.0.1:9092").private_key, KEY)
    assert not (home / "secrets").exists(), "nothing generated when a key is configured"


def test_a_bad_configured_key_names_the_variable(home: Path) -> None:
    settings = LedgerSettings(signing_key="nonsense!")  # type: ignore[arg-type]
    with pytest.raises(KeyFormatError, match="TRADELANE_LEDGER_SIGNING_KEY: not base64"):
        load_signer(settings, REMOTE)


def test_a_remote_cluster_without_a_key_refuses(home: Path) -> None:
    with pytest.raises(MissingSigningKeyError, match="TRADELANE_LEDGER_SIGNING_KEY is not set"):
        load_signer(LedgerSettings(), REMOTE)
    assert not (home / "secrets").exists()


def test_a_loopback_machine_generates_one_key_and_keeps_it(home: Path) -> None:
    first = load_signer(LedgerSettings(), "127.0.0.1:9092")
    path = home / "secrets" / "ledger-signing.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert load_signer(LedgerSettings(), "127.0.0.1:9092").key_id == first.key_id
    assert sorted(p.name for p in path.parent.iterdir()) == ["ledger-signing.key"]


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "ledger-signing.key"
    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(lambda _: local_key(path), range(16)))
    assert len({raw_public(k.public_key()) for k in keys}) == 1


def test_an_explicit_key_file_serves_a_remote_cluster(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "mounted.pem"
    path.write_text(private_pem(KEY))
    settings = LedgerSettings(signing_key_file=path)
    assert _same(load_signer(settings, REMOTE).private_key, KEY)
    with pytest.raises(MissingSigningKeyError):
        load_signer(LedgerSettings(signing_key_file=tmp_path / "missing.pem"), REMOTE)


def test_compose_secrets_carry_a_usable_signing_key() -> None:
    parse_private_key(environment()["TRADELANE_LEDGER_SIGNING_KEY"])


# --- the commands -----------------------------------------------------------------------------


def test_generate_key_prints_a_seed_and_public_key_prints_its_pem(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ledger", "generate-key"]) == 0
    out, err = capsys.readouterr()
    key = parse_private_key(out)
    assert f"key id {key_id(key.public_key())}" in err
    monkeypatch.setenv("TRADELANE_LEDGER_SIGNING_KEY", out.strip())
    monkeypatch.setenv("TRADELANE_KAFKA_BOOTSTRAP_SERVERS", REMOTE)
    assert main(["ledger", "public-key"]) == 0
    out, err = capsys.readouterr()
    assert out == public_pem(key.public_key())
    assert f"key id {key_id(key.public_key())}" in err


def test_generate_key_writes_a_private_file_once(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ledger.pem"
    assert main(["ledger", "generate-key", "--out", str(path)]) == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    parse_private_key(path.read_text())
    assert main(["ledger", "generate-key", "--out", str(path)]) == 2
    assert "never overwritten" in capsys.readouterr().err


def test_a_worker_on_a_remote_cluster_without_a_key_refuses_before_connecting(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import streams.guard
    import streams.lease

    async def connects(*_: object) -> None:
        raise AssertionError("the worker connected before it had its signing key")

    monkeypatch.setattr(streams.guard, "refuse_second_group", connects)
    monkeypatch.setattr(streams.lease, "acquire", connects)
    monkeypatch.setenv("TRADELANE_KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("TRADELANE_KAFKA_USERNAME", "worker")
    monkeypatch.setenv("TRADELANE_KAFKA_PASSWORD", "unused")
    assert main(["worker", "--other-group-wait", "0"]) == 2
    err = capsys.readouterr().err
    assert "TRADELANE_LEDGER_SIGNING_KEY is not set" in err
    assert "tradelane ledger generate-key" in err
