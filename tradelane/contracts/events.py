"""Shipment events: the ``data`` of envelopes on ``shipments.events`` (schema version 1).

The stream processors emit them; the pledge and insurance engines, the live feed and webhooks
consume them. Each event type is a model with a ``kind`` literal, so ``ShipmentEventData`` is
a discriminated union that parses any of them. Envelopes carry ``type =
tradelane.shipment.{kind}.v1``, ``subject = shipment_id`` and an ``id`` derived from the
event's cause, so re-processing the same readings emits the same ids.

Time in every event is event time (from readings), never processing time, except where a
field says otherwise (``TrackerSilent.judged_by``).

Evidence: events that a financial decision may rest on (breaches, shock, tamper) carry the
readings that prove them as references plus a SHA-256 digest over their canonical JSON (see
:func:`tradelane.evidence.digest`), so anyone can re-fetch the readings from Kafka or InfluxDB
and check the digest.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from tradelane.contracts.base import Contract, UtcDatetime
from tradelane.contracts.readings import DeviceId, FixQuality
from tradelane.contracts.shipments import Locode

SHIPMENT_EVENT_SOURCE = "/tradelane/streams"


class Milestone(StrEnum):
    """Lifecycle milestones, in the order a shipment normally reaches them."""

    DEPARTED_ORIGIN = "departed_origin"
    ARRIVED_TRANSSHIPMENT = "arrived_transshipment"
    DEPARTED_TRANSSHIPMENT = "departed_transshipment"
    ARRIVED_DESTINATION = "arrived_destination"
    ENTERED_BONDED_WAREHOUSE = "entered_bonded_warehouse"
    CUSTOMS_CLEARED = "customs_cleared"
    DELIVERED = "delivered"


class ShipmentStatus(StrEnum):
    BOOKED = "booked"
    IN_TRANSIT = "in_transit"
    AT_TRANSSHIPMENT = "at_transshipment"
    ARRIVED = "arrived"
    IN_BONDED_WAREHOUSE = "in_bonded_warehouse"
    CUSTOMS_CLEARED = "customs_cleared"
    DELIVERED = "delivered"


class BreachKind(StrEnum):
    TEMPERATURE_HIGH = "temperature_high"
    TEMPERATURE_LOW = "temperature_low"
    HUMIDITY_HIGH = "humidity_high"


class BreachRule(StrEnum):
    CONSECUTIVE = "consecutive"
    """Outside the band continuously for longer than the rule's minutes."""
    CUMULATIVE = "cumulative"
    """Outside the band for longer than the rule's minutes in total over the trip."""


class ReadingRef(Contract):
    """Identifies one reading: enough to fetch it again from Kafka or InfluxDB.

    ``fix`` and ``hdop`` (optional, added compatibly) copy the reading's GNSS quality so a
    data-quality gate can judge the evidence without re-fetching it; the digest still covers
    the full readings.
    """

    device_id: DeviceId
    seq: Annotated[int, Field(ge=0)]
    ts: UtcDatetime
    fix: FixQuality | None = None
    hdop: Annotated[float | None, Field(ge=0, le=99.9)] = None


class Evidence(Contract):
    """The readings behind a decision, their digest and summary statistics."""

    readings: list[ReadingRef]
    digest: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256, hex")]
    count: Annotated[int, Field(ge=0)]
    first_ts: UtcDatetime | None = None
    last_ts: UtcDatetime | None = None
    minimum: float | None = None
    maximum: float | None = None
    mean: float | None = None


class MilestoneReached(Contract):
    kind: Literal["milestone_reached"] = "milestone_reached"
    milestone: Milestone
    at: UtcDatetime
    place: Locode | None = None
    leg_index: Annotated[int | None, Field(ge=0)] = None
    status: ShipmentStatus
    dwell_s: Annotated[int | None, Field(ge=0, description="Time spent at the place left")] = None
    in_spec: bool = Field(description="No open breach, no tamper, trackers healthy")
    evidence: Evidence | None = Field(
        default=None, description="Readings that placed the shipment (added compatibly)"
    )


class BreachStarted(Contract):
    kind: Literal["breach_started"] = "breach_started"
    breach: BreachKind
    rule: BreachRule
    limit: float = Field(description="The band edge that was crossed")
    minutes: Annotated[int, Field(ge=0, description="The rule's tolerance in minutes")]
    started_at: UtcDatetime
    value: float


class BreachProgress(Contract):
    """Emitted as a breach grows (each whole step of ``step_minutes``), so tiered rules such
    as parametric insurance can act before it ends."""

    kind: Literal["breach_progress"] = "breach_progress"
    breach: BreachKind
    rule: BreachRule
    started_at: UtcDatetime
    at: UtcDatetime
    duration_s: Annotated[int, Field(ge=0, description="Consecutive, or total for cumulative")]
    peak: float
    evidence: Evidence


