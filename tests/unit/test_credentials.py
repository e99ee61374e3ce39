"""The local keyring, Mosquitto's password hashes and compose's secrets."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devtools.services import compose_secrets, mosquitto_access
from tradelane import credentials
from tradelane.errors import ServiceError
from tradelane.settings import KafkaSettings, MqttSettings


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_keyring_is_private_and_stable(tmp_path: Path) -> None:
    ring = tmp_path / "secrets" / "kafka.json"
    first = credentials.ensure(ring, ("admin", "bridge"))
    assert _mode(ring) == 0o600
    assert _mode(ring.parent) == 0o700
    again = credentials.ensure(ring, ("admin", "bridge", "worker"))
    assert {k: again[k] for k in first} == first  # existing passwords are kept
    assert len(set(again.values())) == 3


def test_a_missing_password_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(credentials.CredentialsError, match="TRADELANE_KAFKA_USERNAME"):
        credentials.password(tmp_path / "none.json", "worker")


def test_settings_log_in_as_the_service_unless_a_user_is_set(tmp_path: Path) -> None:
    ring = tmp_path / "kafka.json"
    passwords = credentials.ensure(ring, ("admin", "worker"))
    base = KafkaSettings(credentials_file=ring)
    assert base.login() == ("admin", passwords["admin"])
    assert base.as_principal("worker").login() == ("worker", passwords["worker"])
    explicit = KafkaSettings(username="svc", password="pw", credentials_file=ring)  # type: ignore[arg-type]
    assert explicit.as_principal("worker").login() == ("svc", "pw")
    assert "pw" not in repr(explicit)
    assert KafkaSettings(security_protocol="PLAINTEXT").login() is None


def test_mqtt_settings_log_in_anonymously_only_when_told(tmp_path: Path) -> None:
    ring = tmp_path / "mqtt.json"
    passwords = credentials.ensure(ring, ("tradelane-admin", "tradelane-bridge"))
    settings = MqttSettings(credentials_file=ring)
    assert settings.login() == ("tradelane-admin", passwords["tradelane-admin"])
    bridge = settings.as_principal("tradelane-bridge")
    assert bridge.login() == ("tradelane-bridge", passwords["tradelane-bridge"])
    assert MqttSettings(anonymous=True).as_principal("tradelane-bridge").login() is None


@given(st.text(min_size=1, max_size=40))
def test_mosquitto_hashes_verify_only_their_password(password: str) -> None:
    hashed = mosquitto_access.password_hash(password)
    assert hashed.startswith("$7$101$")
    assert mosquitto_access.verify(password, hashed)
    assert not mosquitto_access.verify(password + "x", hashed)


def test_device_passwords_derive_from_the_fleet_secret() -> None:
    one = credentials.device_password("secret", "trk-1")
    assert one == credentials.device_password("secret", "trk-1")
    assert one != credentials.device_password("secret", "trk-2")
    assert one != credentials.device_password("other", "trk-1")


def test_compose_secrets_are_private_complete_and_never_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "secrets"
    written = compose_secrets.write(out)
    env = dict(line.split("=", 1) for line in (out / "compose.env").read_text().splitlines())
    assert set(env) == set(compose_secrets.environment())
    assert len(set(env.values())) == len(env)  # every secret its own
    for path in (out / "compose.env", out / "mosquitto" / "passwords"):
        assert _mode(path) == 0o600
    users = (out / "mosquitto" / "passwords").read_text()
    bridge_hash = next(ln for ln in users.splitlines() if ln.startswith("tradelane-bridge:"))
    assert mosquitto_access.verify(env["MQTT_BRIDGE_PASSWORD"], bridge_hash.split(":", 1)[1])
    assert written
    with pytest.raises(ServiceError, match="exists"):
        compose_secrets.write(out)


def test_fleets_provisioned_at_once_keep_each_others_devices(tmp_path: Path) -> None:
    """Four fleets adding their devices at the same moment (the fault suite does): every
    device ends up in the password file."""
    passwords = tmp_path / "passwords"
    fleets = [[f"f{k}-d{i}" for i in range(25)] for k in range(4)]
    with ThreadPoolExecutor(4) as pool:
        added = list(
            pool.map(lambda ids: mosquitto_access.add_devices(passwords, tmp_path, ids), fleets)
        )
    assert added == [25] * 4
    users = {line.split(":", 1)[0] for line in passwords.read_text().splitlines()}
    assert users == {d for fleet in fleets for d in fleet}
