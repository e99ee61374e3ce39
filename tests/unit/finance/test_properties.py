"""Properties of the pledge engine over arbitrary input sequences, with duplicates and replays.

For any sequence of shipment events, FX updates and commands (in any order, times jumping
back and forth, each input possibly redelivered later):

* every ledger entry balances, and the whole chain verifies;
* the ledger agrees with the state (principal, interest due) at every step;
* outstanding principal never exceeds the limit;
* no drawdown exceeds the headroom at its time, or the limit;
* at most one drawdown per (facility, shipment, milestone);
* redelivering inputs, or replaying the whole sequence, leaves ledger and events unchanged;
* no float ever reaches the ledger;
* under a staged repayment plan: a plan's instalments add up to the principal it was set on,
  no instalment is paid beyond its amount and the open instalments of a shipment add up to
  the principal it owes (so no payment repays more than is owed), and no day accrues default
  interest before the first instalment in it was past due + grace;
* with score bands, every advance rate collateral is valued at lies within the bank's bounds
  (a status without bounds keeps the facility's rate).
"""

from __future__ import annotations

import os
from decimal import Decimal

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from finance.facility_state import FacilityState, new_state
from finance.ledger import balances, is_balanced, verify
from finance.pledge_engine import EngineInput, apply
from finance.repayment_plan import instalment_id, outstanding
from finance.step import Outputs
from tests import strategies as _base  # noqa: F401  first: it completes tests.finance_strategies
from tests.finance_strategies import score_bands
from tests.unit.finance import builders as b
from tradelane.contracts import CollateralStatus, Facility, Milestone
from tradelane.contracts.finance import LedgerAccount, LedgerEntry, RepaymentSource
from tradelane.contracts.registries import AdvanceBounds, PlanStart, ScoreBand, ScoreBands
from tradelane.contracts.seller import Choice, ConfirmationTerms, TrancheDecision

HOURS = st.integers(0, 24 * 30)
SHIPMENTS = st.sampled_from([b.SHP, b.SHP2, "shp-x"])
PLEDGED = st.sampled_from([b.SHP, b.SHP2])
CAUSES = st.sampled_from(["c-1", "c-2", "c-3", "c-4"])
AMOUNTS = st.decimals(min_value=Decimal(1), max_value=Decimal(150_000), places=2).map(str)

IN_SPEC = st.sampled_from([True, True, True, False])
_TRANSIT, _WAREHOUSE = CollateralStatus.IN_TRANSIT, CollateralStatus.IN_WAREHOUSE
NEAR_BANDS = ScoreBands(
    bounds={
        _TRANSIT: AdvanceBounds(min=Decimal("0.3"), max=Decimal("0.7")),
        _WAREHOUSE: AdvanceBounds(min=Decimal("0.5"), max=Decimal("0.75")),
    },
    bands=[
        ScoreBand(name="low", min_score=0, advance_rates={_TRANSIT: Decimal("0.3")}),
        ScoreBand(name="mid", min_score=490, advance_rates={}),
        ScoreBand(name="high", min_score=505, advance_rates={_TRANSIT: Decimal("0.7")}),
        ScoreBand(name="top", min_score=520, advance_rates={_WAREHOUSE: Decimal("0.75")}),
    ],
)
"""Bands a few events apart around a new seller's 500, so stories cross them often."""


@st.composite
def clicks(draw: st.DrawFn) -> TrancheDecision:
    """A decision on a tranche: an amount with change_amount only (as the contract wants)."""
    choice = draw(st.sampled_from(Choice))
    amount = (
        draw(st.sampled_from(["5000.00", "90000.00"])) if choice is Choice.CHANGE_AMOUNT else None
    )
    return b.decision(
        draw(st.sampled_from(Milestone)),
        draw(HOURS),
        choice,
        amount,
        draw(CAUSES.map(lambda c: f"click-{c}")),
        draw(PLEDGED),
        draw(st.sampled_from(["shipper-1", "shipper-1", "someone-else"])),
    )


DELIVERY_HOURS = st.sampled_from([240, 480])
"""Deliveries at known times, so delay requests can name the instalments they planned."""


@st.composite
def delay_clicks(draw: st.DrawFn) -> EngineInput:
    """A delay request for an instalment a delivery at :data:`DELIVERY_HOURS` planned, or the
    bank's answer to one; some by the wrong party, some for dates not later."""
    shipment = draw(PLEDGED)
    if draw(st.booleans()):
        planned = instalment_id(shipment, draw(st.integers(0, 2)), b.at(draw(DELIVERY_HOURS)))
        return b.delay_request(
            planned,
            draw(st.integers(24 * 5, 24 * 60)),
            draw(HOURS),
            draw(CAUSES.map(lambda c: f"delay-{c}")),
            shipment,
            draw(st.sampled_from(["shipper-1", "shipper-1", "someone-else"])),
        )
    return b.delay_decision(
        draw(st.booleans()),
        draw(HOURS),
        draw(CAUSES.map(lambda c: f"delay-{c}")),
        draw(CAUSES.map(lambda c: f"answer-{c}")),
        shipment,
        draw(st.sampled_from(["bank-1", "bank-1", "shipper-1"])),
    )


