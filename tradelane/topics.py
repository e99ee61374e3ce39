"""Every topic name, in one place: Kafka topics with their partitioning and cleanup policy, and
the MQTT topic templates devices publish to.

Partition counts are the unit of scale (see docs/architecture.md): readings are keyed by
``device_id``, state by ``shipment_id``, and a worker added under the same group takes over
partitions. Registries are compacted so every worker can rebuild its tables from Kafka alone.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel

from tradelane.contracts import (
    ClaimDecision,
    ClaimEvent,
    DeadLetter,
    EventEnvelope,
    Facility,
    FinanceCommand,
    FinanceEvent,
    FinanceRequest,
    FxRate,
    IngestedReading,
    IngestedStatus,
    LedgerCheckpoint,
    LedgerEntry,
    Policy,
    ShipmentBooking,
    ShipmentEvent,
    ShipmentShare,
    WebhookDelivery,
    WebhookSubscription,
    WorkerLease,
)
from tradelane.contracts.readings import DEVICE_ID_PATTERN

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class KafkaTopic:
    """A Kafka topic's name, layout, retention and the contract of its values."""

    name: str
    partitions: int
    cleanup_policy: Literal["delete", "compact"]
    value_model: type[BaseModel]
    key: str
    retention_ms: int | None = None
    broker_time: bool = False
    """Records are stamped with the broker's clock on append (``LogAppendTime``), so their
    timestamps follow their order in the log."""

    def configs(self) -> dict[str, str]:
        """Topic-level configs to create it with."""
        out: dict[str, str] = {"cleanup.policy": self.cleanup_policy}
        if self.retention_ms is not None:
            out["retention.ms"] = str(self.retention_ms)
        if self.broker_time:
            out["message.timestamp.type"] = "LogAppendTime"
        return out


TRACKER_READINGS = KafkaTopic(
    "tracker.readings", 12, "delete", IngestedReading, "device_id", 14 * DAY_MS
)
TRACKER_STATUS = KafkaTopic("tracker.status", 6, "delete", IngestedStatus, "device_id", 7 * DAY_MS)
TRACKER_DEADLETTER = KafkaTopic(
    "tracker.deadletter",
    3,
    "delete",
    DeadLetter,
    "MQTT topic, or the Kafka topic the record came from",
    30 * DAY_MS,
)
SHIPMENTS_REGISTRY = KafkaTopic("shipments.registry", 6, "compact", ShipmentBooking, "shipment_id")
SHIPMENTS_EVENTS = KafkaTopic("shipments.events", 12, "delete", ShipmentEvent, "shipment_id")
FINANCE_FACILITIES = KafkaTopic("finance.facilities", 3, "compact", Facility, "facility_id")
FINANCE_EVENTS = KafkaTopic("finance.events", 6, "delete", FinanceEvent, "facility_id")
FINANCE_COMMANDS = KafkaTopic(
    "finance.commands", 6, "delete", FinanceCommand, "facility_id", retention_ms=-1
)
FINANCE_REQUESTS = KafkaTopic(
    "finance.requests", 6, "delete", FinanceRequest, "facility_id", retention_ms=-1
)
"""What the API asks of a facility for its borrower or bank (a tranche's confirmation...):
read by the worker's pledge stage, which checks and applies them; kept as long as the
commands, since replaying a facility replays them."""
FINANCE_LEDGER = KafkaTopic(
    "finance.ledger", 6, "delete", LedgerEntry, "facility_id", retention_ms=-1
)
FINANCE_CHECKPOINTS = KafkaTopic(
    "finance.checkpoints", 6, "delete", LedgerCheckpoint, "facility_id", retention_ms=-1
)
"""Signed heads of the ledger chains, partitioned like ``finance.ledger`` (same key, same count)
and kept as long: every checkpoint stays verifiable, and a later one never hides an earlier."""
INSURANCE_POLICIES = KafkaTopic("insurance.policies", 3, "compact", Policy, "policy_id")
INSURANCE_CLAIMS = KafkaTopic("insurance.claims", 6, "delete", ClaimEvent, "policy_id")
INSURANCE_COMMANDS = KafkaTopic(
    "insurance.commands", 12, "delete", ClaimDecision, "shipment_id", retention_ms=-1
)
FX_RATES = KafkaTopic("fx.rates", 1, "compact", FxRate, "BASE/QUOTE")
WEBHOOKS_SUBSCRIPTIONS = KafkaTopic(
    "webhooks.subscriptions", 3, "compact", WebhookSubscription, "subscription_id"
)
WEBHOOKS_DELIVERIES = KafkaTopic(
    "webhooks.deliveries", 3, "delete", WebhookDelivery, "subscription_id", 30 * DAY_MS
)
API_SHARES = KafkaTopic("api.shares", 3, "compact", ShipmentShare, "share_id")
"""Read-only links to one shipment, written and folded by every API process (docs/api.md).
Revocation is a newer record of the same share, so compaction keeps the revoked one."""

