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
    kind: str
    shipment_id: str
    milestone: str
    amount: str | None
    overdue: bool
    status: Literal["expected", "overdue", "done"]


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
