"""No single observation moves money: the gate's default needs two readings showing the tier,
from one tracker or several; an isolated spike goes to review, a confirmed one pays."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from finance.insurance import InsuranceState, apply
from finance.insurance.quality import confirmed
from tests.unit.finance.insurance.builders import (
    T0,
    breach,
    kinds,
    policy,
    shipment_booking,
    shock,
    trigger,
)
from tradelane.contracts import DataQualityGate, GateCode, Policy, ReadingRef, TriggerKind

SHOCK_10G = [(10, "0.2")]


def run(*items: object) -> list[str]:
    state, out = InsuranceState(), []
    for item in items:
        state, events = apply(state, item)  # type: ignore[arg-type]
        out += events
    return kinds(out)


def test_the_default_gate_needs_two_observations() -> None:
    assert DataQualityGate().min_observations == 2
    assert DataQualityGate().confirm_within_s == 3600


def test_one_shock_reading_goes_to_review_not_paid() -> None:
    """The row "one shock_g reading raises a claim": now raised in review, not paid."""
    one = shipment_booking(["trk-a"])
    assert run(one, policy(trigger(TriggerKind.SHOCK, SHOCK_10G)), shock(150)) == [
        "claim_raised",
        "claim_needs_review",
    ]


def test_a_shock_confirmed_by_the_same_trackers_next_reading_pays() -> None:
    one = shipment_booking(["trk-a"])
    out = run(one, policy(trigger(TriggerKind.SHOCK, SHOCK_10G)), shock(25), shock(14, at_min=62))
    assert out[-2:] == ["claim_approved", "claim_paid"]


def test_a_shock_confirmed_by_a_second_tracker_pays() -> None:
    p = policy(trigger(TriggerKind.SHOCK, SHOCK_10G))
    out = run(shipment_booking(), p, shock(25, "trk-a"), shock(12, "trk-b", at_min=61))
    assert out[-2:] == ["claim_approved", "claim_paid"]


def test_shocks_far_apart_do_not_confirm_each_other() -> None:
    one = shipment_booking(["trk-a"])
    p = policy(trigger(TriggerKind.SHOCK, SHOCK_10G))
    assert "claim_paid" not in run(one, p, shock(25), shock(14, at_min=60 * 24))


def test_a_confirming_reading_must_reach_the_tier() -> None:
    one = shipment_booking(["trk-a"])
    p = policy(trigger(TriggerKind.SHOCK, [(10, "0.2"), (50, "1")]))
    out = run(one, p, shock(80), shock(20, at_min=62))
    assert "claim_paid" not in out  # 50 g tier: one reading; the 20 g one confirms 10 g only


def test_a_single_reading_breach_goes_to_review() -> None:
    """One temperature reading off its neighbours, then silence: one observation."""
    one = shipment_booking(["trk-a"])
    p = policy(trigger(TriggerKind.TEMPERATURE, [(30, "0.1")]))
    gate = DataQualityGate(max_gap_s=7200)
    p = p.model_copy(update={"gate": gate})
    assert run(one, p, breach(45, ["trk-a"], step_min=60))[-1] == "claim_needs_review"
    assert run(one, p, breach(45, ["trk-a"], step_min=15))[-1] == "claim_paid"


def test_a_policy_can_tighten_the_quorum() -> None:
    one = shipment_booking(["trk-a"])
    strict = DataQualityGate(min_observations=3)
    p = policy(trigger(TriggerKind.SHOCK, SHOCK_10G, gate=strict))
    assert run(one, p, shock(25), shock(14, at_min=62))[-1] == "claim_needs_review"
    assert run(one, p, shock(25), shock(14, at_min=62), shock(12, at_min=64))[-1] == "claim_paid"


def test_a_version_1_policy_keeps_its_one_observation() -> None:
    raw = policy(trigger(TriggerKind.SHOCK, SHOCK_10G)).model_dump(mode="json")
    v1 = Policy.model_validate({**raw, "schema_version": 1, "gate": {}})
    assert v1.gate.min_observations == 1
    assert run(shipment_booking(["trk-a"]), v1, shock(150))[-1] == "claim_paid"
    named = Policy.model_validate({**raw, "schema_version": 1, "gate": {"min_observations": 2}})
    assert named.gate.min_observations == 2


def test_the_unconfirmed_finding_names_the_count() -> None:
    state = InsuranceState()
    for item in (shipment_booking(["trk-a"]), policy(trigger(TriggerKind.SHOCK, SHOCK_10G))):
        state, _ = apply(state, item)
    state, _ = apply(state, shock(150))
    (claim,) = state.claims.values()
    assert [(f.code, f.detail) for f in claim.findings] == [
        (GateCode.UNCONFIRMED, "1 of 2 observations")
    ]


def _ref(device: str, seq: int, minutes: float) -> ReadingRef:
    return ReadingRef(device_id=device, seq=seq, ts=T0 + timedelta(minutes=minutes))


@given(st.lists(st.floats(min_value=0, max_value=60 * 24 * 30), min_size=1, max_size=20))
def test_isolated_readings_confirm_nothing(minutes: list[float]) -> None:
    """Readings all more than the window apart never count as more than one observation."""
    spaced = sorted({round(m / 120) * 120 for m in minutes})  # at least 2 h apart
    refs = [_ref("trk-a", i, m) for i, m in enumerate(spaced)]
    assert confirmed(refs, 3600) == 1


@given(
    st.floats(min_value=0, max_value=60 * 24),
    st.floats(min_value=0, max_value=60),
    st.sampled_from(["trk-a", "trk-b"]),
)
def test_a_second_reading_within_the_window_confirms(at: float, after: float, second: str) -> None:
    refs = [_ref("trk-a", 1, at), _ref(second, 2, at + after)]
    assert confirmed(refs, 3600) == 2
    assert confirmed(refs * 2, 3600) == 2  # a reading cited twice is still one observation
