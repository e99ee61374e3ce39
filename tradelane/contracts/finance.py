"""Inventory-pledge finance on the wire: the pledge engine's events (``finance.events``), the
commands it accepts (``finance.commands``), its hash-chained ledger (``finance.ledger``) and
the signed checkpoints of that ledger (``finance.checkpoints``).

Events and commands are discriminated unions on ``kind``, like shipment events. Envelopes carry
``type = tradelane.finance.{kind}.v1`` (events) or ``tradelane.finance.command.{kind}.v1``
(commands), ``subject = facility_id`` and an ``id`` derived from the cause, so the same input
processed twice produces the same ids.

Every amount is a Decimal with a currency, serialised as a string; the ledger never holds a
float. Result codes are declared in precedence order: when several rules reject a request, the
first of them in this order is the one reported (see docs/finance.md).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from tradelane.contracts.base import Contract, UtcDatetime
from tradelane.contracts.credit import AdvanceRatesChanged, CreditScoreChanged
from tradelane.contracts.envelope import Envelope
from tradelane.contracts.events import Milestone
from tradelane.contracts.fx_quotes import (
    FxQuoteIssued,
    FxQuoteNotHonoured,
    FxQuoteRefused,
    FxQuoteRequested,
)
from tradelane.contracts.money import Amount, Currency, Fraction, Money, Rate
from tradelane.contracts.plans import (
    DefaultInterestAccrued,
    InstalmentOverdue,
    InstalmentPaid,
    RepaymentPlanSet,
)
from tradelane.contracts.registries import CollateralStatus, DayCount
from tradelane.contracts.seller import (
    FundingReminder,
    RepaymentDelayDecided,
    RepaymentDelayRecorded,
    RepaymentDelayRequested,
    TrancheAwaitingConfirmation,
    TrancheDecision,
    TrancheDecisionRecorded,
    TrancheExpired,
)
from tradelane.contracts.shipments import ShipmentId

FINANCE_EVENT_SOURCE = "/tradelane/finance"
FacilityId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
CauseId = Annotated[str, Field(min_length=1, max_length=128)]
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
GENESIS_HASH = "0" * 64
"""``prev_hash`` of a facility's first ledger entry."""


class ResultCode(StrEnum):
    """Outcome of a drawdown or repayment, in precedence order (first applicable wins)."""

    OK = "ok"
    FACILITY_UNKNOWN = "facility_unknown"
    INVALID_AMOUNT = "invalid_amount"
    ALREADY_APPLIED = "already_applied"
    ALREADY_DRAWN = "already_drawn"
    SHIPMENT_NOT_PLEDGED = "shipment_not_pledged"
    COLLATERAL_ALREADY_PLEDGED = "collateral_already_pledged"
    MILESTONE_NOT_SCHEDULED = "milestone_not_scheduled"
    MILESTONE_NOT_REACHED = "milestone_not_reached"
    FACILITY_FROZEN = "facility_frozen"
    CARGO_IMPAIRED = "cargo_impaired"
    TRACKER_UNHEALTHY = "tracker_unhealthy"
    FX_RATE_MISSING = "fx_rate_missing"
    NOTHING_TO_DRAW = "nothing_to_draw"
    EXCEEDS_HEADROOM = "exceeds_headroom"
    EXCEEDS_LIMIT = "exceeds_limit"
    NOTHING_OWED = "nothing_owed"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    """The tranche passed every rule and waits for the borrower (``Facility.confirmation``)."""
    DECLINED_BY_BORROWER = "declined_by_borrower"
    CONFIRMATION_EXPIRED = "confirmation_expired"


