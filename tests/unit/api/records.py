"""Wire records for the API's unit tests: real contracts, serialised as Kafka carries them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel

from finance.demo_terms import demo_facility, demo_policy
from finance.ledger import build_entry
from tests.samples import booking
from tradelane.contracts import (
    BreachRule,
    BreachStarted,
    ClaimEvent,
    Gps,
    IngestedReading,
    Milestone,
    MilestoneReached,
    Money,
    ShipmentEvent,
    ShipmentStatus,
    TrackerReading,
)
from tradelane.contracts.events import BreachKind, TrackerResumed, TrackerSilent
from tradelane.contracts.finance import (
    GENESIS_HASH,
    AppliedFx,
    BorrowingBaseChanged,
    CollateralLine,
    Direction,
    DrawdownExecuted,
    FinanceEvent,
    LedgerAccount,
    LedgerEntry,
    LedgerEntryKind,
)
from tradelane.contracts.insurance import ClaimPaid, ClaimRaised, MeasureUnit, PayeeRole
from tradelane.contracts.registries import TriggerKind
from tradelane.ids import derive_id
from tradelane.topics import (
    FINANCE_EVENTS,
    FINANCE_FACILITIES,
    FINANCE_LEDGER,
    INSURANCE_CLAIMS,
    INSURANCE_POLICIES,
    SHIPMENTS_EVENTS,
    SHIPMENTS_REGISTRY,
    TRACKER_READINGS,
)

T0 = datetime(2026, 11, 21, tzinfo=UTC)
Record = tuple[str, bytes]


def _wire(topic: str, model: BaseModel) -> Record:
    return topic, model.model_dump_json().encode()


def booked(shipment_id: str, device: str) -> Record:
    return _wire(SHIPMENTS_REGISTRY.name, booking(shipment_id, [device]))


def reading(device: str, seq: int, minutes: int, lat: float, lon: float, temp: float = 5) -> Record:
    ts = T0 + timedelta(minutes=minutes)
    value = IngestedReading(
        reading=TrackerReading(
            device_id=device, seq=seq, ts=ts, gps=Gps(lat=lat, lon=lon), temperature_c=temp
        ),
        received_at=ts,
        mqtt_topic=f"tradelane/v1/trackers/{device}/readings",
    )
    return _wire(TRACKER_READINGS.name, value)


def _event(shipment_id: str, data: BaseModel, at: datetime) -> Record:
    kind = str(getattr(data, "kind"))  # noqa: B009 - every event model has one
    event = ShipmentEvent(
        id=derive_id("event", shipment_id, kind, at.isoformat()),
        source="/tradelane/streams",
        type=f"tradelane.shipment.{kind}.v1",
        subject=shipment_id,
        time=at,
        data=data,  # type: ignore[arg-type]
    )
    return _wire(SHIPMENTS_EVENTS.name, event)


def departed(shipment_id: str, minutes: int = 10) -> Record:
    at = T0 + timedelta(minutes=minutes)
    data = MilestoneReached(
        milestone=Milestone.DEPARTED_ORIGIN,
        at=at,
        place="CNSHA",
        status=ShipmentStatus.IN_TRANSIT,
        in_spec=True,
    )
    return _event(shipment_id, data, at)


def breach(shipment_id: str, minutes: int = 20) -> Record:
    at = T0 + timedelta(minutes=minutes)
    data = BreachStarted(
        breach=BreachKind.TEMPERATURE_HIGH,
        rule=BreachRule.CONSECUTIVE,
        limit=8,
        minutes=30,
        started_at=at,
        value=9.5,
    )
    return _event(shipment_id, data, at)


def silent(shipment_id: str, device: str, minutes: int = 30) -> Record:
    at = T0 + timedelta(minutes=minutes)
    data = TrackerSilent(device_id=device, last_seen=at, at=at, judged_by="event_time")
    return _event(shipment_id, data, at)


def resumed(shipment_id: str, device: str, minutes: int = 40) -> Record:
    at = T0 + timedelta(minutes=minutes)
    return _event(shipment_id, TrackerResumed(device_id=device, at=at, silent_s=600), at)


def facility(facility_id: str, bank_id: str, shipments: list[str]) -> Record:
    """A facility of ``bank_id`` (``bank-a``) to its seller (``seller-a``)."""
    seller = f"seller-{bank_id.rsplit('-', 1)[-1]}"
    terms = demo_facility(facility_id, shipments).model_copy(
        update={"bank_id": bank_id, "borrower_id": seller}
    )
    return _wire(FINANCE_FACILITIES.name, terms)


def _finance(facility_id: str, data: BaseModel, at: datetime) -> Record:
    kind = str(getattr(data, "kind"))  # noqa: B009
    event = FinanceEvent(
        id=derive_id("fin", facility_id, kind, at.isoformat()),
        source="/tradelane/finance",
        type=f"tradelane.finance.{kind}.v1",
        subject=facility_id,
        time=at,
        data=data,  # type: ignore[arg-type]
    )
    return _wire(FINANCE_EVENTS.name, event)


def usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


def base_changed(
    facility_id: str,
    base: str,
    outstanding: str,
    minutes: int,
    collateral: list[CollateralLine] | None = None,
) -> Record:
    at = T0 + timedelta(minutes=minutes)
    data = BorrowingBaseChanged(
        facility_id=facility_id,
        at=at,
        base=usd(base),
        previous_base=usd("0"),
        outstanding=usd(outstanding),
        headroom=usd(str(Decimal(base) - Decimal(outstanding))),
        collateral=collateral or [],
    )
    return _finance(facility_id, data, at)


def drawdown_entry(
    facility_id: str,
    shipment_id: str,
    amount: str,
    minutes: int,
    seq: int = 0,
    prev_hash: str = GENESIS_HASH,
    milestone: Milestone = Milestone.DEPARTED_ORIGIN,
) -> LedgerEntry:
    """The ledger entry the engine posts for a drawdown (its id from shipment and milestone)."""
    return build_entry(
        facility_id=facility_id,
        seq=seq,
        prev_hash=prev_hash,
        kind=LedgerEntryKind.DRAWDOWN,
        cause_key=(shipment_id, milestone.value),
        cause_event_id=derive_id("evt", shipment_id, milestone.value),
        at=T0 + timedelta(minutes=minutes),
        currency="USD",
        fx=AppliedFx(base="USD", quote="USD", rate=Decimal(1)),
        legs=[
            (LedgerAccount.LOAN_PRINCIPAL, Direction.DEBIT, Decimal(amount)),
            (LedgerAccount.FUNDING, Direction.CREDIT, Decimal(amount)),
        ],
    )


def ledger(entry: LedgerEntry) -> Record:
    return _wire(FINANCE_LEDGER.name, entry)


def drawdown(facility_id: str, shipment_id: str, amount: str, after: str, minutes: int) -> Record:
    """The ``DrawdownExecuted`` event (citing the first ledger position)."""
    at = T0 + timedelta(minutes=minutes)
    data = DrawdownExecuted(
        facility_id=facility_id,
        shipment_id=shipment_id,
        milestone=Milestone.DEPARTED_ORIGIN,
        drawdown_id=derive_id("dd", facility_id, shipment_id),
        amount=usd(amount),
        share=Decimal("0.5"),
        headroom_before=usd(amount),
        outstanding_after=usd(after),
        fx=AppliedFx(base="USD", quote="USD", rate=Decimal(1)),
        at=at,
        ledger_seq=0,
        ledger_hash=drawdown_entry(facility_id, shipment_id, amount, minutes).hash,
    )
    return _finance(facility_id, data, at)


def policy(shipment_id: str, insurer: str) -> Record:
    value = demo_policy(shipment_id, usd("250000.00"), insurer=insurer)
    return _wire(INSURANCE_POLICIES.name, value)


def _claim(policy_id: str, data: BaseModel, at: datetime) -> Record:
    kind = str(getattr(data, "kind"))  # noqa: B009
    event = ClaimEvent(
        id=derive_id("claim-event", policy_id, kind, at.isoformat()),
        source="/tradelane/finance/insurance",
        type=f"tradelane.insurance.{kind}.v1",
        subject=policy_id,
        time=at,
        data=data,  # type: ignore[arg-type]
    )
    return _wire(INSURANCE_CLAIMS.name, event)


def claim_id(policy_id: str) -> str:
    return derive_id("claim", policy_id, "temperature")


def claim_raised(policy_id: str, shipment_id: str, minutes: int = 50) -> Record:
    at = T0 + timedelta(minutes=minutes)
    data = ClaimRaised(
        claim_id=claim_id(policy_id),
        policy_id=policy_id,
        shipment_id=shipment_id,
        trigger="temperature",
        trigger_kind=TriggerKind.TEMPERATURE,
        tier=0,
        share=Decimal("0.25"),
        at=at,
        measure=45,
        unit=MeasureUnit.MINUTES,
        threshold=30,
        claim_value=usd("60000.00"),
        evidence=[],
        cause_event_id="cause-1",
    )
    return _claim(policy_id, data, at)


def claim_paid(policy_id: str, shipment_id: str, minutes: int = 60) -> Record:
    at = T0 + timedelta(minutes=minutes)
    data = ClaimPaid(
        claim_id=claim_id(policy_id),
        policy_id=policy_id,
        shipment_id=shipment_id,
        trigger="temperature",
        trigger_kind=TriggerKind.TEMPERATURE,
        tier=0,
        share=Decimal("0.25"),
        at=at,
        cause_id=derive_id("pay", policy_id),
        amount=usd("60000.00"),
        claim_paid_total=usd("60000.00"),
        policy_paid_total=usd("60000.00"),
        capped=False,
        loss_payee="bank-a",
        payee_role=PayeeRole.LENDER,
        facility_id="fac-a",
    )
    return _claim(policy_id, data, at)


def fleet() -> list[Record]:
    """Two banks, one shipment each; one insurer covering the first shipment."""
    return [
        booked("shp-a", "dev-a"),
        booked("shp-b", "dev-b"),
        facility("fac-a", "bank-a", ["shp-a"]),
        facility("fac-b", "bank-b", ["shp-b"]),
        policy("shp-a", "ins-a"),
        reading("dev-a", 1, 0, 31.0, 121.0),
        reading("dev-b", 1, 0, 51.0, 4.0),
        departed("shp-a"),
        breach("shp-a"),
        base_changed("fac-a", "150000", "0", 10),
        drawdown("fac-a", "shp-a", "75000", "75000", 11),
        ledger(drawdown_entry("fac-a", "shp-a", "75000", 11)),
        base_changed("fac-b", "90000", "0", 10),
        claim_raised("pol-shp-a", "shp-a"),
    ]
