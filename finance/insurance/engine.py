"""The parametric insurance engine: ``apply_in_place(state, input) -> Outputs``, and its pure
form ``apply(state, input) -> (new_state, claim_events)``.

No I/O, no clock, no randomness. Time comes from the inputs (event time), ids are derived from
causes, money is Decimal in the policy's currency. The state discipline is every engine's
(:mod:`tradelane.discipline`): the rules are one in-place step that updates a state its caller
owns (the insurance agent's shell keeps one per shipment); :func:`apply` runs it on a copy and
never changes the state it was given. Inside the state, a shipment's observations and each
claim are immutable records (their transitions, :mod:`.observe` and :mod:`.claims`, return new
ones); the step puts them in the state's maps.

Inputs, and where the wiring reads them from:

- a shipment event envelope (``shipments.events``, key ``shipment_id``);
- a :class:`~tradelane.contracts.Policy` (``insurance.policies``, re-keyed by ``shipment_id``);
- a :class:`~tradelane.contracts.ShipmentBooking` (``shipments.registry``): trackers for the
  quorum, planned arrival for delay;
- a :class:`~tradelane.contracts.Facility` (``finance.facilities``): which lender is loss
  payee of a pledged shipment (deliver it to every shipment key it pledges, or pledged);
- a :class:`~tradelane.contracts.ClaimDecision` (``insurance.commands``, key
  ``shipment_id``).

Outputs: :data:`~tradelane.contracts.ClaimEvent` envelopes for ``insurance.claims`` (key
``policy_id``, the envelope's ``subject``).

Idempotency: observations only grow (max or first of what was seen) and a claim's share only
grows, so a redelivered or replayed input yields no output; every decision's result is
remembered by ``command_id``. Output ids are derived from (claim, kind, share), so a step
re-emitted after a crash carries the id of its first emission.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from tradelane.contracts import (
    ClaimDecision,
    ClaimEvent,
    ClaimEventData,
    Decision,
    Facility,
    Policy,
    ShipmentBooking,
    ShipmentEvent,
)
from tradelane.discipline import on_a_copy

from . import claims
from .observe import observe, observe_booking
from .payout import claim_value, payee, payment_due
from .quality import assess
from .state import (
    Claim,
    ClaimStatus,
    CommandResult,
    InsuranceState,
    Pledge,
)
from .triggers import Rung, evaluate, trigger_keys

Input = ShipmentEvent | Policy | ShipmentBooking | Facility | ClaimDecision
"""Everything :func:`apply` accepts."""


class PolicyResult(StrEnum):
    """Outcome of a policy record, in precedence order."""

    OK = "ok"
    CURRENCY_MISMATCH = "currency_mismatch"
    """Deductible and sum insured are in different currencies: the record is ignored."""
    TERMS_FROZEN = "terms_frozen"
    """Once a policy has claims its shipment and currency cannot change: ignored."""


def policy_result(state: InsuranceState, policy: Policy) -> PolicyResult:
    if policy.deductible.currency != policy.sum_insured.currency:
        return PolicyResult.CURRENCY_MISMATCH
    held = state.policies.get(policy.policy_id)
    has_claims = any(c.policy_id == policy.policy_id for c in state.claims.values())
    if (
        held is not None
        and has_claims
        and (
            held.shipment_id != policy.shipment_id
            or held.sum_insured.currency != policy.sum_insured.currency
        )
    ):
        return PolicyResult.TERMS_FROZEN
    return PolicyResult.OK


@dataclass(frozen=True, slots=True)
class Outputs:
    """What one input produced: the claim events to publish, in order, and whether the state
    changed (a redelivered or weaker reading changes nothing: the shell writes nothing)."""

    claims: tuple[ClaimEvent, ...] = ()
    changed: bool = False


def apply(state: InsuranceState, item: Input) -> tuple[InsuranceState, list[ClaimEvent]]:
    """Apply one input; return the new state and the claim events to publish, in order.

    :func:`apply_in_place` on a copy (:func:`tradelane.discipline.on_a_copy`); ``state`` is not
    modified, and is itself returned when the input changed nothing (callers that keep states
    tell a change by identity)."""
    following, out = on_a_copy(apply_in_place, copy_state, state, item)
    return (following if out.changed else state), list(out.claims)


def copy_state(state: InsuranceState) -> InsuranceState:
    """A copy sharing nothing :func:`apply_in_place` mutates: maps of its own, holding the
    same immutable records."""
    return state.model_copy(
        update={
            "policies": dict(state.policies),
            "shipments": dict(state.shipments),
            "pledges": dict(state.pledges),
            "claims": dict(state.claims),
            "decisions": dict(state.decisions),
        }
    )


def apply_in_place(state: InsuranceState, item: Input) -> Outputs:
    """Apply one input to ``state`` itself (its caller owns it); return what it emitted. If
    it raises, ``state`` may be half updated and must be discarded."""
    if isinstance(item, Policy):
        if policy_result(state, item) is not PolicyResult.OK:
            return Outputs()
        state.policies[item.policy_id] = item
        return _evaluate(state, item.shipment_id)
    if isinstance(item, ShipmentBooking):
        obs = observe_booking(state.observations(item.shipment_id), item)
        state.shipments[item.shipment_id] = obs
        return _evaluate(state, item.shipment_id)
    if isinstance(item, Facility):
        return Outputs(changed=_pledges(state, item))
    if isinstance(item, ClaimDecision):
        return _decide(state, item)
    before = state.observations(item.subject)
    obs = observe(before, item.id, item.data)
    if obs is before:
        return Outputs()
    state.shipments[item.subject] = obs
    return _evaluate(state, item.subject)


def _store(state: InsuranceState, claim: Claim) -> None:
    state.claims[claim.claim_id] = claim


def _evaluate(state: InsuranceState, shipment_id: str) -> Outputs:
    """Judge every trigger of every policy on the shipment against what has been observed."""
    obs = state.observations(shipment_id)
    out: list[ClaimEventData] = []
    for policy in state.policies_on(shipment_id):
        for key, trigger in trigger_keys(policy):
            hit = evaluate(trigger, obs)
            if hit is None:
                continue
            held = state.claims.get(claims.claim_id(policy.policy_id, key))
            gate = trigger.gate or policy.gate
            verdict = assess(hit.proofs, hit.quorum_over, gate, obs.trackers, obs.devices_seen)
            step = claims.reach(
                held, policy, key, trigger.kind, hit, claim_value(policy, hit.share)
            )
            if step is None:
                if held is not None and _regated(held, hit.share, verdict.passed):
                    # Held for review, and readings that came since make the same tier pass.
                    evidence = [p.evidence for p in hit.proofs if p.evidence is not None]
                    value = claim_value(policy, held.share)
                    claim, approved = claims.approve(held, value, hit.at, evidence=evidence)
                    out.append(approved)
                    claim, paid = _settle(state, claim, policy, hit.rungs, held)
                    out.extend(paid)
                    _store(state, claim)
                continue
            claim, reached = step
            out.append(reached)
            if verdict.passed:
                before = claim
                claim, approved = claims.approve(claim, claim_value(policy, claim.share), hit.at)
                out.append(approved)
                claim, paid = _settle(state, claim, policy, hit.rungs, before)
                out.extend(paid)
            else:
                claim, review = claims.hold(claim, verdict.findings, hit.at)
                out.append(review)
            _store(state, claim)
    return Outputs(tuple(claims.envelope(e) for e in out), changed=True)


def _regated(held: Claim, share: Decimal, passed: bool) -> bool:
    return passed and held.status is ClaimStatus.NEEDS_REVIEW and share == held.share


def _settle(
    state: InsuranceState,
    claim: Claim,
    policy: Policy,
    rungs: Sequence[Rung],
    before: Claim,
) -> tuple[Claim, list[ClaimEventData]]:
    """Pay what the approval makes due, within the policy's cap, to today's payee: one payment
    per rung that ``before`` (the claim as it was before this approval) had not settled, each
    dated when its tier was reached.

    A claim held for review at 10 % and 50 % and approved at 100 % when late evidence arrives
    pays the three rungs, each as of its own tier's event time: the same payments, ids and
    value dates as when every tier passed the gate as it was reached."""
    others = sum(
        (
            c.paid
            for c in state.claims.values()
            if c.policy_id == policy.policy_id and c.claim_id != claim.claim_id
        ),
        Decimal(0),
    )
    to = payee(policy, state.pledges.get(claim.shipment_id))
    out: list[ClaimEventData] = []
    for rung in _due_rungs(claim, rungs, before.approved_share):
        policy_paid = others + claim.paid
        value = claim_value(policy, rung.share)
        payment = payment_due(value, claim.paid, policy_paid, policy)
        if payment.amount <= 0:
            continue
        claim, paid = claims.pay(claim, payment, policy_paid, to, rung)
        out.append(paid)
    return claim, out


def _due_rungs(claim: Claim, rungs: Sequence[Rung], settled: Decimal) -> list[Rung]:
    """The rungs above the share an earlier approval settled, up to the approved share (which
    is always a rung: with no ladder known, dated at the claim's last step)."""
    due = [r for r in rungs if settled < r.share <= claim.approved_share]
    if not due or due[-1].share != claim.approved_share:
        due.append(Rung(claim.tier, claim.approved_share, claim.updated_at))
    return due


def _decide(state: InsuranceState, decision: ClaimDecision) -> Outputs:
    """An insurer's decision: its result remembered by command id, and a claim in review
    rejected or approved (and paid)."""
    result = claims.command_result(state, decision)
    if result is CommandResult.DUPLICATE:
        return Outputs()
    state.decisions[decision.command_id] = result
    if result is not CommandResult.OK:
        return Outputs(changed=True)
    claim = state.claims[decision.claim_id]
    policy = state.policies[claim.policy_id]
    out: list[ClaimEventData] = []
    if decision.decision is Decision.REJECT:
        claim, rejected = claims.reject(claim, decision)
        out.append(rejected)
    else:
        value = claim_value(policy, claim.share)
        before = claim
        claim, approved = claims.approve(claim, value, decision.at, decision)
        out.append(approved)
        rungs = _ladder(state, before, policy)
        claim, paid = _settle(state, claim, policy, rungs, before)
        out.extend(paid)
    _store(state, claim)
    return Outputs(tuple(claims.envelope(e) for e in out), changed=True)


def _ladder(state: InsuranceState, claim: Claim, policy: Policy) -> tuple[Rung, ...]:
    """The claim's rungs as the observations date them: an insurer's approval pays each tier
    as of when it was reached, like the gate's (the decision's own time is on its event)."""
    obs = state.observations(claim.shipment_id)
    for key, trigger in trigger_keys(policy):
        if key == claim.trigger:
            hit = evaluate(trigger, obs)
            return () if hit is None else hit.rungs
    return ()


def _pledges(state: InsuranceState, facility: Facility) -> bool:
    """Re-point the shipments this facility pledges (and drops) at its bank; whether any
    pledge changed."""
    pledged = set(facility.pledged_shipments)
    kept = {
        shipment: pledge
        for shipment, pledge in state.pledges.items()
        if pledge.facility_id != facility.facility_id or shipment in pledged
    }
    lender = Pledge(facility_id=facility.facility_id, bank_id=facility.bank_id)
    kept.update(dict.fromkeys(sorted(pledged), lender))
    if kept == state.pledges:
        return False
    state.pledges = kept
    return True
