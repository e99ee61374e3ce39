"""The claim lifecycle as pure transitions: each takes a claim and returns the next claim and
the event that records the step.

::

    (tier reached) --> raised --gate passes--> approved --> paid
                         |                        ^
                         +--gate fails--> needs_review --insurer rejects--> rejected (final)
    (higher tier)  --> upgraded, then the same two branches for the increment

A claim is identified by (policy, trigger) and its share only grows, so a tier already
claimed can never be claimed again, whatever is redelivered. Ids of the events are derived
from (claim, kind, share): the same step always has the same id.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from tradelane.contracts import (
    ClaimApproved,
    ClaimDecision,
    ClaimEvent,
    ClaimEventData,
    ClaimNeedsReview,
    ClaimPaid,
    ClaimRaised,
    ClaimRejected,
    ClaimUpgraded,
    Evidence,
    GateFinding,
    Money,
    Policy,
    TriggerKind,
    claim_event_type,
)
from tradelane.contracts.insurance import INSURANCE_EVENT_SOURCE
from tradelane.ids import derive_id

from .payout import Payee, Payment
from .state import Claim, ClaimStatus, CommandResult, InsuranceState
from .triggers import Hit, Rung


def claim_id(policy_id: str, trigger_key: str) -> str:
    """One claim per (policy, trigger), whatever tier it reaches."""
    return derive_id("insurance.claim", policy_id, trigger_key)


def share_key(share: Decimal) -> str:
    """``0.5`` and ``0.500000`` name the same step."""
    return format(share.normalize(), "f")


def payment_id(claim: str, share: Decimal) -> str:
    """The payment's cause id: one per claim and approved share."""
    return derive_id("insurance.payment", claim, share_key(share))


def envelope(data: ClaimEventData) -> ClaimEvent:
    """Wrap a claim event: ``subject`` is the policy, ``time`` the cause's event time."""
    return ClaimEvent(
        id=derive_id("insurance.event", data.claim_id, data.kind, share_key(data.share)),
        source=INSURANCE_EVENT_SOURCE,
        type=claim_event_type(data.kind),
        subject=data.policy_id,
        time=data.at,
        data=data,
    )


def _facts(claim: Claim, at: datetime) -> dict[str, Any]:
    return {
        "claim_id": claim.claim_id,
        "policy_id": claim.policy_id,
        "shipment_id": claim.shipment_id,
        "trigger": claim.trigger,
        "trigger_kind": claim.trigger_kind,
        "tier": claim.tier,
        "share": claim.share,
        "at": at,
    }


def _money(amount: Decimal, claim: Claim) -> Money:
    return Money(amount=amount, currency=claim.currency)


def reach(
    existing: Claim | None,
    policy: Policy,
    key: str,
    kind: TriggerKind,
    hit: Hit,
    value: Decimal,
) -> tuple[Claim, ClaimRaised | ClaimUpgraded] | None:
    """Raise the claim, or upgrade it when ``hit`` pays a larger share; None otherwise (the
    tier is already claimed, or the claim was rejected)."""
    evidence = [p.evidence for p in hit.proofs if p.evidence is not None]
    reached = {
        "tier": hit.tier,
        "share": hit.share,
        "measure": hit.measure,
        "threshold": hit.threshold,
        "evidence": evidence,
        "updated_at": hit.at,
    }
    if existing is None:
        claim = Claim(
            claim_id=claim_id(policy.policy_id, key),
            policy_id=policy.policy_id,
            shipment_id=policy.shipment_id,
            trigger=key,
            trigger_kind=kind,
            status=ClaimStatus.NEEDS_REVIEW,
            currency=policy.sum_insured.currency,
            raised_at=hit.at,
            **reached,
        )
        return claim, ClaimRaised(**_tier_fields(claim, hit, value))
    if existing.status is ClaimStatus.REJECTED or hit.share <= existing.share:
        return None
    claim = existing.model_copy(update=reached)
    upgraded = ClaimUpgraded(
        previous_share=existing.share,
        previous_tier=existing.tier,
        **_tier_fields(claim, hit, value),
    )
    return claim, upgraded


def _tier_fields(claim: Claim, hit: Hit, value: Decimal) -> dict[str, Any]:
    return {
        **_facts(claim, hit.at),
        "measure": hit.measure,
        "unit": hit.unit,
        "threshold": hit.threshold,
        "claim_value": _money(value, claim),
        "evidence": claim.evidence,
        "cause_event_id": hit.cause_event_id,
    }


