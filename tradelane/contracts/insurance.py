"""Parametric insurance on the wire: claim events (``insurance.claims``) and the insurer's
decisions on claims held for review (``insurance.commands``).

Claim events are a discriminated union on ``kind``, like shipment events. Envelopes carry
``type = tradelane.insurance.{kind}.v1``, ``subject = policy_id`` and an ``id`` derived from
(claim, kind, share), so re-processing the same shipment events yields the same ids and a
consumer can de-duplicate on them.

A claim exists at most once per (policy, trigger): its id is derived from both. It moves
``raised -> approved -> paid`` when its evidence passes the policy's data-quality gate, or
``raised -> needs_review -> approved -> paid | rejected`` when an insurer must decide. Reaching
a higher payout tier upgrades the same claim; it never opens a second one.

``ClaimPaid.cause_id`` is the one id a payment is known by downstream: when the loss payee is
the lender, the pledge engine books the repayment under it, so a redelivered ``ClaimPaid``
cannot repay twice.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from tradelane.contracts.base import Contract, UtcDatetime
from tradelane.contracts.envelope import Envelope
from tradelane.contracts.events import Evidence
from tradelane.contracts.money import Fraction, Money
from tradelane.contracts.readings import DeviceId
from tradelane.contracts.registries import PartyId, TriggerKind
from tradelane.contracts.shipments import ShipmentId

INSURANCE_EVENT_SOURCE = "/tradelane/finance/insurance"

PolicyId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
FacilityRef = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
ClaimId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$", description="derive_id of the cause")]
TriggerKey = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,31}$",
        description="The trigger's id within its policy, or its kind (numbered when repeated)",
    ),
]
CommandId = Annotated[str, Field(min_length=1, max_length=128)]


class MeasureUnit(StrEnum):
    """The unit a trigger's measure (and its tier thresholds) are in."""

    MINUTES = "minutes"
    G = "g"
    EVENTS = "events"
    HOURS = "hours"
    KM = "km"


class GateCode(StrEnum):
    """Why evidence failed the data-quality gate (see docs/insurance.md)."""

    NO_EVIDENCE = "no_evidence"
    INCONSISTENT = "inconsistent"
    FOREIGN_DEVICE = "foreign_device"
    TOO_FEW_READINGS = "too_few_readings"
    GAP = "gap"
    CLOCK = "clock"
    FIX = "fix"
    HDOP = "hdop"
    COVERAGE = "coverage"
    QUORUM = "quorum"
    UNCONFIRMED = "unconfirmed"
    """Fewer readings show the tier than the gate's ``min_observations``: an isolated reading
    that neither the same tracker's next readings nor another tracker confirmed (added with
    policy version 2)."""


class GateFinding(Contract):
    """One failed check of the gate: enough for an adjuster to see what to look at."""

    code: GateCode
    device_id: DeviceId | None = None
    detail: Annotated[str, Field(max_length=200)] = ""


class PayeeRole(StrEnum):
    LENDER = "lender"
    """The shipment is pledged: the facility's bank is paid and books it as a repayment."""
    INSURED = "insured"
    NAMED = "named"
    """The policy names a loss payee that is not the pledging lender."""


class _ClaimFacts(Contract):
    """What every claim event says about its claim."""

    claim_id: ClaimId
    policy_id: PolicyId
    shipment_id: ShipmentId
    trigger: TriggerKey
    trigger_kind: TriggerKind
    tier: Annotated[int, Field(ge=0, description="Index of the tier, thresholds ascending")]
    share: Fraction
    at: Annotated[
        UtcDatetime,
        Field(
            description="Event time the tier was reached (the value date of a payment);"
            " an insurer's decision: its own time"
        ),
    ]


class _TierReached(_ClaimFacts):
    measure: Annotated[float, Field(ge=0)]
    unit: MeasureUnit
    threshold: Annotated[float, Field(ge=0)]
    claim_value: Money = Field(description="share x sum insured - deductible, at least 0")
    evidence: list[Evidence] = Field(description="The readings that proved the tier")
    cause_event_id: Annotated[str, Field(min_length=1, max_length=128)]


class ClaimRaised(_TierReached):
    kind: Literal["claim_raised"] = "claim_raised"


class ClaimUpgraded(_TierReached):
    kind: Literal["claim_upgraded"] = "claim_upgraded"
    previous_share: Fraction
    previous_tier: Annotated[int, Field(ge=0)]


class ClaimNeedsReview(_ClaimFacts):
    kind: Literal["claim_needs_review"] = "claim_needs_review"
    findings: Annotated[list[GateFinding], Field(min_length=1)]


class ClaimApproved(_ClaimFacts):
    kind: Literal["claim_approved"] = "claim_approved"
    approved_by: Literal["gate", "insurer"]
    insurer_id: PartyId | None = None
    command_id: CommandId | None = None
    claim_value: Money
    evidence: list[Evidence] = Field(
        default=[],
        description="Set when the gate approves a claim held for review on evidence that "
        "arrived later at the same tier: the readings it approved on",
    )


class ClaimRejected(_ClaimFacts):
    kind: Literal["claim_rejected"] = "claim_rejected"
    insurer_id: PartyId
    command_id: CommandId
    reason: Annotated[str, Field(max_length=500)] = ""


class ClaimPaid(_ClaimFacts):
    """A payment instruction for the increment now due on a claim.

    ``cause_id`` identifies this payment everywhere downstream (one per claim and share). When
    ``payee_role`` is ``lender`` the pledge engine applies ``amount`` to ``facility_id`` as a
    repayment keyed by ``cause_id``.
    """

    kind: Literal["claim_paid"] = "claim_paid"
    cause_id: ClaimId
    amount: Money = Field(description="This payment: the claim's value now due minus paid")
    claim_paid_total: Money
    policy_paid_total: Money
    capped: bool = Field(description="The sum-insured cap cut this payment")
    loss_payee: PartyId
    payee_role: PayeeRole
    facility_id: FacilityRef | None = None


ClaimEventData = Annotated[
    ClaimRaised | ClaimUpgraded | ClaimNeedsReview | ClaimApproved | ClaimRejected | ClaimPaid,
    Field(discriminator="kind"),
]

ClaimEvent = Envelope[ClaimEventData]
"""The value of ``insurance.claims``: a CloudEvents envelope around one claim event."""


def claim_event_type(kind: str) -> str:
    """The envelope ``type`` for a claim event kind."""
    return f"tradelane.insurance.{kind}.v1"


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class ClaimDecision(Contract):
    """An insurer's decision on a claim in ``needs_review`` (schema version 1).

    ``share`` is the share the insurer reviewed: a decision on a claim that has since been
    upgraded is stale and refused, so nobody approves more than they saw. ``command_id`` makes
    the decision idempotent. Keyed by ``shipment_id`` on ``insurance.commands`` so it reaches
    the partition that holds the shipment's insurance state.
    """

    schema_version: Literal[1] = 1
    command_id: CommandId
    decision: Decision
    claim_id: ClaimId
    policy_id: PolicyId
    shipment_id: ShipmentId
    insurer_id: PartyId
    share: Fraction
    at: UtcDatetime
    reason: Annotated[str, Field(max_length=500)] = ""
