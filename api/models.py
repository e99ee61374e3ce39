"""Response bodies of the REST API (their JSON Schemas are the OpenAPI document's)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from tradelane.contracts import Facility, LedgerEntry, Policy, ShipmentBooking

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class PlaceOut(BaseModel):
    locode: str
    name: str
    lat: float
    lon: float


class PositionOut(BaseModel):
    lat: float
    lon: float
    at: datetime
    device_id: str
    speed_kmh: float
    heading_deg: float


class ShipmentSummary(BaseModel):
    shipment_id: str
    status: str
    shipper: str | None
    consignee: str | None
    origin: PlaceOut | None
    destination: PlaceOut | None
    planned_arrival: datetime | None
    eta: datetime | None
    flags: list[str]
    alerts: dict[str, int]
    position: PositionOut | None
    last_event_at: datetime | None
    temp_min_c: float | None
    temp_max_c: float | None
    route: list[tuple[float, float]]
    """The planned route as (lat, lon): places and waypoints of every leg, in order."""


class ShipmentDetail(ShipmentSummary):
    booking: ShipmentBooking | None
    last_reading: dict[str, Any] | None
    milestones: dict[str, datetime]
    facilities: list[str]
    policies: list[str]


class EventList(BaseModel):
    shipment_id: str
    items: list[dict[str, Any]]


class SeriesOut(BaseModel):
    shipment_id: str
    start: datetime
    stop: datetime
    resolution_s: int
    aggregate: str
    fields: list[str]
    temp_min_c: float | None = None
    temp_max_c: float | None = None
    points: list[dict[str, float | str | None]]


class LedgerPositionOut(BaseModel):
    """A facility's balances folded from its ledger (``finance.positions``): the figures the
    summary, the ledger view, the chart and the calendar all state."""

    currency: str | None
    outstanding: str = Field(description="Principal outstanding (loan_principal balance)")
    interest_due: str
    borrower_payable: str = Field(description="Received beyond what was owed: the borrower's")
    ledger_entries: int
    ledger_seq: int | None = Field(description="Head of the chain the figures reflect")
    ledger_hash: str
    as_of: datetime | None = Field(description="Event time of the head entry")
    ledger_verified: bool = Field(description="Every entry seen continued the chain")


class FacilitySummary(BaseModel):
    facility_id: str
    bank_id: str | None
    borrower_id: str | None
    currency: str | None
    limit: str | None
    base: str | None
    outstanding: str = Field(description="The ledger's principal (``position.outstanding``)")
    headroom: str | None
    updated_at: datetime | None
    open_margin_calls: int
    pledged_shipments: int
    position: LedgerPositionOut


class HistoryPoint(BaseModel):
    """The position after one ledger entry (one point per entry, in chain order)."""

    at: datetime
    seq: int
    kind: str
    outstanding: str
    interest_due: str


class BasePoint(BaseModel):
    at: datetime
    base: str


class FacilityDetail(FacilitySummary):
    facility: Facility | None
    history: list[HistoryPoint]
    base_history: list[BasePoint]
    drawdowns: list[dict[str, Any]]
    margin_calls: dict[str, str]
    events: list[dict[str, Any]]


class LedgerOut(BaseModel):
    facility_id: str
    entries: list[LedgerEntry]
    unreadable: int
    verified: bool
    head_hash: str | None
    position: LedgerPositionOut | None = None


class CalendarLineOut(BaseModel):
    day: date
    kind: Literal["drawdown", "repayment", "interest"]
    shipment_id: str | None = Field(description="None on interest lines (the facility's)")
    milestone: str | None = Field(description="None on interest lines")
    amount: str | None = Field(description="None when the shipment cannot be valued yet")
    overdue: bool
    status: Literal["expected", "overdue", "done"]
    basis: Literal["reached", "eta", "plan", "delivery_lag", "accrual", "instalment"] = Field(
        description="What dated the line: the actual time, the latest ETA, the booking's "
        "plan, arrival + the delivery lag, the interest accrual, or a staged repayment plan's "
        "instalment due date"
    )
    dated_from: datetime | None = Field(description="The time the line's day derives from")
    eta: datetime | None = Field(description="The reported ETA used, if the day derives from it")
    certainty: Literal["certain", "firm", "estimated"] = Field(
        description="certain: done; firm: dated by an ETA or an actual arrival within "
        "firm_days of the start; estimated: anything else"
    )
    instalment_id: str | None = Field(
        default=None, description="A staged repayment plan's instalment (repayment lines)"
    )


class CalendarDayOut(BaseModel):
    """One day of the window; amounts in the facility currency (see docs/finance.md)."""

    day: date
    opening: str = Field(description="Projected principal at the start of the day")
    drawdowns: str
    repayments: str
    interest: str = Field(description="Accrued at the end of the day on its closing principal")
    outstanding: str = Field(description="Projected principal at the end of the day")
    interest_due: str = Field(description="Projected unpaid interest at the end of the day")
    base: str = Field(description="Projected borrowing base at the end of the day")
    headroom: str = Field(description="min(base, limit) - outstanding")
    due: str = Field(description="Repayments plus the interest they pay first")
    available: str = Field(description="Drawdowns plus the headroom left (none if negative)")
    short: str = Field(description="due - available when positive: a cash gap")
    unpriced: int = Field(description="Lines of the day that could not be priced")


class CalendarWeekOut(BaseModel):
    start: date
    last: date
    drawdowns: str
    repayments: str
    interest: str
    outstanding: str = Field(description="At the end of the week's last day")
    headroom_min: str
    short: str


class CashGapOut(BaseModel):
    day: date
    due: str
    available: str
    short: str


class CalendarOut(BaseModel):
    facility_id: str
    currency: str
    start: date
    end: date
    outstanding: str = Field(description="The ledger's principal, as in the summary")
    base: str
    headroom: str
    position: LedgerPositionOut
    lines: list[CalendarLineOut]
    days: list[CalendarDayOut] = Field(description="Every day of the window, in order")
    weeks: list[CalendarWeekOut] = Field(description="Seven days at a time from the start")
    warnings: list[CashGapOut] = Field(description="The cash-gap days")
    firm_days: int


class ClaimOut(BaseModel):
    claim_id: str
    policy_id: str
    shipment_id: str
    trigger: str
    trigger_kind: str
    status: str
    tier: int
    share: str
    at: datetime
    claim_value: dict[str, Any] | None
    paid_total: dict[str, Any] | None
    evidence: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    events: list[dict[str, Any]]


class PolicyList(BaseModel):
    items: list[Policy]


class Me(BaseModel):
    name: str
    role: str
    party: str | None


class Health(BaseModel):
    status: str
    records: int | None = Field(default=None, description="Kafka records folded so far")
