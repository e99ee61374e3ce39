"""Small builders for pledge-engine tests: one facility, one or two shipments, readable events.

Everything is deterministic: times count from :data:`T0`, ids derive from the arguments, so a
test that builds the same inputs twice gets byte-identical inputs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

from finance.facility_state import FacilityState, new_state
from finance.pledge_engine import EngineInput, run
from finance.step import Outputs
from tradelane.contracts import (
    BreachEnded,
    BreachKind,
    BreachProgress,
    BreachRule,
    BreachStarted,
    Cargo,
    CollateralStatus,
    ConditionProfile,
    EtaChanged,
    Evidence,
    Facility,
    FxRate,
    Leg,
    Milestone,
    MilestoneReached,
    Money,
    Place,
    PlaceKind,
    ProfileKind,
    ShipmentBooking,
    ShipmentEvent,
    ShipmentEventData,
    ShipmentStatus,
    TamperDetected,
    TrackerResumed,
    TrackerSilent,
    TransportMode,
    shipment_event_type,
)
from tradelane.contracts.finance import (
    DayTick,
    DrawdownRequested,
    LedgerEntry,
    PledgeCode,
    PledgeDecided,
    RepaymentReceived,
    RepaymentSource,
    SaleReported,
)
from tradelane.contracts.fx_quotes import FxQuoteRequested
from tradelane.contracts.registries import (
    FxLockTerms,
    HaircutRule,
    ImpairmentKind,
    PlanInstalmentTerm,
    PlanStart,
    RepaymentPlanTerms,
)
from tradelane.contracts.seller import (
    Choice,
    RepaymentDelayDecided,
    RepaymentDelayRequested,
    Requester,
    TrancheDecision,
)
from tradelane.ids import derive_id

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
FAC = "fac-1"
SHP = "shp-1"
SHP2 = "shp-2"
EVIDENCE = Evidence(readings=[], digest="0" * 64, count=0)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def usd(amount: str | int) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


def eur(amount: str | int) -> Money:
    return Money(amount=Decimal(amount), currency="EUR")


def facility(**overrides: object) -> Facility:
    """A USD 1,000,000 line: 60 % in transit, 80 % in warehouse, 0 % delivered; half the
    in-transit advance at departure, the rest at the warehouse; temperature haircuts."""
    fields: dict[str, object] = {
        "facility_id": FAC,
        "bank_id": "bank-1",
        "borrower_id": "shipper-1",
        "limit": usd(1_000_000),
        "advance_rates": {
            CollateralStatus.IN_TRANSIT: Decimal("0.6"),
            CollateralStatus.IN_WAREHOUSE: Decimal("0.8"),
            CollateralStatus.DELIVERED: Decimal(0),
        },
        "concentration_limit": Decimal("0.5"),
        "margin_call_cure_hours": 48,
        "drawdown_schedule": {
            Milestone.DEPARTED_ORIGIN.value: Decimal("0.5"),
            Milestone.ENTERED_BONDED_WAREHOUSE.value: Decimal(1),
        },
        "pledged_shipments": [SHP, SHP2],
        "haircut_schedule": [
            HaircutRule(
                impairment=ImpairmentKind.TEMPERATURE_HIGH,
                min_severity=Decimal(30),
                haircut=Decimal("0.25"),
            ),
            HaircutRule(
                impairment=ImpairmentKind.TEMPERATURE_HIGH,
                min_severity=Decimal(240),
                haircut=Decimal("0.75"),
            ),
            HaircutRule(impairment=ImpairmentKind.TAMPER, haircut=Decimal(1)),
        ],
        "interest_rate": Decimal("0.0730"),
        "reminder_days": 0,  # reminders have their own tests (test_seller_engine.py)
    }
    fields.update(overrides)
    return Facility.model_validate(fields)


def _place(code: str) -> Place:
    return Place(locode=code, name=code, kind=PlaceKind.SEAPORT, lat=1.0, lon=1.0)


def booking(
    shipment_id: str = SHP, value: str = "200000", currency: str = "EUR"
) -> ShipmentBooking:
    return ShipmentBooking(
        shipment_id=shipment_id,
        shipper="Shipper",
        consignee="Consignee",
        origin=_place("NLRTM"),
        destination=_place("SGSIN"),
        legs=[
            Leg(
                mode=TransportMode.SEA,
                origin=_place("NLRTM"),
                destination=_place("SGSIN"),
                planned_departure=at(0),
                planned_arrival=at(24 * 20),
            ),
        ],
        cargo=Cargo(
            description="Chilled produce",
            hs_code="080810",
            quantity=100,
            value=Money(amount=Decimal(value), currency=currency),
        ),
        condition=ConditionProfile(kind=ProfileKind.CHILLED, temp_min_c=2, temp_max_c=8),
        trackers=["trk-1"],
        booked_at=at(-48),
    )


def eur_usd(rate: str = "1.10", hours: float = -1) -> FxRate:
    return FxRate(base="EUR", quote="USD", rate=Decimal(rate), as_of=at(hours))


def event(data: ShipmentEventData, when: datetime, shipment_id: str = SHP) -> ShipmentEvent:
    return ShipmentEvent(
        id=derive_id(
            "test-event", shipment_id, data.kind, when.isoformat(), data.model_dump_json()
        ),
        source="/tradelane/streams",
        type=shipment_event_type(data.kind),
        subject=shipment_id,
        time=when,
        data=data,
    )


_STATUS = {
    Milestone.DEPARTED_ORIGIN: ShipmentStatus.IN_TRANSIT,
    Milestone.ARRIVED_TRANSSHIPMENT: ShipmentStatus.AT_TRANSSHIPMENT,
    Milestone.DEPARTED_TRANSSHIPMENT: ShipmentStatus.IN_TRANSIT,
    Milestone.ARRIVED_DESTINATION: ShipmentStatus.ARRIVED,
    Milestone.ENTERED_BONDED_WAREHOUSE: ShipmentStatus.IN_BONDED_WAREHOUSE,
    Milestone.CUSTOMS_CLEARED: ShipmentStatus.CUSTOMS_CLEARED,
    Milestone.DELIVERED: ShipmentStatus.DELIVERED,
}


def milestone(
    m: Milestone, hours: float, in_spec: bool = True, shipment_id: str = SHP
) -> ShipmentEvent:
    data = MilestoneReached(milestone=m, at=at(hours), status=_STATUS[m], in_spec=in_spec)
    return event(data, at(hours), shipment_id)


def eta(hours: float, eta_hours: float, shipment_id: str = SHP) -> ShipmentEvent:
    """At ``hours``, the shipment's ETA at destination became ``eta_hours`` (planned: 480)."""
    data = EtaChanged(at=at(hours), eta=at(eta_hours), planned_arrival=at(24 * 20))
    return event(data, at(hours), shipment_id)


