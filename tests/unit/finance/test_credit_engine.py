"""The borrower's credit profile drives the advance rates the pledge engine values at.

Stories: a punctual seller rises a band and its collateral is valued at the higher rates from
that input on; breaches lower the band; a redelivered event counts once; margin calls and
insurers' payouts reach the history; rates stay within the bank's bounds; a facility without
bands keeps its history and announces nothing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypeVar

from finance.credit import profile_of
from finance.facility_state import FacilityState, dump_state, new_state
from finance.pledge_engine import EngineInput, apply, apply_in_place
from finance.step import Outputs
from tests.unit.finance import builders as b
from tradelane.contracts import CollateralStatus, Milestone
from tradelane.contracts.credit import AdvanceRatesChanged, CreditScoreChanged
from tradelane.contracts.finance import BorrowingBaseChanged, RepaymentSource
from tradelane.contracts.registries import AdvanceBounds, ScoreBand, ScoreBands

IN_TRANSIT, IN_WAREHOUSE = CollateralStatus.IN_TRANSIT, CollateralStatus.IN_WAREHOUSE
BANDS = ScoreBands(
    bounds={
        IN_TRANSIT: AdvanceBounds(min=Decimal("0.4"), max=Decimal("0.7")),
        IN_WAREHOUSE: AdvanceBounds(min=Decimal("0.6"), max=Decimal("0.85")),
    },
    bands=[
        ScoreBand(name="watch", min_score=0, advance_rates={IN_TRANSIT: Decimal("0.4")}),
        ScoreBand(name="standard", min_score=495, advance_rates={IN_TRANSIT: Decimal("0.6")}),
        ScoreBand(
            name="prime",
            min_score=560,
            advance_rates={IN_TRANSIT: Decimal("0.7"), IN_WAREHOUSE: Decimal("0.85")},
        ),
    ],
)
"""A new seller (score 500) is ``standard``: the facility's own 60 % in transit."""
T = TypeVar("T")


def _play(items: list[EngineInput]) -> tuple[FacilityState, list[Outputs]]:
    state = b.play(b.setup(score_bands=BANDS))[0]
    outputs = []
    for item in items:
        state, out = apply(state, item)
        outputs.append(out)
    return state, outputs


def _of(out: Outputs, kind: type[T]) -> list[T]:
    return [e.data for e in out.events if isinstance(e.data, kind)]


def _line_rate(out: Outputs, shipment_id: str) -> Decimal:
    (changed,) = _of(out, BorrowingBaseChanged)
    return next(line.advance_rate for line in changed.collateral if line.shipment_id == shipment_id)


def test_a_punctual_seller_rises_a_band_and_its_collateral_is_valued_higher() -> None:
    items: list[EngineInput] = [
        b.milestone(Milestone.DEPARTED_ORIGIN, 1, True, b.SHP),  # planned at 0: on time
        b.milestone(Milestone.DEPARTED_ORIGIN, 2, True, b.SHP2),
        b.milestone(Milestone.ARRIVED_DESTINATION, 24 * 20 + 2, True, b.SHP),
        b.milestone(Milestone.DELIVERED, 24 * 21, True, b.SHP),
    ]
    state, outputs = _play(items)

    assert [_of(o, AdvanceRatesChanged) for o in outputs[:3]] == [[], [], []]
    (change,) = _of(outputs[3], AdvanceRatesChanged)
    assert (change.old_band, change.new_band) == ("standard", "prime")
    assert change.old_score < 560 <= change.new_score
    assert change.old_rates[IN_TRANSIT] == Decimal("0.6")
    assert change.new_rates == {
        IN_TRANSIT: Decimal("0.7"),
        IN_WAREHOUSE: Decimal("0.85"),
        CollateralStatus.DELIVERED: Decimal(0),
    }
    assert change.moved[0].name == "delivery_quality"  # the delivery moved it most
    assert change.at == b.at(24 * 21)
    kinds = [e.data.kind for e in outputs[3].events]
    assert kinds.index("advance_rates_changed") < kinds.index("borrowing_base_changed")
    assert _line_rate(outputs[3], b.SHP2) == Decimal("0.7")  # every shipment, not the subject
    assert state.advance_rates[IN_TRANSIT] == Decimal("0.7")
    assert profile_of(state).score == change.new_score
    history = state.credit.history
    assert (history.milestones_on_time, history.shipments_in_spec) == (3, 1)


