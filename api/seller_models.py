"""The seller's endpoints on the wire: tranches to confirm, decisions, reminders."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from tradelane.contracts.seller import Choice


class TrancheOut(BaseModel):
    """One tranche of a pledged shipment as the borrower sees it."""

    shipment_id: str
    milestone: str
    state: Literal[
        "upcoming",
        "awaiting",
        "recorded",
        "executed",
        "declined",
        "expired",
        "not_executed",
        "rejected",
    ] = Field(
        description="upcoming: expected, not reached; awaiting: reached, waits for a decision "
        "until deadline; recorded: decided before the milestone; then the outcome"
    )
    amount: str | None = Field(description="The tranche: expected, waiting or lent")
    expected_on: date | None = Field(description="Upcoming: the calendar's date")
    certainty: str | None = None
    deadline: datetime | None = None
    choice: Choice | None = Field(description="The borrower's decision held, if any")
    chosen_amount: str | None = None
    code: str | None = Field(description="The engine's last word on it (a result code)")
    fx_quote_id: str | None = Field(
        default=None, description="The locked quote the decision held pays the tranche out at"
    )
    can_decide: bool = Field(description="Whether a decision can still change it")
    at: datetime | None = None
    pending_request_id: str | None = Field(
        default=None, description="A decision sent and not yet answered by the engine"
    )
    pending_choice: Choice | None = None
    requested_at: datetime | None = None


class TrancheList(BaseModel):
    facility_id: str
    currency: str
    confirmation_required: bool
    window_hours: int | None
    on_deadline: Literal["skip", "execute"] | None
    items: list[TrancheOut]


class DecisionIn(BaseModel):
    """One click: confirm, decline, or change the amount (the most to draw)."""

    model_config = ConfigDict(extra="forbid")

    choice: Choice
    amount: Annotated[
        Decimal | None,
        Field(gt=0, max_digits=18, decimal_places=2, description="change_amount only"),
    ] = None
    fx_quote_id: Annotated[
        str | None,
        Field(
            max_length=64,
            description="Pay the tranche out at this locked drawdown_payout quote (confirm or "
            "change_amount; see GET .../fx-quotes)",
        ),
    ] = None


class DecisionAccepted(BaseModel):
    request_id: str = Field(description="The same click twice has the same id")
    facility_id: str
    shipment_id: str
    milestone: str
    choice: Choice
    amount: str | None
    at: datetime = Field(description="The time the decision is stamped with")
    status: Literal["queued"] = "queued"
    see: str = Field(description="Where the outcome appears")


class ReminderOut(BaseModel):
    shipment_id: str
    line: Literal["drawdown", "repayment"]
    milestone: str
    expected_on: date
    amount: str | None
    basis: str
    needs_confirmation: bool
    previous_expected_on: date | None
    at: datetime


class ReminderList(BaseModel):
    facility_id: str
    reminder_days: int
    upcoming: list[ReminderOut] = Field(
        description="Latest reminder per line still ahead whose milestone is not reached"
    )
    recent: list[ReminderOut] = Field(description="Every reminder kept, newest first")