def breach_started(hours: float, shipment_id: str = SHP) -> ShipmentEvent:
    data = BreachStarted(
        breach=BreachKind.TEMPERATURE_HIGH,
        rule=BreachRule.CONSECUTIVE,
        limit=8.0,
        minutes=30,
        started_at=at(hours),
        value=8.4,
    )
    return event(data, at(hours), shipment_id)


def breach_progress(start: float, minutes: int, shipment_id: str = SHP) -> ShipmentEvent:
    now = at(start + minutes / 60)
    data = BreachProgress(
        breach=BreachKind.TEMPERATURE_HIGH,
        rule=BreachRule.CONSECUTIVE,
        started_at=at(start),
        at=now,
        duration_s=minutes * 60,
        peak=14.0,
        evidence=EVIDENCE,
    )
    return event(data, now, shipment_id)


def breach_ended(start: float, minutes: int, shipment_id: str = SHP) -> ShipmentEvent:
    end = at(start + minutes / 60)
    data = BreachEnded(
        breach=BreachKind.TEMPERATURE_HIGH,
        rule=BreachRule.CONSECUTIVE,
        started_at=at(start),
        ended_at=end,
        duration_s=minutes * 60,
        peak=15.0,
        evidence=EVIDENCE,
    )
    return event(data, end, shipment_id)