class AppliedFx(Contract):
    """The rate an amount was converted with: 1 ``base`` = ``rate`` ``quote``.

    Same-currency amounts carry ``rate = 1`` and no ``as_of``, so every posting states its rate.
    A rate the borrower locked carries its ``quote_id`` (``rate`` is then the quote's all-in
    rate); without one the field is left out of the JSON altogether, so every posting written
    before quotes existed serialises, and hashes, byte for byte as it did.
    """

    base: Currency
    quote: Currency
    rate: Rate
    as_of: UtcDatetime | None = None
    via: Annotated[Currency | None, Field(description="Cross currency, if triangulated")] = None
    quote_id: Annotated[
        str | None,
        Field(max_length=64, description="The FX lock quote whose all-in rate this is"),
    ] = None

    @model_serializer(mode="wrap")
    def _no_absent_quote(self, handler: SerializerFunctionWrapHandler) -> Any:
        """Leave ``quote_id`` out when there is none (ledger hashes stay as they were)."""
        data = handler(self)
        if isinstance(data, dict) and data.get("quote_id", "") is None:
            del data["quote_id"]
        return data


# --- ledger ---------------------------------------------------------------------------------


class LedgerAccount(StrEnum):
    """The bank's books for one facility."""

    LOAN_PRINCIPAL = "loan_principal"
    """Asset: principal lent to the borrower (debit raises)."""
    INTEREST_RECEIVABLE = "interest_receivable"
    """Asset: interest accrued and not yet paid (debit raises)."""
    INTEREST_INCOME = "interest_income"
    """Income: interest earned (credit raises)."""
    FUNDING = "funding"
    """Asset: the bank's settlement account (credit: cash out to the borrower; debit: cash in)."""
    BORROWER_PAYABLE = "borrower_payable"
    """Liability: cash received for the borrower beyond what it owed (a payout or proceeds
    larger than principal and interest), held for the borrower (credit raises)."""


class Direction(StrEnum):
    DEBIT = "debit"
    CREDIT = "credit"


class LedgerEntryKind(StrEnum):
    DRAWDOWN = "drawdown"
    REPAYMENT = "repayment"
    INTEREST = "interest"
    INTEREST_ADJUSTMENT = "interest_adjustment"
    """A back-dated repayment's correction of the days closed after its value date (and of
    the split of repayments booked after it): interest income up or down, and what the
    later repayments' waterfall moves between interest, principal and the borrower."""
    DEFAULT_INTEREST = "default_interest"
    """A day's penalty interest on instalments of a repayment plan in default (past due and
    grace): interest receivable and interest income, like ``interest``, on its own id."""


class Payout(Contract):
    """Cash that left in another currency than the facility's: a tranche paid out at the
    borrower's locked FX quote (``fx.quote_id``): ``amount`` = the posting's amount x
    ``fx.rate``, half-even to ``amount``'s minor unit."""

    amount: Money
    fx: AppliedFx


class Posting(Contract):
    """One leg of a double-entry transaction, in the facility currency.

    ``payout`` is set on the funding credit of a tranche paid out in another currency at a
    locked quote (what the cash that left was, in the currency it left in); it is left out of
    the JSON when there is none, so every posting written before payouts existed serialises,
    and hashes, byte for byte as it did.
    """

    posting_id: Annotated[str, Field(min_length=1, max_length=64)]
    account: LedgerAccount
    direction: Direction
    amount: Annotated[Amount, Field(gt=0)]
    currency: Currency
    fx: AppliedFx
    cause_event_id: CauseId
    payout: Payout | None = None

    @model_serializer(mode="wrap")
    def _no_absent_payout(self, handler: SerializerFunctionWrapHandler) -> Any:
        """Leave ``payout`` out when there is none (ledger hashes stay as they were)."""
        data = handler(self)
        if isinstance(data, dict) and data.get("payout", "") is None:
            del data["payout"]
        return data