def hold(
    claim: Claim, findings: tuple[GateFinding, ...], at: datetime
) -> tuple[Claim, ClaimNeedsReview]:
    """The gate failed: the claim waits for the insurer, with the reasons."""
    held = claim.model_copy(
        update={"status": ClaimStatus.NEEDS_REVIEW, "findings": list(findings), "updated_at": at}
    )
    return held, ClaimNeedsReview(findings=list(findings), **_facts(held, at))


def approve(
    claim: Claim,
    value: Decimal,
    at: datetime,
    decision: ClaimDecision | None = None,
    evidence: list[Evidence] | None = None,
) -> tuple[Claim, ClaimApproved]:
    """Approve the claim's current share: by the gate, or by ``decision``. ``evidence`` is
    given when the gate approves a held claim on readings that came after it was raised."""
    approved = claim.model_copy(
        update={
            "evidence": claim.evidence if evidence is None else evidence,
            "status": ClaimStatus.APPROVED,
            "approved_share": claim.share,
            "findings": [] if decision is None else claim.findings,
            "decisions": claim.decisions
            if decision is None
            else [*claim.decisions, decision.command_id],
            "updated_at": at,
        }
    )
    event = ClaimApproved(
        approved_by="gate" if decision is None else "insurer",
        insurer_id=None if decision is None else decision.insurer_id,
        command_id=None if decision is None else decision.command_id,
        claim_value=_money(value, approved),
        evidence=evidence or [],
        **_facts(approved, at),
    )
    return approved, event


def pay(
    claim: Claim, payment: Payment, policy_paid_before: Decimal, to: Payee, rung: Rung
) -> tuple[Claim, ClaimPaid]:
    """Record a payment of ``payment.amount`` (positive) to ``to`` for ``rung``: the event
    names the rung's tier and share and is dated when that tier was reached, so its ids and
    its value date are those of the tier, whenever the approval came."""
    paid = claim.model_copy(
        update={
            "status": ClaimStatus.PAID,
            "paid": claim.paid + payment.amount,
            "updated_at": max(claim.updated_at, rung.at),
        }
    )
    facts = {**_facts(paid, rung.at), "tier": rung.tier, "share": rung.share}
    event = ClaimPaid(
        cause_id=payment_id(claim.claim_id, rung.share),
        amount=_money(payment.amount, claim),
        claim_paid_total=_money(paid.paid, claim),
        policy_paid_total=_money(policy_paid_before + payment.amount, claim),
        capped=payment.capped,
        loss_payee=to.party,
        payee_role=to.role,
        facility_id=to.facility_id,
        **facts,
    )
    return paid, event


def reject(claim: Claim, decision: ClaimDecision) -> tuple[Claim, ClaimRejected]:
    rejected = claim.model_copy(
        update={
            "status": ClaimStatus.REJECTED,
            "decisions": [*claim.decisions, decision.command_id],
            "updated_at": decision.at,
        }
    )
    event = ClaimRejected(
        insurer_id=decision.insurer_id,
        command_id=decision.command_id,
        reason=decision.reason,
        **_facts(rejected, decision.at),
    )
    return rejected, event


def command_result(state: InsuranceState, decision: ClaimDecision) -> CommandResult:
    """What ``decision`` would do to ``state``; ``DUPLICATE`` once its ``command_id`` has had
    any result, so a decision refused once (say, for a claim not raised yet) stays refused
    when it is redelivered later."""
    if decision.command_id in state.decisions:
        return CommandResult.DUPLICATE
    claim = state.claims.get(decision.claim_id)
    if claim is None:
        return CommandResult.UNKNOWN_CLAIM
    policy = state.policies.get(claim.policy_id)
    if (
        policy is None
        or decision.policy_id != claim.policy_id
        or decision.shipment_id != claim.shipment_id
    ):
        return CommandResult.MISMATCH
    if decision.insurer_id != policy.insurer_id:
        return CommandResult.NOT_INSURER
    if claim.status is not ClaimStatus.NEEDS_REVIEW:
        return CommandResult.NOT_IN_REVIEW
    if decision.share != claim.share:
        return CommandResult.STALE_SHARE
    return CommandResult.OK