def tamper(hours: float, shipment_id: str = SHP) -> ShipmentEvent:
    return event(
        TamperDetected(device_id="trk-1", at=at(hours), evidence=EVIDENCE), at(hours), shipment_id
    )


def silent(hours: float, shipment_id: str = SHP) -> ShipmentEvent:
    data = TrackerSilent(
        device_id="trk-1", last_seen=at(hours - 1), at=at(hours), judged_by="event_time"
    )
    return event(data, at(hours), shipment_id)


def resumed(hours: float, shipment_id: str = SHP) -> ShipmentEvent:
    return event(
        TrackerResumed(device_id="trk-1", at=at(hours), silent_s=3600), at(hours), shipment_id
    )


def request(
    m: Milestone, hours: float, request_id: str = "req-1", shipment_id: str = SHP
) -> DrawdownRequested:
    return DrawdownRequested(
        request_id=request_id, facility_id=FAC, shipment_id=shipment_id, milestone=m, at=at(hours)
    )


def repayment(
    amount: str,
    hours: float,
    cause_id: str = "pay-1",
    shipment_id: str | None = None,
    currency: str = "USD",
    source: RepaymentSource = RepaymentSource.BORROWER,
    fx_quote_id: str | None = None,
) -> RepaymentReceived:
    return RepaymentReceived(
        facility_id=FAC,
        shipment_id=shipment_id,
        amount=Money(amount=Decimal(amount), currency=currency),
        cause_id=cause_id,
        source=source,
        at=at(hours),
        fx_quote_id=fx_quote_id,
    )


def quote_request(
    notional: str,
    hours: float,
    request_id: str = "quote-1",
    currency: str = "EUR",
    side: Literal["drawdown_payout", "repayment"] = "repayment",
    party: str = "shipper-1",
) -> FxQuoteRequested:
    """The borrower asks fac-1 for a rate to lock, as the API writes it."""
    return FxQuoteRequested(
        request_id=request_id,
        facility_id=FAC,
        side=side,
        notional=Money(amount=Decimal(notional), currency=currency),
        by=Requester(role="borrower", party=party),
        at=at(hours),
    )


def fx_lock(spread_bp: int = 25, minutes: int = 30, max_notional: str = "500000") -> FxLockTerms:
    """Quotes of ``spread_bp`` valid ``minutes``, for up to USD ``max_notional``."""
    return FxLockTerms(
        spread_bp=spread_bp, validity_minutes=minutes, max_notional=usd(max_notional)
    )


def sale(
    amount: str, hours: float, cause_id: str = "sale-1", shipment_id: str = SHP
) -> SaleReported:
    return SaleReported(
        facility_id=FAC,
        shipment_id=shipment_id,
        proceeds=usd(amount),
        cause_id=cause_id,
        at=at(hours),
    )


def decision(
    m: Milestone,
    hours: float,
    choice: Choice = Choice.CONFIRM,
    amount: str | None = None,
    request_id: str = "click-1",
    shipment_id: str = SHP,
    party: str = "shipper-1",
    role: Literal["operator", "borrower", "bank"] = "borrower",
    fx_quote_id: str | None = None,
) -> TrancheDecision:
    """The borrower's decision on the tranche of (shipment, ``m``), as the API writes it
    (``fx_quote_id``: paid out at that FX lock quote)."""
    return TrancheDecision(
        request_id=request_id,
        facility_id=FAC,
        shipment_id=shipment_id,
        milestone=m,
        choice=choice,
        amount=None if amount is None else usd(amount),
        by=Requester(role=role, party=party),
        at=at(hours),
        fx_quote_id=fx_quote_id,
    )


def tick(hours: float) -> DayTick:
    return DayTick(facility_id=FAC, at=at(hours))