class LedgerEntry(Contract):
    """One balanced transaction of one facility, chained to the entry before it.

    ``hash`` is SHA-256 over ``prev_hash`` and the canonical JSON of every other field (see
    ``finance.ledger``), so changing any stored field, or any earlier entry, breaks the chain.
    """

    schema_version: Literal[1] = 1
    facility_id: FacilityId
    seq: Annotated[int, Field(ge=0, description="Position in the facility's chain, from 0")]
    entry_id: Annotated[str, Field(min_length=1, max_length=64)]
    kind: LedgerEntryKind
    cause_event_id: CauseId
    at: Annotated[UtcDatetime, Field(description="Event time of the cause")]
    postings: Annotated[list[Posting], Field(min_length=2)]
    prev_hash: Sha256Hex
    hash: Sha256Hex


CHECKPOINT_ALGORITHM: Literal["ed25519"] = "ed25519"
KeyId = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]
"""A signing key's id: the first 16 hex digits of SHA-256 over its raw 32-byte public key."""
Ed25519Signature = Annotated[str, Field(pattern=r"^[A-Za-z0-9+/]{86}==$")]
"""A 64-byte Ed25519 signature, standard base64 with padding."""


class LedgerCheckpoint(Contract):
    """A facility's chain head, signed (``finance.checkpoints``, key ``facility_id``).

    The worker signs one for a facility's new head whenever a batch appended entries to its
    chain, in the same Kafka transaction as those entries. ``signature`` is Ed25519 over
    ``"tradelane-ledger-checkpoint\n"`` followed by the canonical JSON of every other field
    (sorted keys, no whitespace, as for ledger hashes; see ``finance.checkpoints`` and
    docs/finance.md), so a holder of the public key verifies it in any language. The head
    hash covers every entry up to ``seq``: a verified checkpoint vouches for the whole chain
    before it. Everything here derives from the chain (``at`` is the head entry's event
    time) and Ed25519 signatures are deterministic, so a re-run step writes the same bytes.
    """

    schema_version: Literal[1] = 1
    checkpoint_id: Annotated[
        str, Field(min_length=1, max_length=64, description="derive_id of (facility, seq)")
    ]
    facility_id: FacilityId
    seq: Annotated[int, Field(ge=0, description="The head entry's position in the chain")]
    head_hash: Annotated[Sha256Hex, Field(description="The head entry's hash")]
    entry_count: Annotated[int, Field(ge=1, description="Entries covered: seq + 1")]
    at: Annotated[UtcDatetime, Field(description="Event time of the head entry")]
    algorithm: Literal["ed25519"] = CHECKPOINT_ALGORITHM
    key_id: KeyId
    signature: Ed25519Signature


# --- events ---------------------------------------------------------------------------------


class CollateralLine(Contract):
    """One pledged shipment's contribution to the borrowing base."""

    shipment_id: ShipmentId
    status: CollateralStatus | None
    value: Money | None = Field(description="Cargo value in the facility currency")
    advance_rate: Fraction
    haircut: Fraction
    eligible: Money = Field(description="value x advance x (1 - haircut), concentration-capped")


class DrawdownExecuted(Contract):
    kind: Literal["drawdown_executed"] = "drawdown_executed"
    facility_id: FacilityId
    shipment_id: ShipmentId
    milestone: Milestone
    drawdown_id: str
    amount: Money
    share: Fraction
    headroom_before: Money
    outstanding_after: Money
    fx: AppliedFx
    at: UtcDatetime
    ledger_seq: Annotated[int, Field(ge=0)]
    ledger_hash: Sha256Hex
    payout: Money | None = Field(
        default=None,
        description="The tranche paid out in another currency at a locked FX quote: amount x "
        "the quote's all-in rate, half-even to the payout currency's minor unit (the loan "
        "stays in the facility currency)",
    )
    payout_quote_id: Annotated[
        str | None, Field(max_length=64, description="The FX lock quote the payout used")
    ] = None


class DrawdownRejected(Contract):
    kind: Literal["drawdown_rejected"] = "drawdown_rejected"
    facility_id: FacilityId
    shipment_id: ShipmentId
    milestone: Milestone
    code: ResultCode
    requested: Money | None = None
    headroom: Money | None = None
    at: UtcDatetime


