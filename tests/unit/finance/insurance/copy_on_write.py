"""The copy-on-write insurance engine as it was before the in-place discipline, kept only
for the property that the in-place engine equals it (to be deleted with that property).

The parametric insurance engine: ``apply(state, input) -> (new_state, claim_events)``.

Pure: no I/O, no clock, no randomness. Time comes from the inputs (event time), ids are
derived from causes, money is Decimal in the policy's currency. The engine never mutates the
state it is given.

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
from decimal import Decimal
from enum import StrEnum

from finance.insurance import claims
from finance.insurance.observe import observe, observe_booking
from finance.insurance.payout import claim_value, payee, payment_due
from finance.insurance.quality import assess
from finance.insurance.state import (
    Claim,
    ClaimStatus,
    CommandResult,
    InsuranceState,
    Pledge,
    ShipmentObservations,
)
from finance.insurance.triggers import Rung, evaluate, trigger_keys
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


def apply(state: InsuranceState, item: Input) -> tuple[InsuranceState, list[ClaimEvent]]:
    """Apply one input; return the new state and the claim events to publish, in order."""
    if isinstance(item, Policy):
        if policy_result(state, item) is not PolicyResult.OK:
            return state, []
        state = state.model_copy(update={"policies": {**state.policies, item.policy_id: item}})
        return _evaluate(state, item.shipment_id)
    if isinstance(item, ShipmentBooking):
        obs = observe_booking(state.observations(item.shipment_id), item)
        return _evaluate(_with_observations(state, obs), item.shipment_id)
    if isinstance(item, Facility):
        return _pledges(state, item), []
    if isinstance(item, ClaimDecision):
        return _decide(state, item)
    before = state.observations(item.subject)
    obs = observe(before, item.id, item.data)
    if obs is before:
        return state, []
    return _evaluate(_with_observations(state, obs), item.subject)


def _with_observations(state: InsuranceState, obs: ShipmentObservations) -> InsuranceState:
    return state.model_copy(update={"shipments": {**state.shipments, obs.shipment_id: obs}})


def _store(state: InsuranceState, claim: Claim) -> InsuranceState:
    return state.model_copy(update={"claims": {**state.claims, claim.claim_id: claim}})


def _evaluate(state: InsuranceState, shipment_id: str) -> tuple[InsuranceState, list[ClaimEvent]]:
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
                    state, claim, paid = _settle(state, claim, policy, hit.rungs, held)
                    out.extend(paid)
                    state = _store(state, claim)
                continue
            claim, reached = step
            out.append(reached)
            if verdict.passed:
                before = claim
                claim, approved = claims.approve(claim, claim_value(policy, claim.share), hit.at)
                out.append(approved)
                state, claim, paid = _settle(state, claim, policy, hit.rungs, before)
                out.extend(paid)
            else:
                claim, review = claims.hold(claim, verdict.findings, hit.at)
                out.append(review)
            state = _store(state, claim)
    return state, [claims.envelope(e) for e in out]


def _regated(held: Claim, share: Decimal, passed: bool) -> bool:
    return passed and held.status is ClaimStatus.NEEDS_REVIEW and share == held.share


def _settle(
    state: InsuranceState,
    claim: Claim,
    policy: Policy,
    rungs: Sequence[Rung],
    before: Claim,
) -> tuple[InsuranceState, Claim, list[ClaimEventData]]:
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
    if not out:
        return state, claim, []
    return _store(state, claim), claim, out


def _due_rungs(claim: Claim, rungs: Sequence[Rung], settled: Decimal) -> list[Rung]:
    """The rungs above the share an earlier approval settled, up to the approved share (which
    is always a rung: with no ladder known, dated at the claim's last step)."""
    due = [r for r in rungs if settled < r.share <= claim.approved_share]
    if not due or due[-1].share != claim.approved_share:
        due.append(Rung(claim.tier, claim.approved_share, claim.updated_at))
    return due


def _decide(
    state: InsuranceState, decision: ClaimDecision
) -> tuple[InsuranceState, list[ClaimEvent]]:
    result = claims.command_result(state, decision)
    if result is CommandResult.DUPLICATE:
        return state, []
    state = state.model_copy(update={"decisions": {**state.decisions, decision.command_id: result}})
    if result is not CommandResult.OK:
        return state, []
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
        state, claim, paid = _settle(state, claim, policy, rungs, before)
        out.extend(paid)
    return _store(state, claim), [claims.envelope(e) for e in out]


def _ladder(state: InsuranceState, claim: Claim, policy: Policy) -> tuple[Rung, ...]:
    """The claim's rungs as the observations date them: an insurer's approval pays each tier
    as of when it was reached, like the gate's (the decision's own time is on its event)."""
    obs = state.observations(claim.shipment_id)
    for key, trigger in trigger_keys(policy):
        if key == claim.trigger:
            hit = evaluate(trigger, obs)
            return () if hit is None else hit.rungs
    return ()


def _pledges(state: InsuranceState, facility: Facility) -> InsuranceState:
    """Re-point the shipments this facility pledges (and drops) at its bank."""
    pledged = set(facility.pledged_shipments)
    kept = {
        shipment: pledge
        for shipment, pledge in state.pledges.items()
        if pledge.facility_id != facility.facility_id or shipment in pledged
    }
    lender = Pledge(facility_id=facility.facility_id, bank_id=facility.bank_id)
    kept.update(dict.fromkeys(sorted(pledged), lender))
    if kept == state.pledges:
        return state
    return state.model_copy(update={"pledges": kept})
