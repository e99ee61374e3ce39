"""Wire contracts: one pydantic model per MQTT payload and per Kafka topic value.

Every contract is versioned (``schema_version`` or, for events, ``schemaversion``), frozen and
strict about unknown fields. :data:`ALL_CONTRACTS` is the list that ``tradelane schemas export``
writes out and that the round-trip property tests cover.
"""

from __future__ import annotations

from pydantic import BaseModel

from tradelane.contracts.base import Contract, UtcDatetime
from tradelane.contracts.deadletter import DeadLetter, DeadLetterReason
from tradelane.contracts.envelope import Envelope, EventEnvelope
from tradelane.contracts.events import (
    BatteryLow,
    BreachEnded,
    BreachKind,
    BreachProgress,
    BreachRule,
    BreachStarted,
    DelayPredicted,
    DeviationEnded,
    DeviationStarted,
    EtaChanged,
    Evidence,
    Milestone,
    MilestoneReached,
    ReadingRef,
    ShipmentEventData,
    ShipmentStatus,
    ShockDetected,
    TamperDetected,
    TrackerResumed,
    TrackerSilent,
    shipment_event_type,
)
from tradelane.contracts.finance import (
    FinanceCommand,
    FinanceEvent,
    LedgerEntry,
)
from tradelane.contracts.insurance import (
    ClaimApproved,
    ClaimDecision,
    ClaimEvent,
    ClaimEventData,
    ClaimNeedsReview,
    ClaimPaid,
    ClaimRaised,
    ClaimRejected,
    ClaimUpgraded,
    Decision,
    GateCode,
    GateFinding,
    MeasureUnit,
    PayeeRole,
    claim_event_type,
)
from tradelane.contracts.money import Money
from tradelane.contracts.readings import (
    DeviceState,
    DeviceStatus,
    FixQuality,
    Gps,
    IngestedReading,
    IngestedStatus,
    SourceFormat,
    TrackerReading,
)
from tradelane.contracts.registries import (
    CollateralStatus,
    DataQualityGate,
    Facility,
    FxRate,
    PayoutTier,
    Policy,
    Trigger,
    TriggerKind,
)
from tradelane.contracts.shipments import (
    Cargo,
    ConditionProfile,
    Leg,
    Place,
    PlaceKind,
    ProfileKind,
    ShipmentBooking,
    TransportMode,
)

ShipmentEvent = Envelope[ShipmentEventData]
"""The value of ``shipments.events``: a CloudEvents envelope around one shipment event."""

ALL_CONTRACTS: dict[str, type[BaseModel]] = {
    "mqtt.tracker_reading.v1": TrackerReading,
    "mqtt.device_status.v1": DeviceStatus,
    "kafka.tracker.readings.v1": IngestedReading,
    "kafka.tracker.deadletter.v1": DeadLetter,
    "kafka.tracker.status.v1": IngestedStatus,
    "kafka.shipments.registry.v1": ShipmentBooking,
    "kafka.shipments.events.v1": ShipmentEvent,
    "kafka.finance.facilities.v1": Facility,
    "kafka.insurance.policies.v1": Policy,
    "kafka.fx.rates.v1": FxRate,
    "kafka.event_envelope.v1": EventEnvelope,
    "kafka.insurance.claims.v1": ClaimEvent,
    "kafka.insurance.commands.v1": ClaimDecision,
    "kafka.finance.events.v1": FinanceEvent,
    "kafka.finance.commands.v1": FinanceCommand,
    "kafka.finance.ledger.v1": LedgerEntry,
}
"""Every contract by a stable export name: ``{transport}.{topic or payload}.v{version}``."""

__all__ = [
    "ALL_CONTRACTS",
    "BatteryLow",
    "BreachEnded",
    "BreachKind",
    "BreachProgress",
    "BreachRule",
    "BreachStarted",
    "Cargo",
    "ClaimApproved",
    "ClaimDecision",
    "ClaimEvent",
    "ClaimEventData",
    "ClaimNeedsReview",
    "ClaimPaid",
    "ClaimRaised",
    "ClaimRejected",
    "ClaimUpgraded",
    "CollateralStatus",
    "ConditionProfile",
    "Contract",
    "DataQualityGate",
    "DeadLetter",
    "DeadLetterReason",
    "Decision",
    "DelayPredicted",
    "DeviationEnded",
    "DeviationStarted",
    "DeviceState",
    "DeviceStatus",
    "Envelope",
    "EtaChanged",
    "EventEnvelope",
    "Evidence",
    "Facility",
    "FinanceCommand",
    "FinanceEvent",
    "FixQuality",
    "FxRate",
    "GateCode",
    "GateFinding",
    "Gps",
    "IngestedReading",
    "IngestedStatus",
    "LedgerEntry",
    "Leg",
    "MeasureUnit",
    "Milestone",
    "MilestoneReached",
    "Money",
    "PayeeRole",
    "PayoutTier",
    "Place",
    "PlaceKind",
    "Policy",
    "ProfileKind",
    "ReadingRef",
    "ShipmentBooking",
    "ShipmentEvent",
    "ShipmentEventData",
    "ShipmentStatus",
    "ShockDetected",
    "SourceFormat",
    "TamperDetected",
    "TrackerReading",
    "TrackerResumed",
    "TrackerSilent",
    "TransportMode",
    "Trigger",
    "TriggerKind",
    "UtcDatetime",
    "claim_event_type",
    "shipment_event_type",
]
