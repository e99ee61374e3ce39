"""The pledge engine honours the collateral register: a capped pledge is valued at what it
secures, a refused one at nothing (and its tranches are rejected ``collateral_already_pledged``),
another facility's later pledge is only announced, and every decision is published once.

Setup (see builders): USD 1,000,000 limit; shp-1 and shp-2 pledged, each EUR 200,000 at
EUR/USD 1.10; 60 % advance in transit; half of it drawn at departure.
"""

from __future__ import annotations

from decimal import Decimal

from finance.pledge_engine import apply
from tests.unit.finance.builders import (
    SHP,
    SHP2,
    booking,
    eur,
    facility,
    milestone,
    play,
    pledge_decided,
    setup,
)
from tradelane.contracts import Milestone, Money
from tradelane.contracts.finance import (
    BorrowingBaseChanged,
    DrawdownExecuted,
    DrawdownRejected,
    MarginCallIssued,
    PledgeCode,
    PledgeDecided,
    RepaymentApplied,
    ResultCode,
)

DEP = Milestone.DEPARTED_ORIGIN


def _data(outputs: list, kind: type) -> list:  # type: ignore[type-arg]
    return [e.data for out in outputs for e in out.events if isinstance(e.data, kind)]


def _line_value(outputs: list, shipment: str) -> Decimal | None:  # type: ignore[type-arg]
    last = _data(outputs, BorrowingBaseChanged)[-1]
    line = next(line for line in last.collateral if line.shipment_id == shipment)
    return None if line.value is None else line.value.amount


def test_a_capped_pledge_is_valued_and_drawn_on_its_capped_value() -> None:
    state, outputs = play([*setup(), pledge_decided("100000"), milestone(DEP, 1)])
    assert _line_value(outputs, SHP) == Decimal("110000.00")  # EUR 100,000, not 200,000
    (drawn,) = _data(outputs, DrawdownExecuted)
    assert drawn.amount.amount == Decimal("33000.00")  # half of 60 % of USD 110,000
    assert state.shipments[SHP].pledge_code is PledgeCode.PLEDGE_CAPPED_TO_CARGO_VALUE
    (published,) = _data(outputs, PledgeDecided)
    assert published == pledge_decided("100000")  # the register's record, unchanged


def test_a_refused_pledge_secures_nothing_and_its_tranche_is_rejected() -> None:
    state, outputs = play([*setup(), pledge_decided("0"), milestone(DEP, 1)])
    assert outputs[-1].result is ResultCode.COLLATERAL_ALREADY_PLEDGED
    (rejected,) = _data(outputs, DrawdownRejected)
    assert rejected.code is ResultCode.COLLATERAL_ALREADY_PLEDGED
    assert state.base == 0
    assert state.principal == 0


def test_another_facilitys_later_pledge_is_announced_and_changes_nothing() -> None:
    later = pledge_decided("0", concerns="later_pledge")
    before, _ = play([*setup(), milestone(DEP, 1)])
    after, out = apply(before, later)
    assert [e.data for e in out.events] == [later]
    assert after.shipments == before.shipments
    assert after.principal == before.principal


def test_a_redelivered_decision_changes_nothing_and_publishes_nothing() -> None:
    state, _ = play([*setup(), pledge_decided("100000")])
    again, out = apply(state, pledge_decided("100000", hours=3))
    assert not out.events
    assert not out.entries
    assert again == state


def test_a_cap_after_a_drawdown_shrinks_the_base_and_calls_margin() -> None:
    """Outside the worker (a replay, or a pledge that changed after drawing) a decision can
    follow a drawdown: the base drops to what the pledge secures and the rules apply."""
    terms = {"drawdown_schedule": {DEP.value: Decimal(1)}}
    _, outputs = play([*setup(**terms), milestone(DEP, 1), pledge_decided("50000", hours=2)])
    assert _data(outputs, DrawdownExecuted)[0].amount.amount == Decimal("132000.00")
    assert _line_value(outputs, SHP) == Decimal("55000.00")
    (call,) = _data(outputs, MarginCallIssued)
    assert call.shortfall.amount == Decimal("99000.00")  # 132,000 lent on 60 % of 55,000


def test_the_terms_pledge_amount_caps_the_value() -> None:
    terms = facility(pledge_amounts={SHP: eur(150_000)})
    _, outputs = play([terms, booking(SHP), booking(SHP2), *setup()[3:], milestone(DEP, 1)])
    assert _line_value(outputs, SHP) == Decimal("165000.00")
    # an amount in another currency than the cargo's secures nothing
    terms = facility(pledge_amounts={SHP: Money(amount=Decimal(150_000), currency="USD")})
    state, outputs = play([terms, booking(SHP), booking(SHP2), *setup()[3:], milestone(DEP, 1)])
    assert state.base == 0
    assert outputs[-1].result is ResultCode.NOTHING_TO_DRAW


def test_delivery_repays_from_the_share_the_pledge_secures() -> None:
    story = [
        *setup(),
        pledge_decided("100000"),
        milestone(DEP, 1),
        milestone(Milestone.DELIVERED, 30),
    ]
    _, outputs = play(story)
    (repaid,) = _data(outputs, RepaymentApplied)
    assert repaid.received.amount == Decimal("100000.00")  # EUR, the capped share