class BreachEnded(Contract):
    kind: Literal["breach_ended"] = "breach_ended"
    breach: BreachKind
    rule: BreachRule
    started_at: UtcDatetime
    ended_at: UtcDatetime
    duration_s: Annotated[int, Field(ge=0)]
    peak: float
    mean_kinetic_temperature_c: float | None = None
    evidence: Evidence


class ShockDetected(Contract):
    kind: Literal["shock_detected"] = "shock_detected"
    device_id: DeviceId
    at: UtcDatetime
    g: Annotated[float, Field(ge=0)]
    limit_g: Annotated[float, Field(gt=0)]
    evidence: Evidence


class TamperDetected(Contract):
    kind: Literal["tamper_detected"] = "tamper_detected"
    device_id: DeviceId
    at: UtcDatetime
    light_lux: float | None = None
    evidence: Evidence


class BatteryLow(Contract):
    kind: Literal["battery_low"] = "battery_low"
    device_id: DeviceId
    at: UtcDatetime
    battery_pct: Annotated[float, Field(ge=0, le=100)]


class TrackerSilent(Contract):
    kind: Literal["tracker_silent"] = "tracker_silent"
    device_id: DeviceId
    last_seen: UtcDatetime
    at: UtcDatetime
    judged_by: Literal["event_time", "last_will"] = Field(
        description="event_time: another tracker's readings moved event time past k intervals; "
        "last_will: the broker published the device's offline status"
    )


class QualityGrade(StrEnum):
    GOOD = "good"
    DEGRADED = "degraded"
    POOR = "poor"


class ReadingImplausible(Contract):
    """A reading no tracker could physically produce (an impossible jump, a sensor value
    beyond its range or rate of change): kept on ``tracker.readings``, but the rules did not
    use what is implausible about it, so it moved no milestone, alarm or money."""

    kind: Literal["reading_implausible"] = "reading_implausible"
    device_id: DeviceId
    seq: Annotated[int, Field(ge=0)]
    at: UtcDatetime
    reasons: list[Annotated[str, Field(max_length=120)]] = Field(min_length=1, max_length=4)
    evidence: Evidence


class DataQualityChanged(Contract):
    """A tracker's data-quality grade moved (see docs/streams.md, "Data quality"): engines
    that pay or lend on its readings can hold back while it is poor."""

    kind: Literal["data_quality_changed"] = "data_quality_changed"
    device_id: DeviceId
    at: UtcDatetime
    grade: QualityGrade
    previous: QualityGrade
    reasons: list[Annotated[str, Field(max_length=120)]] = Field(
        default_factory=list, max_length=8, description="Why the grade is not good"
    )
    fix_ratio: Annotated[float, Field(ge=0, le=1)] = Field(
        description="Share of the tracker's last 20 readings with a GNSS fix"
    )
    clock_ahead_s: Annotated[int, Field(ge=0)] = Field(
        description="Furthest a reading's time has lain ahead of its arrival"
    )
    disagreement_c: Annotated[float | None, Field(ge=0)] = Field(
        default=None, description="Largest temperature gap to another tracker, same half hour"
    )


class TrackerResumed(Contract):
    kind: Literal["tracker_resumed"] = "tracker_resumed"
    device_id: DeviceId
    at: UtcDatetime
    silent_s: Annotated[int, Field(ge=0)]


class DeviationStarted(Contract):
    kind: Literal["deviation_started"] = "deviation_started"
    at: UtcDatetime
    distance_km: Annotated[float, Field(ge=0)]
    limit_km: Annotated[float, Field(gt=0)]
    evidence: Evidence | None = Field(
        default=None, description="Readings off the corridor (added compatibly)"
    )


class DeviationEnded(Contract):
    kind: Literal["deviation_ended"] = "deviation_ended"
    started_at: UtcDatetime
    ended_at: UtcDatetime
    max_distance_km: Annotated[float, Field(ge=0)]
    evidence: Evidence | None = Field(
        default=None, description="Readings off the corridor (added compatibly)"
    )


class EtaChanged(Contract):
    kind: Literal["eta_changed"] = "eta_changed"
    at: UtcDatetime
    eta: UtcDatetime
    previous_eta: UtcDatetime | None = None
    planned_arrival: UtcDatetime


class DelayPredicted(Contract):
    kind: Literal["delay_predicted"] = "delay_predicted"
    at: UtcDatetime
    eta: UtcDatetime
    planned_arrival: UtcDatetime
    delay_h: Annotated[float, Field(ge=0)]


ShipmentEventData = Annotated[
    MilestoneReached
    | BreachStarted
    | BreachProgress
    | BreachEnded
    | ShockDetected
    | TamperDetected
    | BatteryLow
    | TrackerSilent
    | TrackerResumed
    | DataQualityChanged
    | ReadingImplausible
    | DeviationStarted
    | DeviationEnded
    | EtaChanged
    | DelayPredicted,
    Field(discriminator="kind"),
]


def shipment_event_type(kind: str) -> str:
    """The envelope ``type`` for a shipment event kind."""
    return f"tradelane.shipment.{kind}.v1"
