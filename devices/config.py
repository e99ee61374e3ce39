"""What to simulate: one frozen configuration for the pure planner and the I/O shell alike.

Everything that changes the readings (seed, scenario, sizes, start time, intervals, coverage,
fault knobs) lives here, so a manifest that records the config is enough to replay a run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from devices.delivery_faults import FaultKnobs
from tradelane.contracts.readings import DEVICE_ID_PATTERN


class ConnectionMode(StrEnum):
    PER_DEVICE = "per-device"
    """One MQTT connection per tracker: its own client id, credentials and last will."""
    SHARED = "shared"
    """Trackers multiplexed over a few connections (gateways): the way to 10,000 trackers."""


class Departures(StrEnum):
    ALIGNED = "aligned"
    """Every shipment leaves its origin within the first 12 simulated hours."""
    SPREAD = "spread"
    """Shipments are already somewhere along their voyage at the start (a fleet in motion)."""


PER_DEVICE_LIMIT = 500
"""Above this many trackers, ``auto`` picks the shared mode (sockets and connect time)."""


@dataclass(frozen=True, slots=True)
class FleetConfig:
    """A fleet simulation. Simulated times are UTC; ``interval_s`` etc. are simulated seconds."""

    start: datetime
    trackers: int = 20
    scenario: str = "nominal"
    seed: int = 1
    speedup: float = 3600.0
    duration_s: float | None = 60.0
    """Wall-clock seconds to run; ``None`` runs until stopped (or ``until`` is reached)."""
    until: datetime | None = None
    """Stop once simulated time reaches this (optional)."""
    realtime_cap: bool = True
    """Never let simulated time overtake the wall clock: once it catches up, run at 1x."""
    interval_s: int = 900
    alarm_interval_s: int = 120
    departures: Departures = Departures.ALIGNED
    incident_share: float = 0.25
    coverage_km: float = 60.0
    buffer_limit: int = 5000
    max_trackers_per_shipment: int = 2
    prefix: str | None = None
    connection_mode: ConnectionMode = ConnectionMode.PER_DEVICE
    connections: int = 4
    device_secret: str | None = None
    status_messages: bool = True
    window: int = 500
    """QoS 1 messages in flight per connection (capped by the broker's Receive Maximum)."""
    faults: FaultKnobs = field(default_factory=FaultKnobs)

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware (UTC)")
        if self.trackers < 1:
            raise ValueError("trackers must be >= 1")
        if self.speedup <= 0:
            raise ValueError("speedup must be > 0")
        if self.interval_s < 1 or self.alarm_interval_s < 1:
            raise ValueError("reporting intervals must be >= 1 s")
        if not 0.0 <= self.incident_share <= 1.0:
            raise ValueError("incident_share must be within [0, 1]")
        if self.max_trackers_per_shipment < 1 or self.connections < 1 or self.window < 1:
            raise ValueError("max_trackers_per_shipment, connections and window must be >= 1")
        if self.buffer_limit < 0 or self.coverage_km < 0:
            raise ValueError("buffer_limit and coverage_km must be >= 0")
        if self.duration_s is not None and self.duration_s <= 0:
            raise ValueError("duration_s must be > 0 (or None)")
        example = f"{self.id_prefix}-t{self.trackers:05d}"
        if not re.match(DEVICE_ID_PATTERN, example):
            raise ValueError(f"prefix {self.id_prefix!r} makes invalid device ids ({example!r})")

    @property
    def id_prefix(self) -> str:
        return self.prefix or f"sim{self.seed}"

    @property
    def start_ts(self) -> float:
        return self.start.astimezone(UTC).timestamp()

    def device_id(self, index: int) -> str:
        return f"{self.id_prefix}-t{index:05d}"

    def shipment_id(self, index: int) -> str:
        return f"{self.id_prefix}-shp{index:05d}"
