"""The API's read model and the pure fold that keeps it: (model, record) → feed items.

:func:`apply` takes one Kafka record (topic, value bytes) and updates the :class:`ReadModel`
it is given, returning the live-feed items the record caused. It does no I/O and reads no
clock: time comes from the records (event time), so replaying the same records gives the same
model and the same items, which is what the unit tests do. The Kafka consumer
(:mod:`api.consumer`) is a thin shell that feeds it.

Records arrive interleaved across topics and partitions. The fold tolerates any order: an
event for a shipment whose booking has not arrived yet opens a bare view that the booking
fills in later; a reading is placed only when its event time is newer than the position held,
because devices flush buffered readings late.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, get_args

from pydantic import BaseModel, ConfigDict, Field

from api import seller_fold
from api.feed_item import FeedItem, ItemType
from api.seller_fold import SellerView
from finance import positions as ledger
from tradelane.contracts import (
    ClaimEvent,
    DelayPredicted,
    EtaChanged,
    Facility,
    FinanceRequest,
    IngestedReading,
    MilestoneReached,
    Policy,
    ShipmentBooking,
    ShipmentEventData,
)
from tradelane.contracts.base import UtcDatetime
from tradelane.contracts.finance import (
    BorrowingBaseChanged,
    CollateralLine,
    DrawdownExecuted,
    FinanceEvent,
    LedgerEntry,
    MarginCallCured,
    MarginCallExpired,
    MarginCallIssued,
    RepaymentApplied,
)
from tradelane.contracts.seller import TrancheDecision
from tradelane.topics import (
    FINANCE_EVENTS,
    FINANCE_FACILITIES,
    FINANCE_LEDGER,
    FINANCE_REQUESTS,
    INSURANCE_CLAIMS,
    INSURANCE_POLICIES,
    SHIPMENTS_EVENTS,
    SHIPMENTS_REGISTRY,
    TRACKER_READINGS,
)

ALERT_KINDS = frozenset(
    {
        "breach_started",
        "breach_progress",
        "shock_detected",
        "tamper_detected",
        "battery_low",
        "tracker_silent",
        "deviation_started",
        "delay_predicted",
    }
)
"""Shipment event kinds pushed as alerts (never dropped); the rest are state changes."""

FLAG_SET = {
    "breach_started": "condition_breached",
    "breach_progress": "condition_breached",
    "shock_detected": "shocked",
    "tamper_detected": "tampered",
    "battery_low": "battery_low",
    "tracker_silent": "tracker_silent",
    "deviation_started": "deviated",
    "delay_predicted": "delayed",
}
FLAG_CLEARED = {"tracker_resumed": "tracker_silent", "deviation_ended": "deviated"}
HISTORY_KEPT = 5000
"""Borrowing-base points kept per facility, and ledger points served in a chart (oldest go
first)."""


@dataclass(slots=True)
class Position:
    lat: float
    lon: float
    at: datetime
    device_id: str
    speed_kmh: float
    heading_deg: float


@dataclass(slots=True)
class ShipmentView:
    """What the API knows of one shipment."""

    shipment_id: str
    booking: ShipmentBooking | None = None
    status: str = "booked"
    position: Position | None = None
    last_reading: dict[str, Any] | None = None
    last_reading_at: datetime | None = None
    eta: datetime | None = None
    flags: set[str] = field(default_factory=set)
    alerts: dict[str, int] = field(default_factory=dict)
    milestones: dict[str, datetime] = field(default_factory=dict)
    events: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=200))
    event_ids: set[str] = field(default_factory=set)
    last_event_at: datetime | None = None


@dataclass(slots=True)
class FacilityView:
    """A pledge facility: terms, its ledger's position, the latest borrowing base.

    Every balance comes from ``position``, the fold of the facility's ledger
    (:mod:`finance.positions`), never from the figures finance events repeat: events and
    entries travel on two topics and reach this model in either order, and only the ledger
    is the books. The base and its collateral lines are the engine's valuation, which only
    events carry (``BorrowingBaseChanged``)."""

    facility_id: str
    facility: Facility | None = None
    base: Decimal | None = None
    base_at: datetime | None = None
    collateral: dict[str, CollateralLine] = field(default_factory=dict)
    """The latest base's line per pledged shipment (value, advance rate, haircut)."""
    position: ledger.Position = field(default_factory=lambda: ledger.Position(""))
    repaid_shipment: dict[int, str | None] = field(default_factory=dict)
    """Ledger seq of a repayment -> the shipment it named (from ``RepaymentApplied``)."""
    updated_at: datetime | None = None
    base_history: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=HISTORY_KEPT))
    drawdowns: list[dict[str, Any]] = field(default_factory=list)
    margin_calls: dict[str, str] = field(default_factory=dict)
    events: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=500))
    seen: set[str] = field(default_factory=set)
    seller: SellerView = field(default_factory=SellerView)
    """Tranche confirmations and reminders (:mod:`api.seller_fold`)."""

    def __post_init__(self) -> None:
        if self.position.facility_id != self.facility_id:
            self.position = ledger.Position(self.facility_id)

    @property
    def outstanding(self) -> Decimal:
        """Outstanding principal as the ledger states it."""
        return self.position.principal

    @property
    def headroom(self) -> Decimal | None:
        """min(base, limit) - outstanding; ``None`` before any base is known."""
        if self.base is None:
            return None
        limit = self.base if self.facility is None else self.facility.limit.amount
        return self.position.headroom(self.base, limit)

    def history(self) -> list[dict[str, Any]]:
        """The chart's outstanding series: one point per ledger entry, in chain order."""
        return [
            {
                "at": m.at,
                "seq": m.seq,
                "kind": m.kind.value,
                "outstanding": str(m.principal_after),
                "interest_due": str(m.interest_after),
            }
            for m in self.position.movements[-HISTORY_KEPT:]
        ]