class BorrowingBaseChanged(Contract):
    kind: Literal["borrowing_base_changed"] = "borrowing_base_changed"
    facility_id: FacilityId
    at: UtcDatetime
    base: Money
    previous_base: Money
    outstanding: Money
    headroom: Money = Field(description="min(base, limit) - outstanding; negative when short")
    collateral: list[CollateralLine]


class MarginCallIssued(Contract):
    kind: Literal["margin_call_issued"] = "margin_call_issued"
    facility_id: FacilityId
    margin_call_id: str
    at: UtcDatetime
    due_at: UtcDatetime
    shortfall: Money
    outstanding: Money
    base: Money


class MarginCallCured(Contract):
    kind: Literal["margin_call_cured"] = "margin_call_cured"
    facility_id: FacilityId
    margin_call_id: str
    at: UtcDatetime
    cured_by: Literal["repayment", "collateral"]
    outstanding: Money
    base: Money


class MarginCallExpired(Contract):
    """The cure period ran out with the shortfall still open: an event of default."""

    kind: Literal["margin_call_expired"] = "margin_call_expired"
    facility_id: FacilityId
    margin_call_id: str
    at: UtcDatetime
    due_at: UtcDatetime
    shortfall: Money


class RepaymentSource(StrEnum):
    DELIVERY = "delivery"
    SALE = "sale"
    BORROWER = "borrower"
    INSURANCE = "insurance"


class RepaymentApplied(Contract):
    kind: Literal["repayment_applied"] = "repayment_applied"
    facility_id: FacilityId
    shipment_id: ShipmentId | None
    cause_id: CauseId
    source: RepaymentSource
    received: Money = Field(description="As received, in its own currency")
    fx: AppliedFx
    interest_paid: Money
    principal_paid: Money
    surplus: Money = Field(description="Left over after interest and principal: the borrower's")
    outstanding_after: Money
    at: UtcDatetime
    ledger_seq: Annotated[int | None, Field(ge=0)] = None
    ledger_hash: Sha256Hex | None = None


class RepaymentRejected(Contract):
    kind: Literal["repayment_rejected"] = "repayment_rejected"
    facility_id: FacilityId
    cause_id: CauseId
    code: ResultCode
    at: UtcDatetime


class PledgeCode(StrEnum):
    """What the collateral register decided about one pledge of a shipment's cargo."""

    PLEDGE_ACCEPTED = "pledge_accepted"
    """The whole pledged value fits in what no earlier pledge holds."""
    PLEDGE_CAPPED_TO_CARGO_VALUE = "pledge_capped_to_cargo_value"
    """Only part of it does: the pledge secures the cargo value earlier pledges left."""
    COLLATERAL_ALREADY_PLEDGED = "collateral_already_pledged"
    """Earlier pledges hold the whole cargo value: the pledge secures nothing."""
    PLEDGE_CURRENCY_MISMATCH = "pledge_currency_mismatch"
    """The pledged amount is not in the cargo's currency: the pledge secures nothing."""


class PledgeDecided(Contract):
    """The collateral register's decision on a pledge of a shipment's cargo, as one facility
    sees it (schema version 1 of the ``pledge_decided`` kind).

    ``concerns = own_pledge``: this facility's own pledge was decided and ``granted`` is what it
    secures now (the engine values the shipment at most at ``granted``). ``later_pledge``: a
    later pledge of the same cargo, to another facility, was capped or refused; this
    facility's pledge is unchanged (``granted`` states it again). Both facilities' records of
    one decision carry the same ``decision_id`` and ``code``; neither names the other
    facility, its bank or its terms: ``pledged_elsewhere`` is all of the others' share either
    learns. The register also emits this record as the pledge engine's input (on the
    worker's routing topic); the engine publishes it on ``finance.events`` unchanged.
    """

    kind: Literal["pledge_decided"] = "pledge_decided"
    facility_id: FacilityId
    shipment_id: ShipmentId
    decision_id: Annotated[str, Field(min_length=1, max_length=64)]
    concerns: Literal["own_pledge", "later_pledge"]
    code: PledgeCode
    cargo_value: Money = Field(description="The cargo's value the register decided on")
    requested: Money | None = Field(
        description="What this facility's terms pledge; None: the whole cargo value"
    )
    granted: Money = Field(description="The part of the cargo value this facility's pledge secures")
    pledged_elsewhere: Money = Field(
        description="The part of the cargo value other facilities' pledges secure"
    )
    at: UtcDatetime


