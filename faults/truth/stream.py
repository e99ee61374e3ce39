"""The simulator's publications without a broker: every message with the instant it is
published, and the run's manifest (the ground truth).

``tradelane simulate`` asks the pure :class:`devices.engine.FleetEngine` for the messages due
up to the simulated "now" and hands them to MQTT; here the engine is advanced one wake-up at a
time instead, so each message keeps the simulated instant it would have left the tracker (a
store-and-forward flush leaves at the reconnect, its readings keep their measurement times).
What the publisher adds around the engine is reproduced: an ``online`` status per tracker at
the start, ``offline`` at retirement, a last will (no time of its own) when a tracker dies, and
the booking republished at customs clearance. The same (scenario, seed, trackers, start) gives
the same stream, message for message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from devices.config import FleetConfig
from devices.engine import FleetEngine
from devices.manifest import AckLedger, Manifest, build_manifest
from devices.messages import Kind, Outgoing
from devices.plan import FleetPlan, SimShipment, plan_fleet, with_customs
from tradelane.contracts import (
    DeviceState,
    DeviceStatus,
    ShipmentBooking,
    TrackerReading,
)
from tradelane.topics import status_topic

DEFAULT_START = datetime(2026, 3, 1, tzinfo=UTC)
"""A fixed simulated start, so a figure printed today can be reproduced tomorrow."""


class MessageKind(StrEnum):
    READING = "reading"
    STATUS = "status"
    """A tracker's retained status; a last will is a status without ``ts``."""
    BOOKING = "booking"
    """A booking republished on the registry (customs clearance)."""


@dataclass(frozen=True, slots=True)
class Message:
    """One publication. ``index`` is its position in publish order (unique in a stream)."""

    index: int
    kind: MessageKind
    published_at: float
    """Simulated POSIX seconds at which it left the tracker (or the simulator)."""
    shipment_id: str
    device_id: str | None
    topic: str
    reading: TrackerReading | None = None
    status: DeviceStatus | None = None
    booking: ShipmentBooking | None = None

    @property
    def event_at(self) -> float:
        """Its own time: the measurement, the status stamp, or (a last will, a booking update
        published on time) the moment it was published."""
        if self.reading is not None:
            return self.reading.ts.timestamp()
        if self.status is not None and self.status.ts is not None:
            return self.status.ts.timestamp()
        return self.published_at

    @property
    def is_will(self) -> bool:
        return self.status is not None and self.status.ts is None


@dataclass(frozen=True, slots=True)
class Fleet:
    """A planned fleet, everything it published, and its manifest."""

    plan: FleetPlan
    messages: tuple[Message, ...]
    manifest: Manifest

    @property
    def bookings(self) -> list[ShipmentBooking]:
        return [s.booking for s in self.plan.shipments]


def fleet_config(
    scenario: str, seed: int, trackers: int, start: datetime = DEFAULT_START
) -> FleetConfig:
    """The configuration ``tradelane simulate --scenario S --seed N --trackers K`` would use
    (defaults for everything else) with a fixed start."""
    return FleetConfig(start=start, trackers=trackers, scenario=scenario, seed=seed)


def simulate(config: FleetConfig) -> Fleet:
    """Run ``config`` to the end (every tracker retired or dead) without a broker."""
    plan = plan_fleet(config)
    engine = FleetEngine(plan)
    shipment_of = {d.index: plan.shipments[d.shipment].shipment_id for d in plan.devices}
    out: list[Message] = []
    add = out.append
    start = config.start_ts
    if config.status_messages:
        for spec in plan.devices:
            device_id, shipment_id = spec.device_id, shipment_of[spec.index]
            add(_status(len(out), device_id, shipment_id, start, True, start, config.interval_s))
    customs = sorted((s.voyage.customs_cleared_at, s.index) for s in plan.shipments)
    c = 0
    while (due := engine.next_due()) is not None:
        while c < len(customs) and customs[c][0] <= due:
            add(_booking_update(len(out), plan.shipments[customs[c][1]], customs[c][0]))
            c += 1
        for item in engine.advance(due):
            device_id = plan.devices[item.device].device_id
            message = _published(len(out), item, due, device_id, shipment_of[item.device], config)
            if message is not None:
                add(message)
    for at, i in customs[c:]:
        add(_booking_update(len(out), plan.shipments[i], at))
    manifest = build_manifest(
        plan,
        engine,
        AckLedger(len(plan.devices)),
        {"scenario": config.scenario, "seed": config.seed, "start": start, "mode": "truth"},
        [],
    )
    return Fleet(plan, tuple(out), manifest)


def _booking_update(index: int, shipment: SimShipment, at: float) -> Message:
    """The booking republished with its customs clearance at ``at``."""
    return Message(
        index,
        MessageKind.BOOKING,
        at,
        shipment.shipment_id,
        None,
        "shipments.registry",
        booking=with_customs(shipment.booking, at),
    )


def _published(
    index: int,
    item: Outgoing,
    due: float,
    device_id: str,
    shipment_id: str,
    config: FleetConfig,
) -> Message | None:
    """What the publisher sends for one engine item at ``due``: readings and duplicates as
    they are, a last will for a death, ``offline`` for a retirement (statuses only when the
    config sends them); malformed payloads never reach the stream."""
    if item.kind in (Kind.READING, Kind.DUPLICATE):
        reading = TrackerReading.model_validate_json(item.payload)
        return Message(
            index, MessageKind.READING, due, shipment_id, device_id, item.topic, reading=reading
        )
    if not config.status_messages:
        return None
    if item.kind is Kind.DIED:
        return _status(index, device_id, shipment_id, due, False, None, config.interval_s)
    if item.kind is Kind.RETIRED:
        return _status(index, device_id, shipment_id, due, False, due, config.interval_s)
    return None


def _status(
    index: int,
    device_id: str,
    shipment_id: str,
    at: float,
    online: bool,
    ts: float | None,
    interval_s: int,
) -> Message:
    status = DeviceStatus(
        device_id=device_id,
        state=DeviceState.ONLINE if online else DeviceState.OFFLINE,
        ts=datetime.fromtimestamp(int(ts), UTC) if ts is not None else None,
        reporting_interval_s=interval_s,
    )
    return Message(
        index,
        MessageKind.STATUS,
        at,
        shipment_id,
        device_id,
        status_topic(device_id),
        status=status,
    )
