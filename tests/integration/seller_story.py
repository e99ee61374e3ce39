"""A seller's story for the seller page's tests: a confirming facility of ``demo-shipper``
pledging three shipments, played through the pure pledge engine.

Shipment A departed and its tranche was confirmed (lent); shipment B departed and its tranche
awaits the borrower's confirmation; shipment C departs in three days (upcoming, reminded).
:func:`story_records` gives every record the services would hold after it: the inputs on the
topics the simulator and the API write (terms, bookings, milestones, the borrower's earlier
decision) and the engine's outputs on ``finance.events`` and ``finance.ledger``, exactly as the
worker would publish them. No worker runs: the cluster allows one worker group at a time.
Cargo is valued in the facility's currency, so no FX rate is needed (``fx.rates`` is shared).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel

from api.requests_out import envelope
from finance.event_json import event_json
from finance.facility_state import new_state
from finance.pledge_engine import EngineInput
from finance.pledge_engine import apply as engine_apply
from tradelane.contracts import (
    Cargo,
    CollateralStatus,
    ConditionProfile,
    Facility,
    Leg,
    Milestone,
    MilestoneReached,
    Money,
    Place,
    PlaceKind,
    ProfileKind,
    ShipmentBooking,
    ShipmentEvent,
    ShipmentStatus,
    TransportMode,
    shipment_event_type,
)
from tradelane.contracts.registries import FxLockTerms
from tradelane.contracts.seller import Choice, ConfirmationTerms, Requester, TrancheDecision
from tradelane.ids import derive_id
from tradelane.topics import (
    FINANCE_EVENTS,
    FINANCE_FACILITIES,
    FINANCE_LEDGER,
    FINANCE_REQUESTS,
    SHIPMENTS_EVENTS,
    SHIPMENTS_REGISTRY,
)

BORROWER = "demo-shipper"
Record = tuple[str, bytes, bytes]
"""topic, key, value"""


@dataclass(frozen=True)
class Story:
    facility_id: str
    lent: str
    """Shipment A: departed, confirmed, lent."""
    awaiting: str
    """Shipment B: departed, its tranche awaits the borrower."""
    upcoming: str
    """Shipment C: departs in three days."""
    t0: datetime

    def at(self, hours: float) -> datetime:
        return self.t0 + timedelta(hours=hours)


def new_story(unique: str, t0: datetime) -> Story:
    return Story(f"fac-sell-{unique}", f"sa-{unique}", f"sb-{unique}", f"sc-{unique}", t0)


def _usd(amount: int) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


def terms(story: Story) -> Facility:
    """USD 1M; 60 % in transit, half of it at departure; each tranche waits 48 h for a yes;
    FX locks offered (so the page shows its FX form; no quote is asked for)."""
    return Facility(
        facility_id=story.facility_id,
        bank_id="demo-bank",
        borrower_id=BORROWER,
        limit=_usd(1_000_000),
        advance_rates={
            CollateralStatus.IN_TRANSIT: Decimal("0.6"),
            CollateralStatus.IN_WAREHOUSE: Decimal("0.8"),
            CollateralStatus.DELIVERED: Decimal(0),
        },
        concentration_limit=Decimal("0.5"),
        margin_call_cure_hours=48,
        drawdown_schedule={
            Milestone.DEPARTED_ORIGIN.value: Decimal("0.5"),
            Milestone.ENTERED_BONDED_WAREHOUSE.value: Decimal(1),
        },
        pledged_shipments=[story.lent, story.awaiting, story.upcoming],
        interest_rate=Decimal("0.0730"),
        confirmation=ConfirmationTerms(window_hours=48),
        reminder_days=3,
        fx_lock=FxLockTerms(spread_bp=25, validity_minutes=30, max_notional=_usd(250_000)),
    )


def _place(code: str, name: str) -> Place:
    return Place(locode=code, name=name, kind=PlaceKind.SEAPORT, lat=1.0, lon=1.0)


def booking(story: Story, shipment_id: str, depart_h: float, value: int) -> ShipmentBooking:
    origin, destination = _place("NLRTM", "Rotterdam"), _place("SGSIN", "Singapore")
    return ShipmentBooking(
        shipment_id=shipment_id,
        shipper=BORROWER,
        consignee="Demo Consignee",
        origin=origin,
        destination=destination,
        legs=[
            Leg(
                mode=TransportMode.SEA,
                origin=origin,
                destination=destination,
                planned_departure=story.at(depart_h),
                planned_arrival=story.at(depart_h + 24 * 18),
            )
        ],
        cargo=Cargo(
            description="Chilled produce", hs_code="080810", quantity=100, value=_usd(value)
        ),
        condition=ConditionProfile(kind=ProfileKind.CHILLED, temp_min_c=2, temp_max_c=8),
        trackers=[f"trk-{shipment_id}"],
        booked_at=story.at(-48),
    )


def departed(story: Story, shipment_id: str, hours: float) -> ShipmentEvent:
    when = story.at(hours)
    data = MilestoneReached(
        milestone=Milestone.DEPARTED_ORIGIN, at=when, status=ShipmentStatus.IN_TRANSIT, in_spec=True
    )
    return ShipmentEvent(
        id=derive_id("seller-story", shipment_id, data.kind, when.isoformat()),
        source="/tradelane/streams",
        type=shipment_event_type(data.kind),
        subject=shipment_id,
        time=when,
        data=data,
    )


def confirm(story: Story, shipment_id: str, hours: float) -> TrancheDecision:
    return TrancheDecision(
        request_id=derive_id("seller-story-click", story.facility_id, shipment_id),
        facility_id=story.facility_id,
        shipment_id=shipment_id,
        milestone=Milestone.DEPARTED_ORIGIN,
        choice=Choice.CONFIRM,
        by=Requester(role="borrower", party=BORROWER),
        at=story.at(hours),
    )


def _record(topic: str, key: str, model: BaseModel) -> Record:
    return topic, key.encode(), model.model_dump_json().encode()


def inputs(story: Story) -> list[tuple[Record, EngineInput]]:
    """The story in the engine's order, each input with its record: terms, bookings, A
    departs and is confirmed (the decision in the envelope the API writes), B departs."""
    facility = terms(story)
    bookings = [
        booking(story, story.lent, 0, 180_000),
        booking(story, story.awaiting, 20, 200_000),
        booking(story, story.upcoming, 24 * 3 + 6, 150_000),
    ]
    a_departs, b_departs = departed(story, story.lent, 1), departed(story, story.awaiting, 20)
    click = confirm(story, story.lent, 2)
    return [
        (_record(FINANCE_FACILITIES.name, story.facility_id, facility), facility),
        *((_record(SHIPMENTS_REGISTRY.name, b.shipment_id, b), b) for b in bookings),
        (_record(SHIPMENTS_EVENTS.name, story.lent, a_departs), a_departs),
        (_record(FINANCE_REQUESTS.name, story.facility_id, envelope(click)), click),
        (_record(SHIPMENTS_EVENTS.name, story.awaiting, b_departs), b_departs),
    ]


def story_records(story: Story) -> list[Record]:
    """Every input on its topic, each followed by what the engine emitted for it."""
    state = new_state(story.facility_id)
    key = story.facility_id.encode()
    records: list[Record] = []
    for record, item in inputs(story):
        records.append(record)
        state, out = engine_apply(state, item)
        records += [(FINANCE_EVENTS.name, key, event_json(e)) for e in out.events]
        records += [(FINANCE_LEDGER.name, key, e.model_dump_json().encode()) for e in out.entries]
    return records
