"""Settings for every service, read from environment variables.

One frozen class per service; environment variable names are derived from ``env_prefix`` plus
the field name, and :func:`env_vars` lists them all (README's table is checked against it by a
test). Defaults point at the local services that ``tradelane services up`` starts, so nothing
needs configuring on a developer machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class MqttSettings(BaseSettings):
    """Where the MQTT broker is and how to log in."""

    model_config = SettingsConfigDict(env_prefix="TRADELANE_MQTT_", frozen=True, extra="ignore")

    url: Annotated[str, Field(description="mqtt://host:port (mqtts:// for TLS)")] = (
        "mqtt://127.0.0.1:1883"
    )
    username: str | None = None
    password: SecretStr | None = None
    client_id_prefix: str = "tradelane"
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30

    @field_validator("url")
    @classmethod
    def _mqtt_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"mqtt", "mqtts"} or not parts.hostname:
            raise ValueError(f"expected mqtt://host:port or mqtts://host:port, got {value!r}")
        return value

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts"


class KafkaSettings(BaseSettings):
    """Where Kafka is, and what the broker supports."""

    model_config = SettingsConfigDict(env_prefix="TRADELANE_KAFKA_", frozen=True, extra="ignore")

    bootstrap_servers: Annotated[str, Field(description="Comma-separated host:port list")] = (
        "127.0.0.1:9092"
    )
    client_id: str = "tradelane"
    idempotence: Annotated[
        bool,
        Field(
            description="Idempotent producers (off only for brokers that refuse them, e.g. Tansu)"
        ),
    ] = True

    compression: Annotated[
        Literal["none", "gzip", "lz4", "zstd", "snappy"],
        Field(description="Producer batch compression"),
    ] = "lz4"

    transactions: Annotated[
        bool,
        Field(
            description=(
                "Worker loops write each state partition's outputs, states and input offsets"
                " in one Kafka transaction, which fences a worker that lost the partition"
                " (needs idempotence; off, they are written at least once, unfenced)"
            )
        ),
    ] = True
    commit_interval_ms: Annotated[
        int,
        Field(
            ge=10,
            le=60_000,
            description=(
                "How often worker loops commit. With transactions, readers see a loop's"
                " output only once it is committed: this bounds the latency it adds"
            ),
        ),
    ] = 100

    @property
    def exactly_once(self) -> bool:
        """Whether worker loops use transactions (they need idempotent producers)."""
        return self.transactions and self.idempotence

    @property
    def compression_type(self) -> str | None:
        """The value aiokafka's ``compression_type`` expects."""
        return None if self.compression == "none" else self.compression

    @field_validator("bootstrap_servers")
    @classmethod
    def _host_ports(cls, value: str) -> str:
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"expected host:port[,host:port...], got {value!r}")
        return value

    @property
    def faust_broker(self) -> str:
        """The broker URL in faust's ``kafka://h1:p1;h2:p2`` form."""
        return "kafka://" + ";".join(s.strip() for s in self.bootstrap_servers.split(","))


class InfluxSettings(BaseSettings):
    """The InfluxDB 2.x API endpoint that telemetry history goes to."""

    model_config = SettingsConfigDict(env_prefix="TRADELANE_INFLUX_", frozen=True, extra="ignore")

    url: str = "http://127.0.0.1:8086"
    token: SecretStr = SecretStr("tradelane-dev-token")
    org: str = "tradelane"
    bucket: str = "telemetry"


class ServicesSettings(BaseSettings):
    """Where the local dev/CI services keep their data and their downloaded builds."""

    model_config = SettingsConfigDict(env_prefix="TRADELANE_", frozen=True, extra="ignore")

    home: Annotated[Path, Field(description="Project-local data dir (logs, pids, broker data)")] = (
        Path(".tradelane")
    )
    cache: Annotated[Path, Field(description="Download/build cache shared across clones")] = (
        Path.home() / ".cache" / "tradelane"
    )
    kafka_version: str = "4.2.0"
    influxdb_version: str = "2.8.0"


SETTINGS_CLASSES: tuple[type[BaseSettings], ...] = (
    MqttSettings,
    KafkaSettings,
    InfluxSettings,
    ServicesSettings,
)


def env_vars() -> dict[str, str]:
    """Every environment variable the settings read, mapped to its description."""
    out: dict[str, str] = {}
    for cls in SETTINGS_CLASSES:
        prefix = str(cls.model_config.get("env_prefix", ""))
        for name, field in cls.model_fields.items():
            default = field.default
            shown = "(secret)" if isinstance(default, SecretStr) else repr(default)
            out[f"{prefix}{name}".upper()] = f"{field.description or name}; default {shown}"
    return out
