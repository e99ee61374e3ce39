"""Properties over random streams of shipment events, registry records and insurer decisions,
with duplicates and any order: no claim step happens twice, payouts never exceed the sum
insured, redelivery changes nothing, and every claim's evidence digest recomputes from the
readings it cites."""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finance.insurance import InsuranceState, apply, apply_in_place, claim_id, verify
from finance.insurance.engine import Input
from finance.insurance.triggers import trigger_keys
from tests.unit.finance.insurance.builders import (
    STORE,
    T0,
    arrived,
    breach,
    cumulative,
    deviation,
    facility,
    policy,
    shipment_booking,
    shock,
    tamper,
    trigger,
)
from tradelane.contracts import (
    ClaimDecision,
    ClaimEvent,
    ClaimPaid,
    ClaimRaised,
    ClaimUpgraded,
    DataQualityGate,
    Decision,
    Policy,
    TriggerKind,
)

DEVICES = st.sampled_from([("trk-a",), ("trk-b",), ("trk-a", "trk-b")])
GATES = st.sampled_from([None, DataQualityGate(quorum=1), DataQualityGate(require_evidence=False)])

shipment_events = st.one_of(
    st.builds(
        breach,
        minutes=st.sampled_from([20, 30, 45, 120, 200, 360]),
        devices=DEVICES,
        start_min=st.sampled_from([0, 600, 1500]),
    ),
    st.builds(
        cumulative,
        episodes=st.sampled_from([[(0, 40)], [(0, 60), (300, 70)], [(0, 200), (400, 200)]]),
        devices=DEVICES,
    ),
    st.builds(
        shock, g=st.sampled_from([3.0, 6.0, 12.0]), device=st.sampled_from(["trk-a", "trk-b"])
    ),
    st.builds(tamper, device=st.sampled_from(["trk-a", "trk-b"])),
    st.builds(deviation, km=st.sampled_from([30.0, 60.0, 250.0]), devices=DEVICES),
    st.builds(arrived, hours_late=st.sampled_from([-3, 10, 30, 80, 300])),
)


@st.composite
def policies(draw: st.DrawFn, policy_id: str) -> Policy:
    candidates = [
        trigger(TriggerKind.TEMPERATURE),
        trigger(TriggerKind.TEMPERATURE, cumulative=True),
        trigger(TriggerKind.SHOCK, [(5, "0.2"), (10, "0.6")]),
        trigger(TriggerKind.TAMPER, [(1, "0.3")]),
        trigger(TriggerKind.DELAY, [(24, "0.1"), (72, "0.4")]),
        trigger(
            TriggerKind.DELAY, [(12, "0")], per_day_share=Decimal("0.15"), cap_share=Decimal("0.9")
        ),
        trigger(TriggerKind.DEVIATION, [(50, "0.25"), (200, "1")]),
    ]
    chosen = draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=4))
    gated = [t.model_copy(update={"gate": draw(GATES)}) for t in chosen]
    return policy(
        *gated,
        policy_id=policy_id,
        sum_insured=draw(st.sampled_from(["1000", "50000", "100000"])),
        deductible=draw(st.sampled_from(["0", "0", "500", "20000"])),
    )


@st.composite
def decisions(draw: st.DrawFn, pols: list[Policy]) -> ClaimDecision:
    p = draw(st.sampled_from(pols))
    key, trig = draw(st.sampled_from(trigger_keys(p)))
    shares = sorted({t.share for t in trig.tiers} | {Decimal("0.15"), Decimal("0.3")})
    shares = [x for x in shares if x > 0]
    return ClaimDecision(
        command_id=draw(st.sampled_from(["c1", "c2", "c3"])),
        decision=draw(st.sampled_from(Decision)),
        claim_id=claim_id(p.policy_id, key),
        policy_id=p.policy_id,
        shipment_id=p.shipment_id,
        insurer_id="ins-1",
        share=draw(st.sampled_from(shares)),
        at=T0,
    )


