"""The ledger fold (finance/positions.py) against the engine, and the surplus rule.

For any input sequence the engine can be given, folding the entries it posted gives the
engine's own principal and interest due after every step, per shipment too; outstanding never
goes below zero; and a payout larger than the loan pays it off and books the rest for the
borrower."""

from __future__ import annotations

import os
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finance.facility_state import new_state
from finance.ledger import balances, verify
from finance.pledge_engine import EngineInput, apply, run
from finance.positions import advance, by_shipment, fold
from tests.unit.finance import builders as b
from tests.unit.finance.test_properties import inputs, terms
from tradelane.contracts import Milestone
from tradelane.contracts.finance import (
    InterestAdjusted,
    LedgerAccount,
    LedgerEntry,
    RepaymentApplied,
    RepaymentSource,
)

DEP = Milestone.DEPARTED_ORIGIN


def _value_dated(ledger: list[LedgerEntry]) -> bool:
    """Some entry was booked as of an event time before an earlier entry's: a repayment
    value dated (docs/finance.md, Known limitations: its per-shipment split)."""
    return any(later.at < max(e.at for e in ledger[:i]) for i, later in enumerate(ledger) if i)


@settings(
    max_examples=int(os.environ.get("FINANCE_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(terms, st.lists(inputs, min_size=1, max_size=25), st.data())
def test_fold_of_the_ledger_is_the_engine_state(
    options: dict[str, object], story: list[EngineInput], data: st.DataObject
) -> None:
    registry: list[EngineInput] = [b.facility(**options), b.booking(b.SHP), b.booking(b.SHP2)]
    registry.append(b.eur_usd())
    departures: list[EngineInput] = [
        b.milestone(DEP, data.draw(st.integers(0, 5)), True, shipment)
        for shipment in data.draw(st.sampled_from([[], [b.SHP], [b.SHP, b.SHP2]]))
    ]
    state = new_state(b.FAC)
    ledger: list[LedgerEntry] = []
    named: dict[int, str | None] = {}
    surplus = Decimal(0)
    for item in registry + departures + story:
        state, out = apply(state, item)
        ledger.extend(out.entries)
        for envelope in out.events:
            if isinstance(envelope.data, RepaymentApplied):
                surplus += envelope.data.surplus.amount
                if envelope.data.ledger_seq is not None:
                    named[envelope.data.ledger_seq] = envelope.data.shipment_id
            elif isinstance(envelope.data, InterestAdjusted):
                surplus += envelope.data.surplus_change.amount
        position = fold(b.FAC, ledger)
        assert position.verified, position.problems
        assert position.principal == state.principal >= 0
        assert position.interest_due == state.interest_due >= 0
        assert position.borrower_payable == surplus >= 0
        assert position.head_hash == state.ledger_hash
        assert position.entries == state.ledger_seq
        assert all(m.principal_after >= 0 for m in position.movements)
        split = by_shipment(position, [b.SHP, b.SHP2], named)
        for shipment_id, line in split.shipments.items():
            engine = state.shipments.get(shipment_id)
            assert dict(line.drawn) == ({} if engine is None else engine.drawn)
        if _value_dated(ledger):
            continue  # per shipment, a value-dated repayment is spread by the fold's rule
        assert split.unattributed == 0
        for shipment_id, line in split.shipments.items():
            engine = state.shipments.get(shipment_id)
            assert line.principal == (Decimal(0) if engine is None else engine.principal)
    sums = balances(ledger)
    assert sums[LedgerAccount.BORROWER_PAYABLE] == -surplus
    assert verify(b.FAC, ledger).ok


@settings(max_examples=int(os.environ.get("FINANCE_EXAMPLES", "150")), deadline=None)
@given(
    st.lists(
        st.tuples(
            st.decimals(min_value=Decimal(1), max_value=Decimal(500_000), places=2),
            st.none() | st.sampled_from([b.SHP, b.SHP2]),
            st.sampled_from(RepaymentSource),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_outstanding_never_below_zero_and_surplus_goes_to_the_borrower(
    payments: list[tuple[Decimal, str | None, RepaymentSource]],
) -> None:
    story: list[EngineInput] = [
        b.facility(),
        b.booking(b.SHP),
        b.booking(b.SHP2),
        b.eur_usd(),
        b.milestone(DEP, 1),
        b.milestone(DEP, 2, shipment_id=b.SHP2),
    ]
    for i, (amount, shipment, source) in enumerate(payments):
        story.append(b.repayment(str(amount), 3 + i, f"pay-{i}", shipment, "USD", source))
    state, outputs = run(new_state(b.FAC), story)
    entries = [e for out in outputs for e in out.entries]
    position = fold(b.FAC, entries)
    assert state.principal >= 0
    assert position.principal == state.principal
    assert all(m.principal_after >= 0 for m in position.movements)
    applied = [
        e.data for out in outputs for e in out.events if isinstance(e.data, RepaymentApplied)
    ]
    for paid in applied:  # every cent received is booked: owed first, the rest for the borrower
        assert paid.interest_paid.amount + paid.principal_paid.amount + paid.surplus.amount == (
            paid.received.amount
        )
    assert position.borrower_payable == sum((p.surplus.amount for p in applied), Decimal(0))


def test_a_payout_larger_than_the_loan_pays_it_off_and_books_the_rest() -> None:
    story: list[EngineInput] = [b.facility(), b.booking(b.SHP), b.eur_usd(), b.milestone(DEP, 1)]
    story.append(b.repayment("100000", 5, "claim-9", b.SHP, "USD", RepaymentSource.INSURANCE))
    state, outputs = run(new_state(b.FAC), story)
    entry = outputs[-1].entries[0]
    legs = {(p.account, p.direction.value): p.amount for p in entry.postings}
    assert legs == {
        (LedgerAccount.FUNDING, "debit"): Decimal("100000"),
        (LedgerAccount.LOAN_PRINCIPAL, "credit"): Decimal("66000.00"),
        (LedgerAccount.BORROWER_PAYABLE, "credit"): Decimal("34000.00"),
    }
    (paid,) = [e.data for e in outputs[-1].events if isinstance(e.data, RepaymentApplied)]
    assert paid.surplus.amount == Decimal("34000.00")
    assert paid.outstanding_after.amount == 0
    assert state.principal == 0
    position = fold(b.FAC, [e for out in outputs for e in out.entries])
    assert (position.principal, position.borrower_payable) == (Decimal(0), Decimal("34000.00"))


def test_the_fold_takes_only_the_chain() -> None:
    story: list[EngineInput] = [b.facility(), b.booking(b.SHP), b.eur_usd(), b.milestone(DEP, 1)]
    story.append(b.repayment("1000", 5, "pay-1", None, "USD", RepaymentSource.BORROWER))
    _, outputs = run(new_state(b.FAC), story)
    first, second = [e for out in outputs for e in out.entries]
    position = fold(b.FAC, [first, first, second])
    assert (position.entries, position.duplicates, position.verified) == (2, 1, True)
    assert position.principal == Decimal("65000.00")
    assert position.as_of == second.at

    forged = second.model_copy(update={"postings": list(reversed(second.postings))})
    assert not fold(b.FAC, [first, forged]).verified
    skipped = fold(b.FAC, [second])
    assert skipped.entries == 0
    assert skipped.problems
    other = fold("fac-2", [first])
    assert other.entries == 0
    assert other.problems
    again = fold(b.FAC, [first])
    assert advance(again, second)
    assert not advance(again, second)