def pledge_decided(
    granted: str,
    hours: float = 0.5,
    shipment_id: str = SHP,
    code: PledgeCode | None = None,
    concerns: str = "own_pledge",
    n: int = 0,
) -> PledgeDecided:
    """The collateral register's decision on fac-1's pledge of an EUR 200,000 cargo: it
    secures ``granted`` EUR (capped when less than the cargo, refused at zero)."""
    amount = Decimal(granted)
    if code is None:
        code = (
            PledgeCode.PLEDGE_ACCEPTED
            if amount >= 200_000
            else PledgeCode.PLEDGE_CAPPED_TO_CARGO_VALUE
            if amount > 0
            else PledgeCode.COLLATERAL_ALREADY_PLEDGED
        )
    return PledgeDecided(
        facility_id=FAC,
        shipment_id=shipment_id,
        decision_id=derive_id("test_pledge", shipment_id, granted, code, concerns, n),
        concerns=concerns,
        code=code,
        cargo_value=Money(amount=Decimal(200_000), currency="EUR"),
        requested=None,
        granted=Money(amount=amount, currency="EUR"),
        pledged_elsewhere=Money(amount=Decimal(200_000) - amount, currency="EUR"),
        at=at(hours),
    )


def setup(**terms: object) -> list[EngineInput]:
    """Registry inputs: the facility, two EUR 200k bookings, EUR/USD 1.10."""
    return [facility(**terms), booking(SHP), booking(SHP2), eur_usd()]


def play(
    items: list[EngineInput], state: FacilityState | None = None
) -> tuple[FacilityState, list[Outputs]]:
    return run(state or new_state(FAC), items)


def plan(
    days: tuple[int, ...] = (30, 60),
    grace_days: int = 5,
    default_rate: str = "0.10",
    start: PlanStart = PlanStart.DELIVERED,
) -> RepaymentPlanTerms:
    """Equal instalments ``days`` after delivery (or sale); the last takes the remainder."""
    share = (Decimal(1) / len(days)).quantize(Decimal("0.000001"), rounding="ROUND_DOWN")
    shares = [share] * (len(days) - 1)
    shares.append(Decimal(1) - sum(shares, Decimal(0)))
    return RepaymentPlanTerms(
        instalments=[
            PlanInstalmentTerm(days_after_start=d, share=s)
            for d, s in zip(days, shares, strict=True)
        ],
        start=start,
        grace_days=grace_days,
        default_rate=Decimal(default_rate),
    )


def delay_request(
    instalment: str,
    new_due_hours: float,
    hours: float,
    request_id: str = "delay-1",
    shipment_id: str = SHP,
    party: str = "shipper-1",
    role: Literal["operator", "borrower", "bank"] = "borrower",
) -> RepaymentDelayRequested:
    """The borrower asks to move ``instalment`` to ``new_due_hours`` (from :data:`T0`)."""
    return RepaymentDelayRequested(
        request_id=request_id,
        facility_id=FAC,
        shipment_id=shipment_id,
        instalment_id=instalment,
        new_due=at(new_due_hours),
        reason="buyer pays late",
        by=Requester(role=role, party=party),
        at=at(hours),
    )


def delay_decision(
    approve: bool,
    hours: float,
    delay_request_id: str = "delay-1",
    request_id: str = "answer-1",
    shipment_id: str = SHP,
    party: str = "bank-1",
    role: Literal["operator", "borrower", "bank"] = "bank",
) -> RepaymentDelayDecided:
    """The bank's answer to the borrower's delay request ``delay_request_id``."""
    return RepaymentDelayDecided(
        request_id=request_id,
        facility_id=FAC,
        shipment_id=shipment_id,
        delay_request_id=delay_request_id,
        approve=approve,
        by=Requester(role=role, party=party),
        at=at(hours),
    )


def story_ledger() -> list[LedgerEntry]:
    """The ledger of one small facility story (two departures, a breach, three days of
    interest, a repayment): the entries the ledger, checkpoint and export tests sign, verify
    and tamper with."""
    story = [
        *setup(),
        milestone(Milestone.DEPARTED_ORIGIN, 1),
        milestone(Milestone.DEPARTED_ORIGIN, 2, shipment_id=SHP2),
        breach_started(30),
        breach_progress(30, 300),
        tick(24 * 3),
        repayment("50000", 24 * 3 + 1),
    ]
    _, outputs = play(story)
    return [entry for out in outputs for entry in out.entries]
