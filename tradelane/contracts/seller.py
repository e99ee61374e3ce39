"""The seller's side of a facility on the wire: confirming tranches and being reminded.

A facility may ask its borrower (the seller) to confirm each milestone tranche
(:class:`ConfirmationTerms` on ``Facility.confirmation``). The seller answers from the API with
a :class:`TrancheDecision` - confirm, decline, or change the amount - before or after the
milestone is reached; the API writes it to ``finance.requests`` (the API may request, never
command: ``finance.commands`` stays the worker's), and the pledge engine applies it to the
facility's tranche of that (shipment, milestone):

* decided before the milestone: the tranche is executed, skipped or resized the minute the
  milestone is reached (the rules still apply: headroom, condition, freeze);
* not decided when the milestone is reached: the tranche waits
  (:class:`TrancheAwaitingConfirmation`) until the decision or its deadline
  (``ConfirmationTerms.window_hours`` after the milestone); at the deadline it is skipped, or
  executed if the terms say so.

Every decision carries a ``request_id``; the engine applies each id once, and a tranche is
executed at most once whatever arrives, so the same click twice moves money once. The outcome
of each decision is a :class:`TrancheDecisionRecorded` on ``finance.events`` with a
:class:`DecisionCode`.

:class:`FundingReminder` tells the seller, ``Facility.reminder_days`` ahead (by event time), of a
drawdown or a repayment it can expect; it is sent again only when the line's date moves by
more than a day.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from tradelane.contracts.base import Contract, UtcDatetime
from tradelane.contracts.events import Milestone
from tradelane.contracts.money import Money
from tradelane.contracts.shipments import ShipmentId

FacilityKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
RequestId = Annotated[str, Field(min_length=1, max_length=128)]


class ConfirmationTerms(Contract):
    """Tranches of the facility wait for the borrower's confirmation."""

    window_hours: Annotated[
        int, Field(ge=1, le=24 * 30, description="Hours after the milestone to decide")
    ] = 48
    on_deadline: Literal["skip", "execute"] = Field(
        default="skip",
        description="What an undecided tranche does at its deadline: skip (the safe default: "
        "no loan without the borrower's yes) or execute",
    )


class Choice(StrEnum):
    CONFIRM = "confirm"
    DECLINE = "decline"
    CHANGE_AMOUNT = "change_amount"


class Requester(Contract):
    """Who asked, as the API authenticated it; the engine checks it against the terms."""

    role: Literal["operator", "borrower", "bank"]
    party: Annotated[str | None, Field(max_length=64)] = None


class TrancheDecision(Contract):
    """The borrower's answer for the tranche of (shipment, milestone)."""

    kind: Literal["tranche_decision"] = "tranche_decision"
    request_id: RequestId
    facility_id: FacilityKey
    shipment_id: ShipmentId
    milestone: Milestone
    choice: Choice
    amount: Money | None = Field(
        default=None,
        description="change_amount: the most to draw (at most the tranche the rules allow)",
    )
    by: Requester
    at: UtcDatetime = Field(description="When the API received the decision")
    fx_quote_id: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=64,
            description="confirm or change_amount: pay the tranche out in this FX lock "
            "quote's currency at its locked rate (a drawdown_payout quote of the facility, "
            "valid when the tranche executes); the loan stays in the facility currency",
        ),
    ] = None

    @model_validator(mode="after")
    def _amount_with_change(self) -> TrancheDecision:
        if (self.choice is Choice.CHANGE_AMOUNT) != (self.amount is not None):
            raise ValueError("an amount is given with change_amount, and only then")
        if self.amount is not None and self.amount.amount <= 0:
            raise ValueError("the changed amount must be positive (decline to draw nothing)")
        if self.choice is Choice.DECLINE and self.fx_quote_id is not None:
            raise ValueError("a declined tranche pays nothing out: no fx_quote_id")
        return self


class DecisionCode(StrEnum):
    """What became of a decision (first applicable wins)."""

    RECORDED = "recorded"
    """Before the milestone: it will apply when the milestone is reached."""
    EXECUTED = "executed"
    DECLINED = "declined"
    NOT_EXECUTED = "not_executed"
    """Confirmed, but the rules refused the tranche (see the DrawdownRejected)."""
    ALREADY_APPLIED = "already_applied"
    NOT_AUTHORISED = "not_authorised"
    CONFIRMATION_NOT_REQUIRED = "confirmation_not_required"
    NOT_SCHEDULED = "not_scheduled"
    ALREADY_DECIDED = "already_decided"
    """The tranche was executed, declined or expired: nothing changes it any more."""
    DEADLINE_PASSED = "deadline_passed"
    CURRENCY_MISMATCH = "currency_mismatch"


