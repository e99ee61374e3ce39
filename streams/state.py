"""The live state of one shipment, as kept in the stream processor's table (JSON).

Everything the rules need to decide on the next reading lives here, so a worker that takes
over a partition continues exactly where the previous one stopped.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from streams.motion import Motion
from tradelane.contracts import (
    BreachKind,
    Milestone,
    QualityGrade,
    ShipmentBooking,
    ShipmentStatus,
    TrackerReading,
)

RECENT_SEQS = 512
"""Per device, how many recent sequence numbers are remembered for de-duplication."""
RECENT_OUTPUTS = 4
"""How many of the latest readings that caused events keep those events, to re-emit them on
redelivery (the window a crash can leave unsent is the last few readings, never more)."""


class DeviceQuality(BaseModel):
    """One tracker's data-quality view: what an engine should know before it trusts a trigger
    built on its readings. Everything here is a function of the readings in sequence order
    (or a maximum over arrivals), so it does not depend on arrival order."""

    recent_fix: list[bool] = Field(default_factory=list)
    """GNSS fix or not, for the last 20 applied readings."""
    max_gap_s: int = 0
    """Longest event-time gap between two consecutive applied readings."""
    clock_ahead_s: int = 0
    """Furthest a reading's time lay ahead of when the bridge received it (a fast clock)."""
    last_temp: tuple[datetime, float] | None = None
    disagreement_c: float | None = None
    """Largest temperature gap seen to another tracker of the shipment within half an hour,
    doors closed on both (see ``lit_at``)."""
    lit_at: datetime | None = None
    """Its latest reading with light (doors open): no agreement is judged near it."""
    grade: QualityGrade = QualityGrade.GOOD


class DeviceTrack(BaseModel):
    last_ts: datetime | None = None
    interval_s: int | None = None
    """The reporting interval silence is judged against: the one the device announced in its
    status, else the longest of its recent gaps (an alarm burst's short gaps must not make its
    normal interval look like a silence)."""
    announced_interval_s: int | None = None
    recent_gaps: list[int] = Field(default_factory=list)
    last_fix: tuple[datetime, float, float] | None = None
    """The latest plausible fix (time, lat, lon): what the next one is judged against."""
    last_temperature: tuple[datetime, float] | None = None
    retired: bool = False
    """The device said goodbye itself (an ``offline`` status with its own time): a planned
    retirement, never judged silent until it reports again."""
    recent_seqs: list[int] = Field(default_factory=list)
    next_seq: int | None = None
    """The sequence number expected next: a device's readings are applied in its seq order."""
    held: list[TrackerReading] = Field(default_factory=list)
    """Readings that arrived ahead of a gap in the sequence, by seq, waiting for the gap to fill
    (at most the reorder lateness of event time, see :mod:`streams.rules.reorder`)."""
    battery_low: bool = False
    tamper_open: bool = False
    flushed_at: datetime | None = None
    """When (receive time) it last delivered a reading from its store."""
    tamper_pending: TrackerReading | None = None
    """An opening not yet reported: the tracker's next reading confirms it or not."""
    silent: bool = False
    silent_since: datetime | None = None
    quality: DeviceQuality = Field(default_factory=DeviceQuality)
    motion: Motion = Field(default_factory=Motion)
    """Its readings since its last fix, for timing a crossing the receiver did not see."""
    lit_at_destination: datetime | None = None
    """Its latest reading with light (doors open) at the destination: the unloading."""


class Excursion(BaseModel):
    """One tracker's condition excursion in progress (consecutive rule) or its trip total
    (cumulative). Kept per tracker: a tracker's readings are applied in its own sequence, so
    its excursion is the same whatever order the trackers' readings arrive in (merged, a
    tracker flushing its store after its sibling's live readings split and stretched them)."""

    breach: BreachKind
    device_id: str | None = None
    """The tracker it follows (None: a state from before excursions were kept per tracker)."""
    since: datetime | None = None
    last_ts: datetime | None = None
    out: bool = False
    duration_s: float = 0.0
    peak: float | None = None
    started: bool = False
    steps: int = 0
    readings: list[TrackerReading] = Field(default_factory=list)


class ShipmentState(BaseModel):
    schema_version: Literal[1] = 1
    shipment_id: str
    booking: ShipmentBooking | None = None
    status: ShipmentStatus = ShipmentStatus.BOOKED
    milestones: dict[Milestone, datetime] = Field(default_factory=dict)
    at_place: int | None = None
    arrived_at: datetime | None = None
    entered: list[int] = Field(default_factory=list)
    departed: list[int] = Field(default_factory=list)
    departed_origin_at: datetime | None = None
    unloaded_at: datetime | None = None
    """When the doors closed on the unloaded goods at the destination (the hand-over)."""
    last_ts: datetime | None = None
    position: tuple[float, float] | None = None
    speed_kmh: float | None = None
    devices: dict[str, DeviceTrack] = Field(default_factory=dict)
    consecutive: dict[str, Excursion] = Field(default_factory=dict)
    """Per ``"{breach kind}/{device}"``: each tracker's excursion of its own readings."""
    cumulative: dict[str, Excursion] = Field(default_factory=dict)
    deviation_since: datetime | None = None
    deviation_open: bool = False
    deviation_max_km: float = 0.0
    deviation_readings: list[TrackerReading] = Field(default_factory=list)
    """The readings off the corridor in the current episode (the deviation's evidence)."""
    eta: datetime | None = None
    delay_steps: int = 0
    mkt_sum: float = 0.0
    mkt_n: int = 0
    late_readings: int = 0
    duplicates: int = 0
    recent_outputs: dict[str, list[str]] = Field(default_factory=dict)
    """"device:seq" → the JSON of the events that reading caused (re-emitted on redelivery)."""

    def mkt(self) -> float | None:
        """Mean kinetic temperature of the trip so far, °C (ΔH/R = 10,000 K)."""
        if not self.mkt_n or self.mkt_sum <= 0:
            return None
        return round(10_000.0 / -math.log(self.mkt_sum / self.mkt_n) - 273.15, 3)