@dataclass(slots=True)
class ClaimView:
    """A claim's current state and its evidence, folded from its events."""

    claim_id: str
    policy_id: str
    shipment_id: str
    trigger: str
    trigger_kind: str
    status: str
    tier: int
    share: str
    at: datetime
    claim_value: dict[str, Any] | None = None
    paid_total: dict[str, Any] | None = None
    evidence: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


CLAIM_STATUS = {
    "claim_raised": "raised",
    "claim_upgraded": "raised",
    "claim_needs_review": "needs_review",
    "claim_approved": "approved",
    "claim_rejected": "rejected",
    "claim_paid": "paid",
}


@dataclass(slots=True)
class ReadModel:
    """Everything the API serves from memory, with the indexes access rules need."""

    events_kept: int = 200
    shipments: dict[str, ShipmentView] = field(default_factory=dict)
    device_shipment: dict[str, str] = field(default_factory=dict)
    facilities: dict[str, FacilityView] = field(default_factory=dict)
    shipment_facilities: dict[str, set[str]] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)
    claims: dict[str, ClaimView] = field(default_factory=dict)
    unreadable: int = 0
    """Records that did not parse as their topic's contract (skipped, counted)."""

    def shipment(self, shipment_id: str) -> ShipmentView:
        view = self.shipments.get(shipment_id)
        if view is None:
            view = ShipmentView(shipment_id, events=deque(maxlen=self.events_kept))
            self.shipments[shipment_id] = view
        return view

    def facility(self, facility_id: str) -> FacilityView:
        view = self.facilities.get(facility_id)
        if view is None:
            view = self.facilities[facility_id] = FacilityView(facility_id)
        return view

    # --- tradelane.tenancy.Parties ------------------------------------------------------------

    def facility_owners(self, facility_id: str) -> tuple[str, str] | None:
        view = self.facilities.get(facility_id)
        if view is None or view.facility is None:
            return None
        return view.facility.bank_id, view.facility.borrower_id

    def facilities_of(self, shipment_id: str) -> Iterable[str]:
        return self.shipment_facilities.get(shipment_id, ())

    def policy_parties(self, policy_id: str) -> tuple[str, str] | None:
        policy = self.policies.get(policy_id)
        return None if policy is None else (policy.insurer_id, policy.shipment_id)