WORKERS_LEASE = KafkaTopic(
    "workers.lease", 1, "delete", WorkerLease, "app_id", DAY_MS, broker_time=True
)

KAFKA_TOPICS: tuple[KafkaTopic, ...] = (
    TRACKER_READINGS,
    TRACKER_STATUS,
    TRACKER_DEADLETTER,
    SHIPMENTS_REGISTRY,
    SHIPMENTS_EVENTS,
    FINANCE_FACILITIES,
    FINANCE_EVENTS,
    FINANCE_COMMANDS,
    FINANCE_REQUESTS,
    FINANCE_LEDGER,
    FINANCE_CHECKPOINTS,
    INSURANCE_POLICIES,
    INSURANCE_CLAIMS,
    INSURANCE_COMMANDS,
    FX_RATES,
    WEBHOOKS_SUBSCRIPTIONS,
    WEBHOOKS_DELIVERIES,
    WORKERS_LEASE,
    API_SHARES,
)


TENANT_TOPIC_PREFIX = "tenants"
_TOPIC_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def tenant_topic(role: str, party: str) -> KafkaTopic:
    """A bank's, insurer's or borrower's own view: ``tenants.{role}.{party}.{hash}``,
    holding exactly the events that party may see (fed by ``tradelane webhooks`` with tenant
    views on), keyed by subject. The readable party name helps operators; the hash of the
    exact party id keeps two parties whose names differ only in characters Kafka refuses
    apart. Grant each tenant READ on its own topic name (a literal ACL) and nothing else
    (docs/webhooks.md)."""
    if role not in {"bank", "insurer", "borrower"} or not party:
        raise ValueError(
            f"tenant views exist for banks, insurers and borrowers, not {role!r}/{party!r}"
        )
    digest = hashlib.sha256(party.encode()).hexdigest()[:10]
    slug = _TOPIC_UNSAFE.sub("_", party)[:64]
    name = f"{TENANT_TOPIC_PREFIX}.{role}.{slug}.{digest}"
    return KafkaTopic(name, 3, "delete", EventEnvelope, "subject", 30 * DAY_MS)


def kafka_topic(name: str) -> KafkaTopic:
    """Look a topic up by name; raises ``KeyError`` naming the known topics."""
    for topic in KAFKA_TOPICS:
        if topic.name == name:
            return topic
    known = ", ".join(t.name for t in KAFKA_TOPICS)
    raise KeyError(f"unknown Kafka topic {name!r}; known: {known}")


# --- MQTT -------------------------------------------------------------------------------------

MQTT_ROOT = "tradelane/v1/trackers"


class MqttKind(StrEnum):
    READINGS = "readings"
    STATUS = "status"


def readings_topic(device_id: str) -> str:
    """``tradelane/v1/trackers/{device_id}/readings``."""
    return f"{MQTT_ROOT}/{_checked(device_id)}/{MqttKind.READINGS}"


def status_topic(device_id: str) -> str:
    """``tradelane/v1/trackers/{device_id}/status`` (retained; the device's last will)."""
    return f"{MQTT_ROOT}/{_checked(device_id)}/{MqttKind.STATUS}"


READINGS_FILTER = f"{MQTT_ROOT}/+/{MqttKind.READINGS}"
STATUS_FILTER = f"{MQTT_ROOT}/+/{MqttKind.STATUS}"


def shared(filter_: str, group: str) -> str:
    """An MQTT 5 shared subscription: brokers spread matching messages over the group."""
    if not group or any(c in group for c in "/+#"):
        raise ValueError(f"invalid shared-subscription group {group!r}")
    return f"$share/{group}/{filter_}"


_DEVICE_RE = re.compile(DEVICE_ID_PATTERN)
_TOPIC_RE = re.compile(
    rf"^{re.escape(MQTT_ROOT)}/(?P<device>[^/]+)/(?P<kind>{MqttKind.READINGS}|{MqttKind.STATUS})$"
)


def parse_tracker_topic(topic: str) -> tuple[str, MqttKind] | None:
    """Split a tracker topic into (device_id, kind); ``None`` for anything else."""
    match = _TOPIC_RE.match(topic)
    if match is None or not _DEVICE_RE.match(match["device"]):
        return None
    return match["device"], MqttKind(match["kind"])


def _checked(device_id: str) -> str:
    if not _DEVICE_RE.match(device_id):
        raise ValueError(f"invalid device id {device_id!r} (see contracts.readings.DeviceId)")
    return device_id
