"""Shared test fixtures.

Integration tests talk to the real services that ``tradelane services up`` starts (Mosquitto,
Kafka, InfluxDB on loopback). The session fixtures below bring them up idempotently, so
``pytest tests/integration`` works on its own as well as under ``make test``; they never stop
what they did not start.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from devtools.services import manager
from finance.checkpoints import CheckpointSigner
from finance.ledger_keys import load_signer
from tradelane.settings import (
    InfluxSettings,
    KafkaSettings,
    LedgerSettings,
    MqttSettings,
    ServicesSettings,
)
from transport.admin import ensure_topics


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = ["services (tradelane services status):"]
    try:
        for s in manager.status():
            state = "ready" if s.ready else "NOT READY"
            lines.append(f"  {s.name:<10} {state:<10} {s.endpoint:<26} {s.version}")
    except Exception as exc:
        lines.append(f"  (status unavailable: {exc})")
    return lines


def _service(name: str) -> None:
    manager.up([name], progress=lambda _msg: None)


@pytest.fixture(scope="session")
def mqtt_settings() -> MqttSettings:
    """A real Mosquitto on loopback."""
    _service("mosquitto")
    return MqttSettings()


@pytest.fixture(scope="session")
def kafka_settings() -> KafkaSettings:
    """A real single-node Apache Kafka (KRaft) on loopback, with every topic created."""
    _service("kafka")
    settings = KafkaSettings()
    asyncio.run(ensure_topics(settings))
    return settings


@pytest.fixture(scope="session")
def prometheus_url() -> str:
    """A real Prometheus on loopback, scraping the default metrics ports and the file-based
    targets under TRADELANE_HOME/prometheus/targets (devtools.services.prometheus)."""
    _service("prometheus")
    return f"http://127.0.0.1:{ServicesSettings().prometheus_port}"


@pytest.fixture(scope="session")
def ledger_signer(kafka_settings: KafkaSettings) -> CheckpointSigner:
    """This machine's ledger signing key, resolved as the worker and `tradelane ledger verify`
    resolve it (on loopback: the generated local key file)."""
    return load_signer(LedgerSettings(), kafka_settings.bootstrap_servers)


@pytest.fixture(scope="session")
def influx_settings() -> InfluxSettings:
    """A real InfluxDB 2.x on loopback, onboarded with the dev org/bucket/token."""
    _service("influxdb")
    return InfluxSettings()


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topic names, client ids and device ids in one test."""
    return uuid.uuid4().hex[:10]
