"""A claim must not depend on the order the trackers' readings arrive in.

The streams keep a breach excursion per tracker, so one warm container reaches the engine as
one episode per tracker. A tracker that flushes its store after a coverage gap delivers its
whole episode after its sibling's: the engine must pay the same once both are in as when the
two arrived interleaved in event time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from finance.insurance import InsuranceState, apply
from finance.insurance.engine import Input
from tests.unit.finance.insurance.builders import T0, breach, policy, shipment_booking
from tradelane.contracts import BreachProgress, ClaimEvent, ClaimPaid, ShipmentEvent

MARKS = (30, 45, 120, 135, 370)
"""Minutes at which each tracker reports its episode's progress (the tiers are 30/120/360)."""


def progress(device: str, start_min: float) -> list[ShipmentEvent]:
    return [breach(m, devices=(device,), start_min=start_min, step_min=2) for m in MARKS]


def paid(items: list[Input]) -> tuple[Decimal, list[ClaimEvent]]:
    state, out = InsuranceState(), []
    for item in items:
        state, events = apply(state, item)
        out += events
    return sum(
        (e.data.amount.amount for e in out if isinstance(e.data, ClaimPaid)), Decimal(0)
    ), out


def by_event_time(events: list[ShipmentEvent]) -> list[ShipmentEvent]:
    return sorted(events, key=lambda e: (e.time, e.id))


A, B = progress("trk-a", 0), progress("trk-b", 1)
PRIORS: list[Input] = [shipment_booking(), policy()]


def test_a_tracker_flushed_after_its_sibling_joins_the_excursion_and_the_claim_pays() -> None:
    interleaved, _ = paid([*PRIORS, *by_event_time(A + B)])
    flushed, out = paid([*PRIORS, *A, *B])
    assert interleaved == flushed == Decimal(100000 - 1000)  # the 100 % tier, one deductible
    held = [e for e in out if e.data.kind == "claim_needs_review"]
    assert held, "one tracker alone must not pay"
    assert out[-1].data.kind == "claim_paid"
    assert out[-1].data.share == 1


def test_one_tracker_alone_pays_nothing_whatever_its_order() -> None:
    total, out = paid([*PRIORS, *A])
    assert total == 0
    assert {e.data.kind for e in out} == {"claim_raised", "claim_needs_review", "claim_upgraded"}


def test_a_long_excursion_proves_its_tier_with_the_readings_of_its_first_hours() -> None:
    """The streams keep a tracker's first 200 readings as evidence: 6.6 h at 2 minutes. A
    14-hour excursion proves the 6-hour tier with them (its coverage is judged against the
    tier's duration, not the whole episode's)."""
    capped = [
        breach(14 * 60, devices=(d,), step_min=2).model_copy(
            update={"data": _with_evidence(breach(14 * 60, (d,)), breach(400, (d,), step_min=2))}
        )
        for d in ("trk-a", "trk-b")
    ]
    total, _ = paid([*PRIORS, *capped])
    assert total == Decimal(100000 - 1000)


def _with_evidence(event: ShipmentEvent, source: ShipmentEvent) -> BreachProgress:
    """``event``'s progress, citing ``source``'s readings (the first 400 minutes)."""
    assert isinstance(event.data, BreachProgress)
    assert isinstance(source.data, BreachProgress)
    return event.data.model_copy(update={"evidence": source.data.evidence})


@settings(max_examples=60, deadline=None)
@given(st.permutations(A + B))
def test_any_arrival_order_pays_what_event_time_order_pays(order: list[ShipmentEvent]) -> None:
    want, _ = paid([*PRIORS, *by_event_time(A + B)])
    got, _ = paid([*PRIORS, *order])
    assert got == want


Payout = tuple[datetime, Decimal, Decimal, str]


def payouts(items: list[Input]) -> list[Payout]:
    """Each payment's date, share, amount and cause id: what the lender books."""
    _, out = paid(items)
    return sorted(
        (e.time, e.data.share, e.data.amount.amount, e.data.cause_id)
        for e in out
        if isinstance(e.data, ClaimPaid)
    )


def one_late(events: list[ShipmentEvent], late: str, kept: int) -> list[ShipmentEvent]:
    """Event-time order, except that ``late``'s events after its first ``kept`` come after all
    the others (a tracker flushing its store after a coverage gap)."""
    ordered = by_event_time(events)
    own = [e for e in ordered if e.data.evidence.readings[0].device_id == late]  # type: ignore[union-attr]
    return [e for e in ordered if e not in own[kept:]] + own[kept:]


@settings(max_examples=60, deadline=None)
@given(
    late=st.sampled_from(["trk-a", "trk-b"]),
    kept=st.integers(0, len(MARKS)),
    offset=st.integers(0, 20),
    marks=st.lists(st.integers(30, 400), min_size=1, max_size=5, unique=True),
)
def test_late_evidence_pays_each_tier_as_of_when_it_was_reached(
    late: str, kept: int, offset: int, marks: list[int]
) -> None:
    """One tracker's evidence late (the published order) pays what event-time order pays: the
    same rungs, each dated when its tier was reached, not when the evidence approving the
    claim arrived; the lender's interest then does not depend on the arrival order."""
    every = sorted({*marks, 370})
    a = [breach(m, devices=("trk-a",), step_min=2) for m in every]
    b = [breach(m, devices=("trk-b",), start_min=offset, step_min=2) for m in MARKS]
    want = payouts([*PRIORS, *by_event_time(a + b)])
    got = payouts([*PRIORS, *one_late(a + b, late, kept)])
    assert got == want
    # 10 %, 50 %, 100 %: tiers of 30, 120 and 360 minutes from the first tracker's start.
    assert [(share, at) for at, share, _, _ in want] == [
        (Decimal(share), T0 + timedelta(minutes=minutes))
        for share, minutes in (("0.1", 30), ("0.5", 120), ("1", 360))
    ]
