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

from tradelane import credentials


class MqttSettings(BaseSettings):
    """Where the MQTT broker is and how to log in."""

    model_config = SettingsConfigDict(env_prefix="TRADELANE_MQTT_", frozen=True, extra="ignore")

    url: Annotated[str, Field(description="mqtt://host:port (mqtts:// for TLS)")] = (
        "mqtt://127.0.0.1:1883"
    )
    username: Annotated[
        str | None,
        Field(description="MQTT user; unset, the local keyring's entry for the principal"),
    ] = None
    password: Annotated[SecretStr | None, Field(description="MQTT password")] = None
    principal: Annotated[
        str,
        Field(
            description=(
                "Which local user's password to use when no username is set (the bridge and"
                " the simulator pick their own; tools and tests use tradelane-admin)"
            )
        ),
    ] = "tradelane-admin"
    credentials_file: Annotated[
        Path | None,
        Field(description="The local keyring; unset, TRADELANE_HOME/secrets/mqtt.json"),
    ] = None
    anonymous: Annotated[
        bool,
        Field(description="Connect without credentials (only the demo's embedded broker)"),
    ] = False
    ca_file: Annotated[
        Path | None, Field(description="CA that signed the broker's certificate (mqtts://)")
    ] = None
    cert_file: Annotated[
        Path | None, Field(description="Client certificate for mutual TLS (its name is the user)")
    ] = None
    key_file: Annotated[Path | None, Field(description="The client certificate's key")] = None
    client_id_prefix: str = "tradelane"
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30

    def keyring(self) -> Path:
        return self.credentials_file or credentials.mqtt_file(ServicesSettings().home)

    def login(self) -> tuple[str, str] | None:
        """(user, password), or None to connect anonymously or by client certificate. An
        explicit username wins; else the principal's entry in the local keyring."""
        if self.anonymous or self.cert_file is not None:
            return None
        if self.username is not None:
            return self.username, self.password.get_secret_value() if self.password else ""
        return self.principal, credentials.password(self.keyring(), self.principal, "MQTT")

    def as_principal(self, principal: str) -> MqttSettings:
        """These settings for a service logging in as ``principal`` unless a username (or
        anonymous access) was configured explicitly."""
        if self.username is not None or self.anonymous:
            return self
        return self.model_copy(update={"principal": principal})

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
    security_protocol: Annotated[
        Literal["SASL_PLAINTEXT", "SASL_SSL", "PLAINTEXT"],
        Field(
            description=(
                "How clients authenticate: SASL over plain TCP (loopback) or TLS;"
                " PLAINTEXT only for the demo's embedded broker"
            )
        ),
    ] = "SASL_PLAINTEXT"
    sasl_mechanism: Annotated[
        Literal["SCRAM-SHA-512", "SCRAM-SHA-256"], Field(description="SASL mechanism")
    ] = "SCRAM-SHA-512"
    username: Annotated[
        str | None,
        Field(description="Kafka user; unset, the local keyring's entry for the principal"),
    ] = None
    password: Annotated[SecretStr | None, Field(description="Kafka password")] = None
    principal: Annotated[
        str,
        Field(
            description=(
                "Which local principal's password to use when no username is set"
                " (each service command picks its own; tools and tests use admin)"
            )
        ),
    ] = "admin"
    credentials_file: Annotated[
        Path | None,
        Field(
            description=(
                "The local keyring written by `tradelane services up`;"
                " unset, TRADELANE_HOME/secrets/kafka.json"
            )
        ),
    ] = None
    ssl_cafile: Annotated[
        Path | None, Field(description="CA bundle that signed the brokers' certificates")
    ] = None
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
    replication_factor: Annotated[
        int | None,
        Field(
            ge=1,
            description=(
                "Replicas of each topic `topics create` makes; unset, 3 on a cluster of three"
                " or more brokers, else one per broker"
            ),
        ),
    ] = None

    @property
    def sasl(self) -> bool:
        return self.security_protocol.startswith("SASL")

    def keyring(self) -> Path:
        """Where this process looks up its principal's password."""
        return self.credentials_file or credentials.kafka_file(ServicesSettings().home)

    def login(self) -> tuple[str, str] | None:
        """(user, password) for SASL, or None without SASL. An explicit username wins; else
        the principal's entry in the local keyring (a clear error when there is none)."""
        if not self.sasl:
            return None
        if self.username is not None:
            secret = self.password.get_secret_value() if self.password else ""
            return self.username, secret
        return self.principal, credentials.password(self.keyring(), self.principal)

    def as_principal(self, principal: str) -> KafkaSettings:
        """These settings for a service logging in as ``principal`` (its own grants) unless
        an explicit username was configured (production: one secret per container)."""
        if self.username is not None:
            return self
        return self.model_copy(update={"principal": principal})

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


def is_loopback_only(bootstrap_servers: str) -> bool:
    """Whether every Kafka broker in ``bootstrap_servers`` is on loopback: a developer's or CI's
    machine, where a key generated into a local file is an acceptable default."""
    hosts = [s.strip().rsplit(":", 1)[0].strip("[]").lower() for s in bootstrap_servers.split(",")]
    return all(h in {"localhost", "::1"} or h.startswith("127.") for h in hosts if h)


class LedgerSettings(BaseSettings):
    """The key the worker signs ledger checkpoints with (``finance.checkpoints``)."""

    model_config = SettingsConfigDict(env_prefix="TRADELANE_LEDGER_", frozen=True, extra="ignore")

    signing_key: Annotated[
        SecretStr | None,
        Field(
            description=(
                "Ed25519 private key signing ledger checkpoints: a PKCS#8 PEM, or the raw"
                " 32-byte seed in base64 (`tradelane ledger generate-key`); required when Kafka"
                " is not on loopback"
            )
        ),
    ] = None
    signing_key_file: Annotated[
        Path | None,
        Field(
            description=(
                "Where a loopback setup keeps the key it generates (and reads it from) when no"
                " signing key is set; unset, TRADELANE_HOME/secrets/ledger-signing.key"
            )
        ),
    ] = None

    def key_file(self) -> Path:
        return self.signing_key_file or credentials.ledger_key_file(ServicesSettings().home)


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
    kafka_brokers: Annotated[
        int,
        Field(
            ge=1,
            le=9,
            description=(
                "Kafka nodes `services up` runs: 1, or a cluster on ports from the first one"
                " (docs/operations.md)"
            ),
        ),
    ] = 1
    mqtt_tls_port: Annotated[
        int, Field(ge=1, le=65535, description="Mosquitto's TLS listener (local CA)")
    ] = 8883
    mqtt_mtls_port: Annotated[
        int,
        Field(
            ge=1,
            le=65535,
            description="Mosquitto's mutual-TLS listener (the certificate's name is the user)",
        ),
    ] = 8884
    influxdb_version: str = "2.8.0"
    prometheus_port: Annotated[
        int, Field(ge=1, le=65535, description="The local Prometheus (loopback only)")
    ] = 9090


SETTINGS_CLASSES: tuple[type[BaseSettings], ...] = (
    MqttSettings,
    KafkaSettings,
    LedgerSettings,
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
