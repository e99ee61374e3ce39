"""The simulator's series (``tradelane_simulator_*``), in a registry of its own.

Read from the run's ack ledger and engine when Prometheus scrapes (:meth:`SimulatorMetrics.watch`
hands them over once the run is set up): the publisher's per-message path counts nothing
extra. docs/operations.md lists every series.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from devices.messages import Kind

if TYPE_CHECKING:
    from devices.engine import FleetEngine
    from devices.manifest import AckLedger
    from devices.publisher import FleetPublisher

KINDS = {k: k.name.lower() for k in (Kind.READING, Kind.DUPLICATE, Kind.MALFORMED, Kind.STATUS)}
"""The messages published: reading (first delivery), duplicate, malformed (fault knobs),
status (online/offline). ``died`` and ``retired`` are device events, not messages."""


class SimulatorMetrics(Collector):
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._run: tuple[AckLedger, FleetEngine, FleetPublisher] | None = None
        self.registry.register(self)

    def watch(self, ledger: AckLedger, engine: FleetEngine, publisher: FleetPublisher) -> None:
        self._run = (ledger, engine, publisher)

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        published = CounterMetricFamily(
            "tradelane_simulator_published",
            "MQTT messages handed to the publisher, by kind.",
            labels=["kind"],
        )
        acked = CounterMetricFamily(
            "tradelane_simulator_acked",
            "MQTT messages the broker acknowledged (PUBACK), by kind; reading = readings sent.",
            labels=["kind"],
        )
        refused = CounterMetricFamily(
            "tradelane_simulator_refused", "Publishes the broker refused (MQTT 5 reason code)."
        )
        devices = GaugeMetricFamily(
            "tradelane_simulator_devices",
            "Trackers simulated, by state (alive: not retired or dead; online: connected).",
            labels=["state"],
        )
        if self._run is not None:
            ledger, engine, publisher = self._run
            acks = {
                Kind.READING: ledger.readings_acked,
                Kind.DUPLICATE: ledger.duplicates_acked,
                Kind.MALFORMED: ledger.malformed_acked,
                Kind.STATUS: ledger.status_acked,
            }
            for kind, name in KINDS.items():
                published.add_metric([name], ledger.submitted.get(kind, 0))
                acked.add_metric([name], acks[kind])
            refused.add_metric([], ledger.refused)
            alive = [t.index for t in engine.trackers if t.alive]
            online = sum(1 for i in alive if publisher.device_online(i))
            devices.add_metric(["total"], len(engine.trackers))
            devices.add_metric(["alive"], len(alive))
            devices.add_metric(["online"], online)
        yield from (published, acked, refused, devices)