class InterestAccrued(Contract):
    kind: Literal["interest_accrued"] = "interest_accrued"
    facility_id: FacilityId
    day: date
    principal: Money
    annual_rate: Fraction
    day_count: DayCount
    amount: Money
    interest_due_after: Money
    at: UtcDatetime
    ledger_seq: Annotated[int, Field(ge=0)]
    ledger_hash: Sha256Hex


class AdjustedDay(Contract):
    """One closed day whose end-of-day principal a value-dated movement changed."""

    day: date
    annual_rate: Fraction
    day_count: DayCount
    principal_before: Money = Field(description="End-of-day principal as booked before")
    principal_after: Money = Field(description="End-of-day principal as of the value date on")
    interest_before: Money
    interest_after: Money


class ResplitRepayment(Contract):
    """A repayment booked after the value date whose waterfall the value-dated one changed
    (it took interest that the later one had paid, or principal it had repaid)."""

    cause_id: CauseId
    at: UtcDatetime
    interest_before: Money
    interest_after: Money
    principal_before: Money
    principal_after: Money
    surplus_before: Money
    surplus_after: Money


class InterestAdjusted(Contract):
    """A repayment or a tranche arrived after the facility clock had closed days past its
    event time (an insurer's payout whose evidence came late, a milestone another shipment's
    later events overtook): it is booked as of its event time, and this correction, posted as
    an ``interest_adjustment`` ledger entry, makes the books what an event-time-ordered run
    would have booked, to the cent.

    ``amount`` is the change of interest income (negative: the days after the value date
    carried less principal); ``principal_change`` and ``surplus_change`` are what the
    re-split later repayments move (``principal_change`` negative: more principal repaid).
    The sum of every ``InterestAccrued.amount`` and ``InterestAdjusted.amount`` is the
    facility's interest income."""

    kind: Literal["interest_adjusted"] = "interest_adjusted"
    facility_id: FacilityId
    cause_id: CauseId = Field(
        description="The value-dated repayment's cause id, or the tranche's drawdown_id"
    )
    value_date: UtcDatetime = Field(description="Its event time, as of which it is booked")
    booked_at: UtcDatetime = Field(description="The facility clock when it was booked")
    amount: Money = Field(description="Change of interest income (signed)")
    principal_change: Money = Field(description="Change of outstanding principal (signed)")
    surplus_change: Money = Field(description="Change of what is held for the borrower (signed)")
    interest_due_after: Money
    outstanding_after: Money
    days: list[AdjustedDay]
    repayments: list[ResplitRepayment]
    at: UtcDatetime = Field(description="The value date (the ledger entry's event time)")
    ledger_seq: Annotated[int, Field(ge=0)]
    ledger_hash: Sha256Hex


class ValueDateLimited(Contract):
    """A repayment's event time lies before the window of closed days the facility keeps
    (``window_from``): it is booked at the facility clock instead, and the days between its
    event time and the clock keep the interest they were booked with."""

    kind: Literal["value_date_limited"] = "value_date_limited"
    facility_id: FacilityId
    cause_id: CauseId
    value_date: UtcDatetime = Field(description="The repayment's event time")
    window_from: UtcDatetime = Field(description="The earliest time the facility can book at")
    window_days: Annotated[int, Field(ge=1)]
    at: UtcDatetime = Field(description="The facility clock: what it was booked at")