@st.composite
def streams(draw: st.DrawFn) -> list[Input]:
    """Everything, in any order, with some inputs delivered again later."""
    pols = [draw(policies(f"pol-{i}")) for i in range(draw(st.integers(1, 2)))]
    pool: list[Input] = list(pols)
    pool += [shipment_booking()] if draw(st.booleans()) else []
    pool += [facility()] if draw(st.booleans()) else []
    pool += draw(st.lists(shipment_events, min_size=1, max_size=8))
    pool += draw(st.lists(decisions(pols), max_size=6))
    items = list(draw(st.permutations(pool)))
    for _ in range(draw(st.integers(0, 6))):
        again = draw(st.sampled_from(items))
        items.insert(draw(st.integers(0, len(items))), again)
    return items + draw(st.lists(decisions(pols), max_size=4))  # decisions after the facts


def run(
    items: list[Input], state: InsuranceState | None = None
) -> tuple[InsuranceState, list[ClaimEvent]]:
    state = state or InsuranceState()
    out: list[ClaimEvent] = []
    for item in items:
        state, events = apply(state, item)
        out.extend(events)
    return state, out


PROFILE = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROFILE
@given(streams())
def test_no_claim_step_happens_twice(items: list[Input]) -> None:
    _, out = run(items)
    assert len({e.id for e in out}) == len(out)
    raised = Counter(e.data.claim_id for e in out if isinstance(e.data, ClaimRaised))
    assert all(n == 1 for n in raised.values())
    tiers = Counter(
        (e.data.claim_id, e.data.share)
        for e in out
        if isinstance(e.data, ClaimRaised | ClaimUpgraded)
    )
    assert all(n == 1 for n in tiers.values())


@PROFILE
@given(streams())
def test_payouts_never_exceed_the_sum_insured(items: list[Input]) -> None:
    state, out = run(items)
    by_policy: dict[str, Decimal] = defaultdict(Decimal)
    by_claim: dict[str, Decimal] = defaultdict(Decimal)
    for e in out:
        if isinstance(e.data, ClaimPaid):
            assert e.data.amount.amount > 0
            by_policy[e.data.policy_id] += e.data.amount.amount
            by_claim[e.data.claim_id] += e.data.amount.amount
            assert e.data.claim_paid_total.amount == by_claim[e.data.claim_id]
            assert e.data.policy_paid_total.amount == by_policy[e.data.policy_id]
    for policy_id, total in by_policy.items():
        assert total <= state.policies[policy_id].sum_insured.amount
        assert total == state.paid_on_policy(policy_id)


@PROFILE
@given(streams())
def test_duplicates_and_replays_change_nothing(items: list[Input]) -> None:
    state, out = run(items)
    doubled = [item for item in items for _ in range(2)]
    assert run(doubled) == (state, out)
    replayed, again = run(items, state)
    assert again == []
    assert replayed == state


@PROFILE
@given(streams())
def test_state_survives_its_json_form(items: list[Input]) -> None:
    half = len(items) // 2
    state, _ = run(items[:half])
    restored = InsuranceState.model_validate_json(state.model_dump_json())
    assert restored == state
    assert run(items[half:], restored) == run(items[half:], state)


@PROFILE
@given(streams())
def test_every_claims_evidence_digest_recomputes(items: list[Input]) -> None:
    _, out = run(items)
    for e in out:
        for evidence in getattr(e.data, "evidence", []):
            assert verify(evidence, STORE.values()) == []


@PROFILE
@given(streams())
def test_the_pure_form_equals_the_in_place_step_and_leaves_its_input_alone(
    items: list[Input],
) -> None:
    """``apply`` is the in-place step on a copy: the same states and outputs, input for input;
    the state it was given is untouched, and handed back exactly when nothing changed."""
    pure = InsuranceState()
    owned = InsuranceState()
    for item in items:
        before = pure.model_dump_json()
        following, out = apply(pure, item)
        step = apply_in_place(owned, item)
        assert pure.model_dump_json() == before
        assert (following is pure) == (not step.changed)
        assert out == list(step.claims)
        assert following == owned
        assert following.model_dump_json() == owned.model_dump_json()
        pure = following