inputs: st.SearchStrategy[EngineInput] = st.one_of(
    st.builds(b.milestone, st.sampled_from(Milestone), HOURS, IN_SPEC, SHIPMENTS),
    st.builds(b.milestone, st.sampled_from(Milestone), HOURS, IN_SPEC, SHIPMENTS),
    st.builds(b.breach_started, HOURS, PLEDGED),
    st.builds(b.breach_progress, st.integers(0, 24 * 20), st.integers(1, 600), PLEDGED),
    st.builds(b.breach_ended, st.integers(0, 24 * 20), st.integers(1, 600), PLEDGED),
    st.builds(b.tamper, HOURS, PLEDGED),
    st.builds(b.silent, HOURS, PLEDGED),
    st.builds(b.resumed, HOURS, PLEDGED),
    st.builds(b.eur_usd, st.sampled_from(["0.80", "1.10", "1.25", "2.00"]), HOURS),
    st.builds(b.request, st.sampled_from(Milestone), HOURS, CAUSES, SHIPMENTS),
    st.builds(
        b.repayment,
        AMOUNTS,
        HOURS,
        CAUSES.map(lambda c: f"pay-{c}"),
        st.none() | PLEDGED,
        st.sampled_from(["USD", "EUR"]),
        st.sampled_from(RepaymentSource),
    ),
    st.builds(b.sale, AMOUNTS, HOURS, CAUSES.map(lambda c: f"sale-{c}"), PLEDGED),
    st.builds(b.tick, HOURS),
    st.builds(
        b.pledge_decided, st.sampled_from(["0", "50000", "200000"]), HOURS, PLEDGED
    ),  # the collateral register capping, refusing or restoring a pledge
    clicks(),  # the borrower's decisions on tranches, some by the wrong party
    st.builds(b.eta, HOURS, st.integers(24 * 5, 24 * 40), PLEDGED),
    st.builds(b.milestone, st.just(Milestone.DELIVERED), DELIVERY_HOURS, IN_SPEC, PLEDGED),
    delay_clicks(),  # the borrower asking to move an instalment, the bank answering
)
terms = st.fixed_dictionaries(
    {
        "auto_drawdown": st.booleans(),
        "margin_call_threshold": st.sampled_from([Decimal(0), Decimal("0.1"), Decimal(1)]),
        "concentration_limit": st.sampled_from([Decimal("0.05"), Decimal("0.5"), Decimal(1)]),
        "limit": st.sampled_from(["50000", "1000000"]).map(
            lambda a: {"amount": a, "currency": "USD"}
        ),
        "margin_call_cure_hours": st.sampled_from([0, 48]),
        "confirmation": st.none()
        | st.builds(
            ConfirmationTerms,
            window_hours=st.sampled_from([1, 48]),
            on_deadline=st.sampled_from(["skip", "execute"]),
        ),
        "reminder_days": st.sampled_from([0, 3]),
        "repayment_plan": st.none()
        | st.sampled_from(
            [
                b.plan(),
                b.plan((0, 3, 9), grace_days=0, default_rate="0.20"),
                b.plan((1, 4), grace_days=1, start=PlanStart.SALE),
            ]
        ),
        "score_bands": st.none() | st.just(NEAR_BANDS) | score_bands(),
    }
)


@st.composite
def with_redeliveries(draw: st.DrawFn, items: list[EngineInput]) -> list[EngineInput]:
    """``items`` with some of them delivered again, each somewhere after its first delivery."""
    out = list(items)
    for _ in range(draw(st.integers(0, len(items)))):
        index = draw(st.integers(0, len(items) - 1))
        position = draw(st.integers(out.index(items[index]) + 1, len(out)))
        out.insert(position, items[index])
    return out