def apply(
    model: ReadModel, topic: str, value: bytes | None, key: bytes | None = None
) -> list[FeedItem]:
    """Fold one record into ``model``; return the feed items it caused (maybe none).

    A record that does not parse as its topic's contract is counted in ``model.unreadable``
    and otherwise ignored: the read model must never stop on one bad record. A tombstone on
    ``finance.facilities`` (``key`` given) withdraws the facility: its terms and pledges are
    forgotten, so no key sees it any more.
    """
    if value is None:
        if topic == FINANCE_FACILITIES.name and key is not None:
            _withdraw(model, key.decode(errors="replace"))
        return []
    handler = _HANDLERS.get(topic)
    if handler is None:
        return []
    try:
        return handler(model, value)
    except Exception:  # pydantic's ValidationError, or a well-formed record of odd content
        model.unreadable += 1
        return []


def _booking(model: ReadModel, value: bytes) -> list[FeedItem]:
    booking = ShipmentBooking.model_validate_json(value)
    view = model.shipment(booking.shipment_id)
    old = view.booking
    if old is not None:
        for device in old.trackers:
            if model.device_shipment.get(device) == booking.shipment_id:
                del model.device_shipment[device]
    view.booking = booking
    for device in booking.trackers:
        model.device_shipment[device] = booking.shipment_id
    if booking.customs_cleared_at is not None and "customs_cleared" not in view.milestones:
        view.milestones["customs_cleared"] = booking.customs_cleared_at
    if old is not None:
        return []
    return [
        FeedItem(
            ItemType.STATE,
            booking.booked_at,
            {"kind": "booked", "shipper": booking.shipper, "consignee": booking.consignee},
            shipment_id=booking.shipment_id,
            status=view.status,
            **_where(view),
        )
    ]


def _reading(model: ReadModel, value: bytes) -> list[FeedItem]:
    record = IngestedReading.model_validate_json(value)
    reading = record.reading
    shipment_id = model.device_shipment.get(reading.device_id)
    if shipment_id is None:
        return []
    view = model.shipment(shipment_id)
    if view.last_reading_at is None or reading.ts >= view.last_reading_at:
        view.last_reading_at = reading.ts
        view.last_reading = reading.model_dump(mode="json")
    gps = reading.gps
    if gps is None or (view.position is not None and reading.ts <= view.position.at):
        return []
    view.position = Position(
        gps.lat, gps.lon, reading.ts, reading.device_id, gps.speed_kmh, gps.heading_deg
    )
    data: dict[str, Any] = {
        "device_id": reading.device_id,
        "speed_kmh": gps.speed_kmh,
        "heading_deg": gps.heading_deg,
    }
    if reading.temperature_c is not None:
        data["temperature_c"] = reading.temperature_c
    return [
        FeedItem(
            ItemType.POSITION,
            reading.ts,
            data,
            shipment_id=shipment_id,
            status=view.status,
            lat=gps.lat,
            lon=gps.lon,
        )
    ]


class _EventHead(BaseModel):
    """The envelope fields the fold needs; ``data`` is validated by kind where it is used."""

    model_config = ConfigDict(extra="ignore")

    specversion: str = "1.0"
    id: Annotated[str, Field(min_length=1)]
    source: str
    type: str
    subject: Annotated[str, Field(min_length=1)]
    time: UtcDatetime
    schemaversion: int = 1
    data: dict[str, Any]

    def envelope(self, data: dict[str, Any]) -> dict[str, Any]:
        """The CloudEvents envelope as JSON, with ``data`` in place of the original."""
        return {
            "specversion": self.specversion,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "subject": self.subject,
            "time": self.time.isoformat().replace("+00:00", "Z"),
            "schemaversion": self.schemaversion,
            "data": data,
        }


_STATE_MODELS: dict[str, type[MilestoneReached | EtaChanged | DelayPredicted]] = {
    "milestone_reached": MilestoneReached,
    "eta_changed": EtaChanged,
    "delay_predicted": DelayPredicted,
}
_KNOWN_KINDS = frozenset(
    str(m.model_fields["kind"].default) for m in get_args(get_args(ShipmentEventData)[0])
)