class TrancheAwaitingConfirmation(Contract):
    """A milestone was reached and its tranche passed the rules; it waits for the borrower."""

    kind: Literal["tranche_awaiting_confirmation"] = "tranche_awaiting_confirmation"
    facility_id: FacilityKey
    shipment_id: ShipmentId
    milestone: Milestone
    amount: Money = Field(description="The tranche the rules allow now")
    deadline: UtcDatetime
    on_deadline: Literal["skip", "execute"]
    at: UtcDatetime


class TrancheDecisionRecorded(Contract):
    """The outcome of one :class:`TrancheDecision`."""

    kind: Literal["tranche_decision_recorded"] = "tranche_decision_recorded"
    facility_id: FacilityKey
    shipment_id: ShipmentId
    milestone: Milestone
    request_id: RequestId
    choice: Choice
    amount: Money | None = None
    code: DecisionCode
    at: UtcDatetime


class TrancheExpired(Contract):
    """No decision came by the deadline: the tranche was skipped or executed as the terms say."""

    kind: Literal["tranche_expired"] = "tranche_expired"
    facility_id: FacilityKey
    shipment_id: ShipmentId
    milestone: Milestone
    deadline: UtcDatetime
    outcome: Literal["skipped", "executed", "not_executed"]
    at: UtcDatetime


class FundingReminder(Contract):
    """A drawdown or repayment the borrower can expect within ``reminder_days``."""

    kind: Literal["funding_reminder"] = "funding_reminder"
    facility_id: FacilityKey
    shipment_id: ShipmentId
    line: Literal["drawdown", "repayment"]
    milestone: Milestone
    expected_on: date
    amount: Money | None = Field(description="Estimated now; None when it cannot be valued")
    basis: Literal["eta", "plan", "reached"] = Field(
        description="What dates it: the latest ETA, the booking's plan, or a milestone reached"
    )
    needs_confirmation: bool = False
    previous_expected_on: date | None = Field(
        default=None, description="Set when this re-sends a line whose date moved"
    )
    instalment_id: str | None = Field(
        default=None, description="A staged repayment plan's instalment (repayment lines)"
    )
    at: UtcDatetime


# --- staged repayment plans: delay requests -------------------------------------------------

InstalmentId = Annotated[str, Field(min_length=1, max_length=64)]


class RepaymentDelayRequested(Contract):
    """The borrower asks the bank to move one instalment of a shipment's repayment plan to a
    later due date. Nothing changes until the bank approves (:class:`RepaymentDelayDecided`);
    the request is held on the shipment's record, once per ``request_id``."""

    kind: Literal["repayment_delay_requested"] = "repayment_delay_requested"
    request_id: RequestId
    facility_id: FacilityKey
    shipment_id: ShipmentId
    instalment_id: InstalmentId
    new_due: UtcDatetime = Field(description="The due date asked for (later than the current)")
    reason: Annotated[str, Field(max_length=500)] = ""
    by: Requester
    at: UtcDatetime = Field(description="When the API received the request")


class RepaymentDelayDecided(Contract):
    """The bank's (or an operator's) answer to a :class:`RepaymentDelayRequested`."""

    kind: Literal["repayment_delay_decided"] = "repayment_delay_decided"
    request_id: RequestId
    facility_id: FacilityKey
    shipment_id: ShipmentId
    delay_request_id: RequestId = Field(description="The borrower's request this answers")
    approve: bool
    by: Requester
    at: UtcDatetime = Field(description="When the API received the decision")


class DelayCode(StrEnum):
    """What became of a delay request or decision (first applicable wins)."""

    REQUESTED = "requested"
    """The borrower's request is held for the bank's decision."""
    APPROVED = "approved"
    """The instalment falls due at the new date."""
    REFUSED = "refused"
    """The bank said no: the instalment keeps its due date."""
    ALREADY_APPLIED = "already_applied"
    NOT_AUTHORISED = "not_authorised"
    NO_PLAN = "no_plan"
    """The shipment has no repayment plan (not started, or the facility has none)."""
    UNKNOWN_INSTALMENT = "unknown_instalment"
    INSTALMENT_PAID = "instalment_paid"
    NOT_LATER = "not_later"
    """The new due date is not later than the instalment's current one."""
    UNKNOWN_REQUEST = "unknown_request"
    ALREADY_DECIDED = "already_decided"


class RepaymentDelayRecorded(Contract):
    """The outcome of one delay request or decision, on ``finance.events``."""

    kind: Literal["repayment_delay_recorded"] = "repayment_delay_recorded"
    facility_id: FacilityKey
    shipment_id: ShipmentId
    request_id: RequestId
    delay_request_id: RequestId | None = Field(
        default=None, description="For a decision: the borrower's request it answered"
    )
    instalment_id: InstalmentId | None = None
    decision: Literal["requested", "approved", "refused"]
    new_due: UtcDatetime | None = None
    due_after: UtcDatetime | None = Field(
        default=None, description="The instalment's due date after this outcome"
    )
    code: DelayCode
    at: UtcDatetime