def test_scores_are_announced_when_they_move_ten_points_or_change_band() -> None:
    items: list[EngineInput] = [
        b.milestone(Milestone.DEPARTED_ORIGIN, 1, True, b.SHP),  # 500 -> 515
        b.milestone(Milestone.DEPARTED_ORIGIN, 2, True, b.SHP2),  # 525: 10 from 515
        b.milestone(Milestone.ARRIVED_DESTINATION, 24 * 20 + 2, True, b.SHP),  # 532: 7 from 525
    ]
    _, outputs = _play(items)
    shown = [[(s.previous_score, s.score) for s in _of(o, CreditScoreChanged)] for o in outputs]
    assert shown == [[(500, 515)], [(515, 525)], []]
    (first,) = _of(outputs[0], CreditScoreChanged)
    assert first.band == first.previous_band == "standard"
    assert sum(f.points for f in first.factors) == first.score
    assert first.factors[0].name == "repayment_punctuality"


def test_breaches_lower_the_band_and_a_redelivery_counts_nothing() -> None:
    breach, again = b.breach_started(10, b.SHP), b.breach_started(30, b.SHP2)
    items: list[EngineInput] = [
        b.milestone(Milestone.DEPARTED_ORIGIN, 1, True, b.SHP),
        breach,  # an excursion: 515 -> 500, still standard
        again,  # a second one: 490, below the band
        breach,  # redelivered: nothing
        b.milestone(Milestone.DEPARTED_ORIGIN, 36, True, b.SHP2),  # 36 h after plan: late
    ]
    state, outputs = _play(items)

    assert _of(outputs[1], AdvanceRatesChanged) == []
    (change,) = _of(outputs[2], AdvanceRatesChanged)
    assert (change.old_band, change.new_band) == ("standard", "watch")
    assert change.moved[0].name == "condition_excursions"
    assert change.new_rates[IN_TRANSIT] == Decimal("0.4")
    assert _line_rate(outputs[2], b.SHP) == Decimal("0.4")
    assert outputs[3].events == ()  # the redelivered breach
    assert state.credit.history.excursions == 2
    assert state.credit.history.milestones_late == 1
    assert state.shipments[b.SHP2].credited == [
        f"excursion:temperature_high:consecutive:{b.at(30).isoformat()}",
        "milestone:departed_origin",
    ]


def test_an_insurers_payout_is_a_claim_and_an_expired_margin_call_a_late_instalment() -> None:
    items: list[EngineInput] = [
        b.milestone(Milestone.DEPARTED_ORIGIN, 1, True, b.SHP),  # draws half the advance: 515
        b.breach_started(1.5, b.SHP),  # 500
        b.eur_usd("0.40", 2),  # collateral falls: margin call, 48 h to cure
        b.tick(60),  # expired: an instalment late, 481, below the band
        b.repayment("1000", 61, "payout-1", b.SHP, "USD", RepaymentSource.INSURANCE),
        b.repayment("1000", 61, "payout-1", b.SHP, "USD", RepaymentSource.INSURANCE),
    ]
    state, outputs = _play(items)

    assert [e.data.kind for e in outputs[2].events].count("margin_call_issued") == 1
    kinds = [e.data.kind for e in outputs[3].events]
    assert kinds.index("margin_call_expired") < kinds.index("advance_rates_changed")
    assert kinds.index("advance_rates_changed") < kinds.index("borrowing_base_changed")
    (change,) = _of(outputs[3], AdvanceRatesChanged)
    assert (change.new_band, change.moved[0].name) == ("watch", "repayment_punctuality")
    assert _line_rate(outputs[3], b.SHP) == Decimal("0.4")  # the base settled again at once
    assert len({e.id for e in outputs[3].events}) == len(outputs[3].events)
    history = state.credit.history
    assert history.repayments_late_1_7_days == 1
    assert history.claims == 1  # the redelivered payout is not a second claim
    assert outputs[5].events == ()