def _slim(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` without the evidence's reading list (kept: count, digest, first/last time,
    statistics). A shipment's events are held in memory and evidence can cite hundreds of
    readings; the full list stays on Kafka, the readings themselves in InfluxDB."""
    evidence = data.get("evidence")
    if not isinstance(evidence, dict) or not evidence.get("readings"):
        return data
    return {**data, "evidence": {**evidence, "readings": []}}


def _shipment_event(model: ReadModel, value: bytes) -> list[FeedItem]:
    """Shipment events are the bulk of what the API replays on start (evidence makes them
    kilobytes each), so only the envelope head and the kinds that change state are parsed
    into contracts; an unknown kind counts as unreadable."""
    head = _EventHead.model_validate_json(value)
    kind = head.data.get("kind")
    if kind not in _KNOWN_KINDS:
        model.unreadable += 1
        return []
    view = model.shipment(head.subject)
    if head.id in view.event_ids:
        return []  # redelivered: already folded
    state_model = _STATE_MODELS.get(str(kind))
    if state_model is not None:
        data = state_model.model_validate(head.data)
        if isinstance(data, MilestoneReached):
            view.status = data.status.value
            view.milestones[data.milestone.value] = data.at
        elif isinstance(data, EtaChanged):
            view.eta = data.eta
            if data.eta <= data.planned_arrival:
                view.flags.discard("delayed")
        else:
            view.eta = data.eta
    view.event_ids.add(head.id)
    slim = _slim(head.data)
    view.events.append(head.envelope(slim))
    view.last_event_at = head.time
    if kind in FLAG_SET:
        view.flags.add(FLAG_SET[kind])
    if kind in FLAG_CLEARED:
        view.flags.discard(FLAG_CLEARED[kind])
    is_alert = kind in ALERT_KINDS
    if is_alert:
        view.alerts[kind] = view.alerts.get(kind, 0) + 1
    return [
        FeedItem(
            ItemType.ALERT if is_alert else ItemType.STATE,
            head.time,
            {"id": head.id, **slim},
            shipment_id=head.subject,
            status=view.status,
            alert=kind if is_alert else None,
            flags=tuple(sorted(view.flags)),
            **_where(view),
        )
    ]


def _withdraw(model: ReadModel, facility_id: str) -> None:
    view = model.facilities.pop(facility_id, None)
    if view is not None and view.facility is not None:
        for shipment_id in view.facility.pledged_shipments:
            model.shipment_facilities.get(shipment_id, set()).discard(facility_id)


def _finance_request(model: ReadModel, value: bytes) -> list[FeedItem]:
    """A borrower's request on its way to the engine: shown as pending until answered."""
    request = FinanceRequest.model_validate_json(value)
    if isinstance(request.data, TrancheDecision):  # delay requests show no pending tranche
        seller_fold.requested(model.facility(request.subject).seller, request.data)
    return []


def _facility(model: ReadModel, value: bytes) -> list[FeedItem]:
    facility = Facility.model_validate_json(value)
    view = model.facility(facility.facility_id)
    if view.facility is not None:
        for shipment_id in view.facility.pledged_shipments:
            model.shipment_facilities.get(shipment_id, set()).discard(facility.facility_id)
    view.facility = facility
    for shipment_id in facility.pledged_shipments:
        model.shipment_facilities.setdefault(shipment_id, set()).add(facility.facility_id)
    return []


def _finance_event(model: ReadModel, value: bytes) -> list[FeedItem]:
    event = FinanceEvent.model_validate_json(value)
    view = model.facility(event.subject)
    if event.id in view.seen:
        return []
    view.seen.add(event.id)
    envelope = event.model_dump(mode="json")
    view.events.append(envelope)
    view.updated_at = event.time
    data = event.data
    point: dict[str, Any] | None = None
    if isinstance(data, BorrowingBaseChanged):
        if view.base_at is None or data.at >= view.base_at:
            view.base, view.base_at = data.base.amount, data.at
            view.collateral = {line.shipment_id: line for line in data.collateral}
        point = {"at": data.at, "base": str(data.base.amount)}
    elif isinstance(data, DrawdownExecuted):
        view.drawdowns.append(envelope["data"])
    elif isinstance(data, RepaymentApplied):
        if data.ledger_seq is not None:
            view.repaid_shipment[data.ledger_seq] = data.shipment_id
    elif isinstance(data, MarginCallIssued):
        view.margin_calls[data.margin_call_id] = "open"
    elif isinstance(data, MarginCallCured):
        view.margin_calls[data.margin_call_id] = "cured"
    elif isinstance(data, MarginCallExpired):
        view.margin_calls[data.margin_call_id] = "expired"
    seller_fold.fold(view.seller, data)
    if point is not None:
        point["at"] = point["at"].isoformat()
        view.base_history.append(point)
    shipment_id = envelope["data"].get("shipment_id")
    return [
        FeedItem(
            ItemType.FINANCE,
            event.time,
            {"id": event.id, **envelope["data"]},
            shipment_id=shipment_id if isinstance(shipment_id, str) else None,
            facility_id=event.subject,
        )
    ]


def _ledger_entry(model: ReadModel, value: bytes) -> list[FeedItem]:
    """Fold one ledger entry into its facility's position (in chain order; a duplicate or an
    entry that does not continue the chain changes nothing). No feed item: the finance event
    of the same step announces the movement."""
    entry = LedgerEntry.model_validate_json(value)
    ledger.advance(model.facility(entry.facility_id).position, entry)
    return []


def _policy(model: ReadModel, value: bytes) -> list[FeedItem]:
    policy = Policy.model_validate_json(value)
    model.policies[policy.policy_id] = policy
    return []


def _claim_event(model: ReadModel, value: bytes) -> list[FeedItem]:
    event = ClaimEvent.model_validate_json(value)
    data = event.data
    envelope = event.model_dump(mode="json")
    body: dict[str, Any] = envelope["data"]
    view = model.claims.get(data.claim_id)
    if view is None:
        view = model.claims[data.claim_id] = ClaimView(
            claim_id=data.claim_id,
            policy_id=data.policy_id,
            shipment_id=data.shipment_id,
            trigger=data.trigger,
            trigger_kind=data.trigger_kind.value,
            status="raised",
            tier=data.tier,
            share=str(data.share),
            at=data.at,
        )
    elif any(e["id"] == event.id for e in view.events):
        return []
    view.events.append(envelope)
    view.status = CLAIM_STATUS[data.kind]
    view.tier, view.share, view.at = data.tier, str(data.share), data.at
    if body.get("claim_value") is not None:
        view.claim_value = body["claim_value"]
    if body.get("evidence"):
        view.evidence = body["evidence"]
    if body.get("findings"):
        view.findings = body["findings"]
    if body.get("claim_paid_total") is not None:
        view.paid_total = body["claim_paid_total"]
    return [
        FeedItem(
            ItemType.CLAIM,
            event.time,
            {"id": event.id, **body},
            shipment_id=data.shipment_id,
            policy_id=data.policy_id,
        )
    ]


def _where(view: ShipmentView) -> dict[str, Any]:
    if view.position is None:
        return {}
    return {"lat": view.position.lat, "lon": view.position.lon}


_HANDLERS = {
    SHIPMENTS_REGISTRY.name: _booking,
    TRACKER_READINGS.name: _reading,
    SHIPMENTS_EVENTS.name: _shipment_event,
    FINANCE_FACILITIES.name: _facility,
    FINANCE_EVENTS.name: _finance_event,
    FINANCE_LEDGER.name: _ledger_entry,
    FINANCE_REQUESTS.name: _finance_request,
    INSURANCE_POLICIES.name: _policy,
    INSURANCE_CLAIMS.name: _claim_event,
}
SOURCE_TOPICS = tuple(_HANDLERS)
"""Every topic the read model follows."""
