"""Bring the local services up, down, or report on them, in dependency order."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from devtools.services.base import LocalService, ServiceStatus
from devtools.services.influxdb import InfluxDB
from devtools.services.kafka import Kafka
from devtools.services.kafka_cluster import KafkaCluster, recorded_nodes
from devtools.services.mosquitto import Mosquitto
from devtools.services.prometheus import Prometheus
from tradelane.errors import UsageError
from tradelane.settings import ServicesSettings


def kafka(settings: ServicesSettings) -> LocalService:
    """The single broker, or a cluster: of ``kafka_brokers`` nodes when more than one is
    asked for, else of the nodes already running under the home (so `down` and `status`
    find a cluster that `up --kafka-brokers 3` started)."""
    nodes = settings.kafka_brokers if settings.kafka_brokers > 1 else recorded_nodes(settings.home)
    return KafkaCluster(settings, nodes=nodes) if nodes > 1 else Kafka(settings)


SERVICE_TYPES: dict[str, Callable[[ServicesSettings], LocalService]] = {
    "mosquitto": Mosquitto,
    "kafka": kafka,
    "influxdb": InfluxDB,
    "prometheus": Prometheus,
}


def services(
    names: Sequence[str] = (), settings: ServicesSettings | None = None
) -> list[LocalService]:
    """The selected services (all by default), in start order."""
    unknown = [n for n in names if n not in SERVICE_TYPES]
    if unknown:
        raise UsageError(
            f"unknown service(s) {', '.join(unknown)}; known: {', '.join(SERVICE_TYPES)}"
        )
    chosen = names or tuple(SERVICE_TYPES)
    resolved = settings or ServicesSettings()
    return [SERVICE_TYPES[n](resolved) for n in SERVICE_TYPES if n in chosen]


def up(
    names: Sequence[str] = (),
    settings: ServicesSettings | None = None,
    progress: Callable[[str], None] = print,
) -> list[ServiceStatus]:
    out = []
    for service in services(names, settings):
        progress(f"{service.name}: starting at {service.endpoint()} ...")
        status = service.up()
        progress(f"{service.name}: ready ({status.note}) {status.version}, pid {status.pid}")
        out.append(status)
    return out


def down(names: Sequence[str] = (), settings: ServicesSettings | None = None) -> dict[str, bool]:
    return {s.name: s.down() for s in reversed(services(names, settings))}


def status(
    names: Sequence[str] = (), settings: ServicesSettings | None = None
) -> list[ServiceStatus]:
    return [line for s in services(names, settings) for line in s.statuses()]
