"""Settings: environment overrides, clear errors, and the README documents every variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tradelane.settings import InfluxSettings, KafkaSettings, MqttSettings, env_vars

README = Path(__file__).resolve().parents[2] / "README.md"


def test_defaults_point_at_local_services(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in env_vars():
        monkeypatch.delenv(name, raising=False)
    mqtt = MqttSettings()
    assert (mqtt.host, mqtt.port, mqtt.tls) == ("127.0.0.1", 1883, False)
    assert KafkaSettings().bootstrap_servers == "127.0.0.1:9092"
    assert InfluxSettings().url == "http://127.0.0.1:8086"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADELANE_MQTT_URL", "mqtts://broker.internal:8883")
    monkeypatch.setenv("TRADELANE_MQTT_PASSWORD", "s3cret")
    monkeypatch.setenv("TRADELANE_KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9093")
    monkeypatch.setenv("TRADELANE_KAFKA_IDEMPOTENCE", "false")
    mqtt = MqttSettings()
    assert (mqtt.host, mqtt.port, mqtt.tls) == ("broker.internal", 8883, True)
    assert mqtt.password is not None
    assert "s3cret" not in repr(mqtt)
    kafka = KafkaSettings()
    assert kafka.faust_broker == "kafka://k1:9092;k2:9093"
    assert kafka.idempotence is False


@pytest.mark.parametrize(
    ("cls", "var", "value", "fragment"),
    [
        (MqttSettings, "TRADELANE_MQTT_URL", "http://x:1", "expected mqtt://host:port"),
        (MqttSettings, "TRADELANE_MQTT_KEEPALIVE_S", "1", "greater than or equal to 5"),
        (KafkaSettings, "TRADELANE_KAFKA_BOOTSTRAP_SERVERS", "localhost", "host:port"),
        (KafkaSettings, "TRADELANE_KAFKA_IDEMPOTENCE", "maybe", "valid boolean"),
    ],
)
def test_bad_settings_fail_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch,
    cls: type[MqttSettings | KafkaSettings],
    var: str,
    value: str,
    fragment: str,
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ValidationError, match=fragment):
        cls()


def test_settings_are_frozen() -> None:
    with pytest.raises(ValidationError):
        KafkaSettings().client_id = "other"  # type: ignore[misc]


def test_readme_documents_every_environment_variable() -> None:
    text = README.read_text()
    missing = [name for name in env_vars() if f"`{name}`" not in text]
    assert not missing, f"README.md does not document: {missing}"
