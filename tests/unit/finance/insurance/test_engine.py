"""The engine end to end, in memory: lifecycle, insurer decisions, the policy cap, the lender
as loss payee, late registries, idempotency and the state's JSON round trip."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal

import pytest

from finance.insurance import (
    ClaimStatus,
    CommandResult,
    InsuranceState,
    PolicyResult,
    apply,
    claim_id,
    command_result,
    payment_id,
    policy_result,
)
from finance.insurance.engine import Input
from tests.unit.finance.insurance.builders import (
    PLANNED_ARRIVAL,
    T0,
    arrived,
    breach,
    decide,
    deviation,
    event,
    facility,
    kinds,
    policy,
    shipment_booking,
    shock,
    trigger,
)
from tradelane.contracts import (
    ClaimEvent,
    ClaimPaid,
    DataQualityGate,
    Decision,
    DelayPredicted,
    Money,
    PayeeRole,
    TriggerKind,
)

RAISED_PAID = ["claim_raised", "claim_approved", "claim_paid"]
UPGRADED_PAID = ["claim_upgraded", "claim_approved", "claim_paid"]
ONE_TRACKER = ("trk-a",)


def run(
    items: Iterable[Input], state: InsuranceState | None = None
) -> tuple[InsuranceState, list[ClaimEvent]]:
    state = state or InsuranceState()
    out: list[ClaimEvent] = []
    for item in items:
        state, events = apply(state, item)
        out.extend(events)
    return state, out


def paid(events: Iterable[ClaimEvent]) -> list[ClaimPaid]:
    return [e.data for e in events if isinstance(e.data, ClaimPaid)]


def booked(*items: Input) -> tuple[InsuranceState, list[ClaimEvent]]:
    return run([shipment_booking(), policy(), *items])


def test_gate_passes_claim_is_raised_approved_and_paid_then_upgraded_per_tier() -> None:
    state, out = booked(breach(30))
    assert kinds(out) == RAISED_PAID
    assert paid(out)[0].amount == Money(amount=Decimal("9000.00"), currency="USD")
    state, up = run([breach(120)], state)
    assert kinds(up) == UPGRADED_PAID
    assert paid(up)[0].amount.amount == Decimal("40000.00")
    state, top = run([breach(360)], state)
    assert paid(top)[0].amount.amount == Decimal("50000.00")
    assert paid(top)[0].claim_paid_total.amount == Decimal("99000.00")
    claim = state.claims[claim_id("pol-1", "temperature")]
    assert (claim.status, claim.share, claim.paid) == (ClaimStatus.PAID, 1, Decimal("99000.00"))


def test_events_are_enveloped_with_derived_ids_and_cause_time() -> None:
    progress = breach(30)
    _, out = booked(progress)
    raised = out[0]
    assert raised.type == "tradelane.insurance.claim_raised.v1"
    assert raised.subject == "pol-1"
    assert raised.source == "/tradelane/finance/insurance"
    assert raised.time == progress.time
    assert raised.data.claim_id == claim_id("pol-1", "temperature")
    assert raised.data.cause_event_id == progress.id  # type: ignore[union-attr]
    assert len({e.id for e in out}) == 3
    assert ClaimEvent.model_validate_json(raised.model_dump_json()) == raised
    _, again = booked(progress)
    assert [e.id for e in again] == [e.id for e in out]


def test_redelivered_and_older_events_emit_nothing() -> None:
    state, _ = booked(breach(30), breach(120))
    for item in [breach(30), breach(120), breach(60), shipment_booking(), policy()]:
        state, out = apply(state, item)
        assert out == []


def test_gated_claim_waits_for_the_insurer_who_approves() -> None:
    state, out = booked(breach(45, devices=ONE_TRACKER))
    assert kinds(out) == ["claim_raised", "claim_needs_review"]
    findings = out[1].data.findings  # type: ignore[union-attr]
    assert [f.code.value for f in findings] == ["quorum"]
    approve = decide(out[0])
    state, done = run([approve], state)
    assert kinds(done) == ["claim_approved", "claim_paid"]
    assert done[0].data.approved_by == "insurer"  # type: ignore[union-attr]
    assert paid(done)[0].amount.amount == Decimal("9000.00")
    assert command_result(state, approve) is CommandResult.DUPLICATE
    _, again = run([approve], state)
    assert again == []


def test_rejection_is_final_for_the_trigger() -> None:
    state, out = booked(breach(45, devices=ONE_TRACKER))
    state, rejected = run([decide(out[0], Decision.REJECT)], state)
    assert kinds(rejected) == ["claim_rejected"]
    state, later = run([breach(400)], state)
    assert later == []
    assert state.claims[out[0].data.claim_id].status is ClaimStatus.REJECTED


def test_a_decision_on_a_share_since_upgraded_is_stale() -> None:
    state, out = booked(breach(45, devices=ONE_TRACKER), breach(150, devices=ONE_TRACKER))
    assert kinds(out) == [
        "claim_raised",
        "claim_needs_review",
        "claim_upgraded",
        "claim_needs_review",
    ]
    stale = decide(out[0], command_id="cmd-stale")
    assert command_result(state, stale) is CommandResult.STALE_SHARE
    state, nothing = run([stale], state)
    assert nothing == []
    state, done = run([decide(out[2], command_id="cmd-2")], state)
    # The insurer approved 50 %: both rungs pay, each as of its tier (30 and 120 minutes in).
    assert [(p.share, p.amount.amount, p.at) for p in paid(done)] == [
        (Decimal("0.1"), Decimal("9000.00"), T0 + timedelta(minutes=30)),
        (Decimal("0.5"), Decimal("40000.00"), T0 + timedelta(minutes=120)),
    ]


def test_upgrade_that_fails_the_gate_pays_only_the_increment_once_approved() -> None:
    state, _ = booked(breach(30))
    state, up = run([breach(130, devices=ONE_TRACKER, start_min=1000)], state)
    assert kinds(up) == ["claim_upgraded", "claim_needs_review"]
    state, done = run([decide(up[0])], state)
    assert paid(done)[0].amount.amount == Decimal("40000.00")
    assert paid(done)[0].claim_paid_total.amount == Decimal("49000.00")


@pytest.mark.parametrize(
    ("change", "result"),
    [
        ({"insurer_id": "ins-9"}, CommandResult.NOT_INSURER),
        ({"policy_id": "pol-9"}, CommandResult.MISMATCH),
        ({"shipment_id": "shp-9"}, CommandResult.MISMATCH),
        ({"claim_id": "0" * 32}, CommandResult.UNKNOWN_CLAIM),
    ],
)
def test_refused_decisions_change_nothing(change: dict[str, str], result: CommandResult) -> None:
    state, out = booked(breach(45, devices=ONE_TRACKER))
    bad = decide(out[0]).model_copy(update=change)
    assert command_result(state, bad) is result
    after, nothing = run([bad], state)
    assert nothing == []
    assert after.claims == state.claims
    assert after.decisions == {bad.command_id: result}
    assert command_result(after, bad) is CommandResult.DUPLICATE


def test_an_approved_claim_is_not_in_review() -> None:
    state, out = booked(breach(30))
    assert command_result(state, decide(out[0])) is CommandResult.NOT_IN_REVIEW


def test_a_decision_refused_before_its_claim_stays_refused() -> None:
    early = decide(booked(breach(45, devices=ONE_TRACKER))[1][0])
    state, nothing = booked(early, breach(45, devices=ONE_TRACKER))
    assert kinds(nothing) == ["claim_raised", "claim_needs_review"]
    assert state.decisions == {early.command_id: CommandResult.UNKNOWN_CLAIM}
    _, again = run([early], state)
    assert again == []
    _, fresh = run([early.model_copy(update={"command_id": "cmd-2"})], state)
    assert kinds(fresh) == ["claim_approved", "claim_paid"]


def test_payouts_of_all_claims_are_capped_at_the_sum_insured() -> None:
    full = [(0, "1")]
    p = policy(
        trigger(TriggerKind.TEMPERATURE, [(30, "0.7")]),
        trigger(TriggerKind.SHOCK, full, gate=DataQualityGate(quorum=1)),
        trigger(TriggerKind.DEVIATION, full),
        deductible="0",
    )
    state, out = run([shipment_booking(), p, breach(30), shock(20), shock(18, at_min=62)])
    amounts = [e.amount.amount for e in paid(out)]
    assert amounts == [Decimal("70000.00"), Decimal("30000.00")]
    assert paid(out)[1].capped
    assert paid(out)[1].policy_paid_total.amount == Decimal("100000.00")
    state, more = run([deviation(300)], state)
    assert kinds(more) == ["claim_raised", "claim_approved"]
    assert state.claims[more[0].data.claim_id].status is ClaimStatus.APPROVED


def test_lender_is_loss_payee_of_a_pledged_shipment_with_one_cause_id() -> None:
    state, out = booked(facility(), breach(30))
    pay = paid(out)[0]
    assert (pay.loss_payee, pay.payee_role, pay.facility_id) == (
        "bank-1",
        PayeeRole.LENDER,
        "fac-1",
    )
    assert pay.cause_id == payment_id(pay.claim_id, Decimal("0.1"))
    state, released = run([facility(shipments=[]), breach(130)], state)
    nxt = paid(released)[0]
    assert (nxt.loss_payee, nxt.payee_role, nxt.facility_id) == ("shipper-1", "insured", None)
    assert nxt.cause_id != pay.cause_id


def test_a_policy_registered_late_is_judged_on_what_was_seen() -> None:
    progress = breach(130)
    state, early = run([shipment_booking(), progress])
    assert early == []
    _, out = run([policy()], state)
    assert kinds(out) == [*RAISED_PAID, "claim_paid"]  # the 10 % rung, then the 50 %
    assert out[0].data.tier == 1
    assert out[0].data.cause_event_id == progress.id  # type: ignore[union-attr]
    assert out[0].time == T0 + timedelta(minutes=120)  # when the 2-hour tier was reached
    assert [e.time for e in out[2:]] == [T0 + timedelta(minutes=30), out[0].time]


def test_without_a_booking_the_quorum_is_over_the_devices_seen() -> None:
    _, alone = run([policy(), breach(30, devices=ONE_TRACKER)])
    assert kinds(alone) == RAISED_PAID
    _, outvoted = run([policy(), breach(5, devices=("trk-b", "trk-c")), breach(30, ONE_TRACKER)])
    assert kinds(outvoted) == ["claim_raised", "claim_needs_review"]


def test_delay_pays_at_arrival_against_the_booked_or_quoted_plan() -> None:
    delay = policy(trigger(TriggerKind.DELAY, [(24, "0.1")]))
    _, out = run([shipment_booking(), delay, arrived(30)])
    assert kinds(out) == RAISED_PAID
    quote = event(
        DelayPredicted(
            at=T0,
            eta=PLANNED_ARRIVAL + timedelta(hours=30),
            planned_arrival=PLANNED_ARRIVAL,
            delay_h=30,
        )
    )
    _, quoted = run([delay, quote, arrived(30)])
    assert kinds(quoted) == RAISED_PAID
    _, unplanned = run([delay, arrived(30)])
    assert unplanned == []


def test_delay_without_evidence_needs_review_unless_the_policy_waives_it() -> None:
    strict = policy(trigger(TriggerKind.DELAY, [(24, "0.1")]))
    _, out = run([shipment_booking(), strict, arrived(30, with_evidence=False)])
    assert kinds(out) == ["claim_raised", "claim_needs_review"]
    waived = policy(
        trigger(TriggerKind.DELAY, [(24, "0.1")], gate=DataQualityGate(require_evidence=False))
    )
    _, out = run([shipment_booking(), waived, arrived(30, with_evidence=False)])
    assert kinds(out) == RAISED_PAID


def test_shock_quorum_counts_trackers_that_each_felt_it() -> None:
    shock_policy = policy(trigger(TriggerKind.SHOCK, [(5, "0.2")]))
    _, one = run([shipment_booking(), shock_policy, shock(8)])
    assert kinds(one) == ["claim_raised", "claim_needs_review"]
    _, both = run([shipment_booking(), shock(8), shock(9, "trk-b"), shock_policy])
    assert kinds(both) == RAISED_PAID


def test_a_held_claim_is_approved_by_the_gate_when_later_readings_pass_it() -> None:
    shock_policy = policy(trigger(TriggerKind.SHOCK, [(5, "0.2")]))
    state, out = run([shipment_booking(), shock_policy, shock(8)])
    second = shock(9, "trk-b")
    state, later = run([second], state)
    assert kinds(later) == ["claim_approved", "claim_paid"]
    approved = later[0].data
    assert approved.approved_by == "gate"  # type: ignore[union-attr]
    assert second.data.evidence in approved.evidence  # type: ignore[union-attr]
    _, stale = run([decide(out[0])], state)
    assert stale == []


def test_repeated_trigger_kinds_make_separate_claims() -> None:
    p = policy(trigger(TriggerKind.TEMPERATURE), trigger(TriggerKind.TEMPERATURE, cumulative=True))
    _, out = run([shipment_booking(), p, breach(30)])
    raised = [e.data for e in out if e.data.kind == "claim_raised"]
    assert sorted(r.trigger for r in raised) == ["temperature.1", "temperature.2"]


def test_policy_records_that_would_corrupt_claims_are_ignored() -> None:
    odd = policy().model_copy(update={"deductible": Money(amount=Decimal(1), currency="EUR")})
    assert policy_result(InsuranceState(), odd) is PolicyResult.CURRENCY_MISMATCH
    state, _ = booked(breach(30))
    moved = policy(shipment="shp-2")
    assert policy_result(state, moved) is PolicyResult.TERMS_FROZEN
    assert apply(state, moved) == (state, [])
    assert policy_result(state, policy(sum_insured="200000")) is PolicyResult.OK


def test_state_round_trips_through_json_and_carries_on() -> None:
    state, _ = booked(facility(), breach(45, devices=ONE_TRACKER), breach(30, start_min=900))
    restored = InsuranceState.model_validate_json(state.model_dump_json())
    assert restored == state
    nxt = [breach(400), shock(30)]
    assert run(nxt, restored) == run(nxt, state)