FinanceEventData = Annotated[
    DrawdownExecuted
    | DrawdownRejected
    | BorrowingBaseChanged
    | MarginCallIssued
    | MarginCallCured
    | MarginCallExpired
    | RepaymentApplied
    | RepaymentRejected
    | InterestAccrued
    | InterestAdjusted
    | ValueDateLimited
    | PledgeDecided
    | TrancheAwaitingConfirmation
    | TrancheDecisionRecorded
    | TrancheExpired
    | FundingReminder
    | RepaymentPlanSet
    | InstalmentPaid
    | InstalmentOverdue
    | DefaultInterestAccrued
    | RepaymentDelayRecorded
    | AdvanceRatesChanged
    | CreditScoreChanged
    | FxQuoteIssued
    | FxQuoteRefused
    | FxQuoteNotHonoured,
    Field(discriminator="kind"),
]

FinanceEvent = Envelope[FinanceEventData]
"""The value of ``finance.events``: a CloudEvents envelope around one finance event."""


def finance_event_type(kind: str) -> str:
    """The envelope ``type`` for a finance event kind."""
    return f"tradelane.finance.{kind}.v1"


# --- commands -------------------------------------------------------------------------------


class DrawdownRequested(Contract):
    """The borrower asks for a milestone's tranche (facilities without auto-drawdown, or a
    retry after a rejection). ``request_id`` makes the request idempotent."""

    kind: Literal["drawdown_requested"] = "drawdown_requested"
    request_id: CauseId
    facility_id: FacilityId
    shipment_id: ShipmentId
    milestone: Milestone
    at: UtcDatetime


class RepaymentReceived(Contract):
    """Cash received for the facility from outside the engine: the borrower, or an insurance
    payout whose loss payee is the lender. ``cause_id`` (e.g. the claim payout id) is applied
    at most once per facility, so delivering the command twice cannot repay twice."""

    kind: Literal["repayment_received"] = "repayment_received"
    facility_id: FacilityId
    shipment_id: ShipmentId | None = None
    amount: Money
    cause_id: CauseId
    source: RepaymentSource = RepaymentSource.BORROWER
    at: UtcDatetime
    fx_quote_id: Annotated[
        str | None,
        Field(
            max_length=64,
            description="An FX lock quote of the facility to convert at (see FxQuoteIssued)",
        ),
    ] = None


class SaleReported(Contract):
    """Pledged goods were sold: the proceeds repay the facility and the goods leave the base."""

    kind: Literal["sale_reported"] = "sale_reported"
    facility_id: FacilityId
    shipment_id: ShipmentId
    proceeds: Money
    cause_id: CauseId
    at: UtcDatetime


class DayTick(Contract):
    """Event time has reached ``at``: close the days before it (interest) and expire margin
    calls whose cure period ended. A scheduler sends one a day per facility."""

    kind: Literal["day_tick"] = "day_tick"
    facility_id: FacilityId
    at: UtcDatetime


FinanceCommandData = Annotated[
    DrawdownRequested
    | RepaymentReceived
    | SaleReported
    | DayTick
    | TrancheDecision
    | RepaymentDelayRequested
    | RepaymentDelayDecided
    | FxQuoteRequested,
    Field(discriminator="kind"),
]

FinanceCommand = Envelope[FinanceCommandData]
"""The value of ``finance.commands``: a CloudEvents envelope around one command."""

FinanceRequestData = Annotated[
    TrancheDecision | RepaymentDelayRequested | RepaymentDelayDecided | FxQuoteRequested,
    Field(discriminator="kind"),
]
"""What the API may ask of a facility's engine on the borrower's or bank's behalf: a subset of
the commands, so a request can never be a repayment, a sale or a clock tick."""

FinanceRequest = Envelope[FinanceRequestData]
"""The value of ``finance.requests``: a CloudEvents envelope around one request, written by
the API (:mod:`tradelane.contracts.seller`)."""


def finance_command_type(kind: str) -> str:
    """The envelope ``type`` for a finance command kind."""
    return f"tradelane.finance.command.{kind}.v1"