def test_a_margin_call_cured_by_repayment_is_an_instalment_on_time() -> None:
    items: list[EngineInput] = [
        b.milestone(Milestone.DEPARTED_ORIGIN, 1, True, b.SHP),
        b.eur_usd("0.40", 2),
        b.repayment("60000", 20),
    ]
    state, outputs = _play(items)

    assert "margin_call_cured" in [e.data.kind for e in outputs[2].events]
    assert state.credit.history.repayments_on_time == 1


def test_rates_stay_within_the_banks_bounds_whatever_the_score() -> None:
    """The facility lends 90 % in warehouse; the bank bounds it to 60-85 %: every band holds
    it at 85 %, a band's rate may not go past the bounds either."""
    state = b.play(
        b.setup(
            score_bands=BANDS,
            advance_rates={IN_TRANSIT: Decimal("0.6"), IN_WAREHOUSE: Decimal("0.9")},
        )
    )[0]
    assert state.advance_rates == {IN_TRANSIT: Decimal("0.6"), IN_WAREHOUSE: Decimal("0.85")}
    state, out = apply(state, b.milestone(Milestone.ENTERED_BONDED_WAREHOUSE, 5, True, b.SHP))
    assert _line_rate(out, b.SHP) == Decimal("0.85")


def test_without_bands_the_profile_is_shown_and_no_rate_moves() -> None:
    """The borrower sees its score (a profile of its own), the rates stay the terms'."""
    state, outputs = b.play(
        [
            *b.setup(),
            b.milestone(Milestone.DEPARTED_ORIGIN, 1, True, b.SHP),
            b.milestone(Milestone.DELIVERED, 100, True, b.SHP),
        ]
    )
    kinds = {e.data.kind for o in outputs for e in o.events}
    assert "advance_rates_changed" not in kinds
    shown = [e.data for o in outputs for e in o.events if e.data.kind == "credit_score_changed"]
    assert shown
    assert all(d.band is None and d.factors for d in shown)  # type: ignore[union-attr]
    assert state.credit.history.shipments_in_spec == 1
    assert state.credit.rates is None
    assert state.advance_rates == b.facility().advance_rates


def test_the_fast_path_values_every_shipment_again_when_the_score_moves_the_rates() -> None:
    """A breach on a shipment that has not departed leaves its own value at nothing, but the
    band it costs lowers the rate of the shipment in transit: the in-place step must not
    take the base for unchanged."""
    items: list[EngineInput] = [
        *b.setup(score_bands=BANDS),
        b.milestone(Milestone.DEPARTED_ORIGIN, 1, True, b.SHP),
        b.breach_started(2, b.SHP2),
        b.breach_started(3, b.SHP2),  # the band falls to watch
    ]
    reference, fast = new_state(b.FAC), new_state(b.FAC)
    for item in items:
        reference, expected = apply(reference, item)
        assert apply_in_place(fast, item) == expected
        assert dump_state(fast) == dump_state(reference)
    assert _line_rate(expected, b.SHP) == Decimal("0.4")


def test_instalments_paid_count_on_time_or_late_once() -> None:
    """Delivered 12 March: half due 11 April, half 11 May (b.plan()). The first is paid on
    time, the second 10 days late; a redelivered payment counts nothing more."""
    pay_late = b.repayment("40000", 24 * 80, cause_id="pay-2", shipment_id=b.SHP)
    state, _ = b.play(
        [
            *b.setup(repayment_plan=b.plan()),
            b.milestone(Milestone.DEPARTED_ORIGIN, 1, True, b.SHP),
            b.milestone(Milestone.DELIVERED, 240, True, b.SHP),
            b.repayment("34000", 24 * 29, cause_id="pay-1", shipment_id=b.SHP),
            pay_late,
            pay_late,
        ]
    )
    history = state.credit.history
    assert (history.repayments_on_time, history.repayments_late) == (1, 1)
    assert history.days_late_total == 10