def _walk_for_floats(value: object, path: str = "entry") -> None:
    if isinstance(value, float):
        raise AssertionError(f"float at {path}: {value!r}")
    if isinstance(value, dict):
        for key, item in value.items():
            _walk_for_floats(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _walk_for_floats(item, f"{path}[{i}]")


def _check_step(out: Outputs, limit: Decimal) -> None:
    for envelope in out.events:
        data = envelope.data
        if data.kind == "drawdown_executed":
            assert data.amount.amount <= data.headroom_before.amount
            assert data.outstanding_after.amount <= limit
            assert data.amount.amount > 0


def _check_plans(before: FacilityState, after: FacilityState, out: Outputs) -> None:
    """A step under a staged repayment plan (see the module docstring)."""
    for shipment in after.shipments.values():
        assert all(0 <= i.paid <= i.amount for i in shipment.instalments)
        if shipment.plan_start is not None:
            assert outstanding(shipment.instalments) == shipment.principal
    # Days closed in the step accrue default on the instalments as the step found them.
    open_before = [i for s in before.shipments.values() for i in s.instalments if i.open_amount]
    for envelope in out.events:
        data = envelope.data
        if data.kind == "repayment_plan_set":
            assert sum(i.amount.amount for i in data.instalments) == data.principal.amount
            held = before.shipments.get(data.shipment_id)
            assert data.principal.amount in {
                None if held is None else held.principal,
                after.shipments[data.shipment_id].principal,
            }
        if data.kind == "default_interest_accrued":
            assert data.day >= min(i.default_from for i in open_before)
            event("default interest")


def check_rates(out: Outputs, terms: Facility) -> None:
    """Every rate a base was valued at, or a score moved to, is within the bank's bounds."""
    bands = terms.score_bands
    if bands is None:
        return
    rates: list[tuple[CollateralStatus, Decimal]] = []
    for envelope in out.events:
        data = envelope.data
        if data.kind == "advance_rates_changed":
            assert set(data.new_rates) == set(terms.advance_rates)
            rates += data.new_rates.items()
        elif data.kind == "borrowing_base_changed":
            rates += [(c.status, c.advance_rate) for c in data.collateral if c.value and c.status]
    for status, rate in rates:
        bound = bands.bounds.get(status)
        if bound is None:
            assert rate == terms.advance_rates.get(status, Decimal(0))
        else:
            assert bound.min <= rate <= bound.max


def _play(items: list[EngineInput]) -> tuple[list[LedgerEntry], list[Outputs]]:
    state = new_state(b.FAC)
    ledger: list[LedgerEntry] = []
    outputs: list[Outputs] = []
    for item in items:
        before = state
        state, out = apply(state, item)
        _check_plans(before, state, out)
        outputs.append(out)
        ledger.extend(out.entries)
        if state.terms is not None:
            _check_step(out, state.terms.limit.amount)
            check_rates(out, state.terms)
            assert state.principal <= state.terms.limit.amount
        sums = balances(ledger)
        assert sums[LedgerAccount.LOAN_PRINCIPAL] == state.principal
        assert sums[LedgerAccount.INTEREST_RECEIVABLE] == state.interest_due
        assert state.principal == sum((s.principal for s in state.shipments.values()), Decimal(0))
        assert state.principal >= 0
        assert state.interest_due >= 0
    return ledger, outputs


@settings(
    max_examples=int(os.environ.get("FINANCE_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(terms, st.lists(inputs, min_size=1, max_size=25), st.data())
def test_invariants_hold_for_any_sequence_with_redeliveries(
    options: dict[str, object], story: list[EngineInput], data: st.DataObject
) -> None:
    registry: list[EngineInput] = [b.facility(**options), b.booking(b.SHP), b.booking(b.SHP2)]
    registry.append(b.eur_usd())
    departures: list[EngineInput] = [
        b.milestone(Milestone.DEPARTED_ORIGIN, data.draw(st.integers(0, 5)), True, shipment)
        for shipment in data.draw(st.sampled_from([[], [b.SHP], [b.SHP, b.SHP2]]))
    ]
    items = registry + departures + story
    ledger, outputs = _play(items)

    assert all(is_balanced(entry) for entry in ledger)
    result = verify(b.FAC, ledger)
    assert result.ok, result.problems
    drawn = [
        (e.data.shipment_id, e.data.milestone)
        for out in outputs
        for e in out.events
        if e.data.kind == "drawdown_executed"
    ]
    assert len(drawn) == len(set(drawn)), "two drawdowns for one (shipment, milestone)"
    for kind in sorted({e.data.kind for out in outputs for e in out.events}):
        event(kind)  # coverage: which outcomes the examples reached
    for entry in ledger:
        _walk_for_floats(entry.model_dump())

    redelivered = data.draw(with_redeliveries(items))
    ledger_again, outputs_again = _play(redelivered)
    assert ledger_again == ledger
    assert [e for o in outputs_again for e in o.events] == [e for o in outputs for e in o.events]

    replayed_ledger, replayed = _play(items + items)
    assert replayed_ledger == ledger, "replaying every input again posts nothing new"
    assert not [e for o in replayed[len(items) :] for e in o.events]
