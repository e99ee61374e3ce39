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
from devices.messages import Kind
from devices.plan import FleetPlan, plan_fleet, with_customs
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
    for spec in plan.devices:
        if config.status_messages:
            add(
                _status(
                    len(out),
                    spec.device_id,
                    shipment_of[spec.index],
                    start,
                    True,
                    start,
                    config.interval_s,
                )
            )
    customs = sorted((s.voyage.customs_cleared_at, s.index) for s in plan.shipments)
    c = 0
    while (due := engine.next_due()) is not None:
        while c < len(customs) and customs[c][0] <= due:
            shipment = plan.shipments[customs[c][1]]
            at = customs[c][0]
            add(
                Message(
                    len(out),
                    MessageKind.BOOKING,
                    at,
                    shipment.shipment_id,
                    None,
                    "shipments.registry",
                    booking=with_customs(shipment.booking, at),
                )
            )
            c += 1
        for item in engine.advance(due):
            device = plan.devices[item.device]
            shipment_id = shipment_of[item.device]
            if item.kind in (Kind.READING, Kind.DUPLICATE):
                reading = TrackerReading.model_validate_json(item.payload)
                add(
                    Message(
                        len(out),
                        MessageKind.READING,
                        due,
                        shipment_id,
                        device.device_id,
                        item.topic,
                        reading=reading,
                    )
                )
            elif item.kind is Kind.DIED and config.status_messages:
                add(
                    _status(
                        len(out), device.device_id, shipment_id, due, False, None, config.interval_s
                    )
                )
            elif item.kind is Kind.RETIRED and config.status_messages:
                add(
                    _status(
                        len(out), device.device_id, shipment_id, due, False, due, config.interval_s
                    )
                )
    for at, i in customs[c:]:
        shipment = plan.shipments[i]
        add(
            Message(
                len(out),
                MessageKind.BOOKING,
                at,
                shipment.shipment_id,
                None,
                "shipments.registry",
                booking=with_customs(shipment.booking, at),
            )
        )
    manifest = build_manifest(
        plan,
        engine,
        AckLedger(len(plan.devices)),
        {"scenario": config.scenario, "seed": config.seed, "start": start, "mode": "truth"},
        [],
    )
    return Fleet(plan, tuple(out), manifest)


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
