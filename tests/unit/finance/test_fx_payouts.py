"""A tranche paid out in the borrower's currency at a locked FX quote.

The facility lends USD and confirms tranches (48 h window); shp-1's departure tranche is
USD 66,000.00. A payout quote converts USD into EUR at the mid 1 / 1.10 less 25 bp:
USD 1 = EUR 0.906818181818, so the tranche pays out EUR 59,850.00 (59,849.999999988 rounded
half-even); quotes hold 30 minutes.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from finance.fx_quotes import quote_id
from finance.ledger import verify
from finance.pledge_engine import EngineInput
from finance.step import Outputs
from tests.unit.finance import test_fast_path as fast
from tests.unit.finance.builders import (
    FAC,
    SHP,
    SHP2,
    T0,
    at,
    decision,
    fx_lock,
    milestone,
    play,
    quote_request,
    setup,
)
from tradelane.contracts import Facility, Milestone
from tradelane.contracts.finance import (
    DrawdownExecuted,
    LedgerEntry,
    LedgerEntryKind,
    Posting,
)
from tradelane.contracts.fx_quotes import FxQuoteNotHonoured, NotHonouredCode
from tradelane.contracts.seller import Choice, ConfirmationTerms
from tradelane.ids import derive_id

DEP = Milestone.DEPARTED_ORIGIN
PAYOUT_QUOTE = quote_id(FAC, "payout-1")
TRANCHE = Decimal("66000.00")
PAID_OUT = Decimal("59850.00")
LOCKED = Decimal("0.906818181818")
DRAWDOWN_1 = derive_id("drawdown", FAC, SHP, DEP.value)
DRAWDOWN_2 = derive_id("drawdown", FAC, SHP2, DEP.value)
CONFIRMING = ConfirmationTerms(window_hours=48)


def confirming(minutes: int = 30) -> list[EngineInput]:
    """The facility, confirming tranches and quoting rates valid ``minutes``."""
    return setup(confirmation=CONFIRMING, fx_lock=fx_lock(minutes=minutes))


def payout_quote(notional: str, hours: float, request_id: str = "payout-1") -> EngineInput:
    return quote_request(notional, hours, request_id, side="drawdown_payout")


def executed(outputs: list[Outputs]) -> list[DrawdownExecuted]:
    return [e.data for o in outputs for e in o.events if isinstance(e.data, DrawdownExecuted)]


def not_honoured(outputs: list[Outputs]) -> list[FxQuoteNotHonoured]:
    return [e.data for o in outputs for e in o.events if isinstance(e.data, FxQuoteNotHonoured)]


def drawdown_entries(outputs: list[Outputs]) -> list[LedgerEntry]:
    return [e for o in outputs for e in o.entries if e.kind is LedgerEntryKind.DRAWDOWN]


def cash_out(entry: LedgerEntry) -> Posting:
    (posting,) = [p for p in entry.postings if p.account.value == "funding"]
    return posting


def test_a_tranche_confirmed_with_a_quote_pays_out_at_the_locked_rate() -> None:
    """Decided while the tranche waits, within the quote's validity: the loan is USD, the
    cash that left is EUR at the all-in rate, on the event and on the funding credit."""
    state, outputs = play(
        [
            *confirming(),
            milestone(DEP, 1),
            payout_quote("60000", 2),
            decision(DEP, 2.25, fx_quote_id=PAYOUT_QUOTE),
        ]
    )
    (done,) = executed(outputs)
    assert done.amount.amount == TRANCHE
    assert done.amount.currency == "USD"
    assert done.payout is not None
    assert (done.payout.amount, done.payout.currency) == (PAID_OUT, "EUR")
    assert done.payout_quote_id == PAYOUT_QUOTE
    assert done.fx.base == "EUR"
    assert done.fx.quote_id is None
    (entry,) = drawdown_entries(outputs)
    cash = cash_out(entry)
    assert cash.amount == TRANCHE
    assert cash.currency == "USD"
    assert cash.payout is not None
    assert cash.payout.amount == done.payout
    assert (cash.payout.fx.rate, cash.payout.fx.quote_id) == (LOCKED, PAYOUT_QUOTE)
    assert (cash.payout.fx.base, cash.payout.fx.quote) == ("USD", "EUR")
    (principal,) = [p for p in entry.postings if p.account.value == "loan_principal"]
    assert principal.payout is None
    assert "payout" not in principal.model_dump(mode="json")
    assert state.principal == TRANCHE
    assert state.fx_quotes[PAYOUT_QUOTE].used_by == DRAWDOWN_1
    assert not not_honoured(outputs)
    assert verify(FAC, [e for o in outputs for e in o.entries]).ok


def test_a_decision_held_ahead_pays_out_when_the_milestone_comes_within_validity() -> None:
    """Quote at 0:36, decision at 0:42, milestone at 1:00 (24 minutes into the quote)."""
    state, outputs = play(
        [
            *confirming(),
            payout_quote("60000", 0.6),
            decision(DEP, 0.7, fx_quote_id=PAYOUT_QUOTE),
            milestone(DEP, 1),
        ]
    )
    (done,) = executed(outputs)
    assert done.payout is not None
    assert done.payout.amount == PAID_OUT
    assert done.at == at(1)
    assert state.fx_quotes[PAYOUT_QUOTE].used_by == DRAWDOWN_1


def test_a_resized_tranche_pays_out_what_was_lent() -> None:
    _, outputs = play(
        [
            *confirming(),
            milestone(DEP, 1),
            payout_quote("60000", 2),
            decision(DEP, 2.1, Choice.CHANGE_AMOUNT, "10000", fx_quote_id=PAYOUT_QUOTE),
        ]
    )
    (done,) = executed(outputs)
    assert done.amount.amount == Decimal("10000")
    assert done.payout is not None
    assert done.payout.amount == Decimal("9068.18")


def test_an_expired_quote_is_not_honoured_and_the_tranche_is_still_lent() -> None:
    state, outputs = play(
        [
            *confirming(),
            milestone(DEP, 1),
            payout_quote("60000", 2),
            decision(DEP, 3, fx_quote_id=PAYOUT_QUOTE),  # 60 minutes after a 30-minute quote
        ]
    )
    (done,) = executed(outputs)
    assert done.amount.amount == TRANCHE
    assert (done.payout, done.payout_quote_id) == (None, None)
    (told,) = not_honoured(outputs)
    assert (told.code, told.cause_id, told.at) == (NotHonouredCode.EXPIRED, DRAWDOWN_1, at(3))
    assert told.valid_until == at(2) + timedelta(minutes=30)
    (entry,) = drawdown_entries(outputs)
    assert all(p.payout is None for p in entry.postings)
    assert '"payout"' not in entry.model_dump_json()  # hashes as every drawdown before
    assert state.principal == TRANCHE
    assert state.fx_quotes[PAYOUT_QUOTE].used_by is None


def test_a_quote_pays_out_one_tranche_only() -> None:
    """Both departures confirmed with the same quote: the first is paid out in EUR, the
    second in USD with ``already_used``."""
    state, outputs = play(
        [
            *confirming(),
            milestone(DEP, 1),
            milestone(DEP, 1, shipment_id=SHP2),
            payout_quote("60000", 2),
            decision(DEP, 2.1, request_id="click-1", fx_quote_id=PAYOUT_QUOTE),
            decision(DEP, 2.2, request_id="click-2", shipment_id=SHP2, fx_quote_id=PAYOUT_QUOTE),
        ]
    )
    first, second = executed(outputs)
    assert first.payout is not None
    assert first.payout_quote_id == PAYOUT_QUOTE
    assert second.payout is None
    assert second.payout_quote_id is None
    assert second.amount.amount == TRANCHE
    (told,) = not_honoured(outputs)
    assert (told.code, told.cause_id) == (NotHonouredCode.ALREADY_USED, DRAWDOWN_2)
    assert state.fx_quotes[PAYOUT_QUOTE].used_by == DRAWDOWN_1
    assert state.principal == 2 * TRANCHE


@pytest.mark.parametrize(
    ("quote", "code"),
    [
        (
            quote_request("60000", 2, "payout-1", side="repayment"),
            NotHonouredCode.CURRENCY_MISMATCH,
        ),
        (payout_quote("50000", 2), NotHonouredCode.ABOVE_NOTIONAL),
        (payout_quote("60000", 2, request_id="another"), NotHonouredCode.UNKNOWN_QUOTE),
        (payout_quote("60000", 2.2), NotHonouredCode.NOT_YET_VALID),
    ],
)
def test_a_quote_it_cannot_use_is_announced_and_the_tranche_lent_in_usd(
    quote: EngineInput, code: NotHonouredCode
) -> None:
    _, outputs = play(
        [
            *confirming(),
            milestone(DEP, 1),
            quote,
            decision(DEP, 2.1, fx_quote_id=PAYOUT_QUOTE),
        ]
    )
    (done,) = executed(outputs)
    assert done.amount.amount == TRANCHE
    assert done.payout is None
    (told,) = not_honoured(outputs)
    assert (told.code, told.cause_id) == (code, DRAWDOWN_1)


def test_a_drawdown_without_a_payout_hashes_as_before_payouts_existed() -> None:
    """The hash of shp-1's departure entry, recorded by the engine before ``Posting.payout``
    existed: an entry without a payout serialises byte for byte as it did."""
    _, outputs = play([*setup(), milestone(DEP, 1)])
    (entry,) = drawdown_entries(outputs)
    assert entry.hash == "0d1078c9a03f1227f5021500a312358a009d2a34ca2ccf9062053727e3143e83"


def test_a_declined_tranche_cannot_name_a_quote() -> None:
    with pytest.raises(ValidationError, match="declined"):
        decision(DEP, 2, Choice.DECLINE, fx_quote_id=PAYOUT_QUOTE)


# --- properties ------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    minutes=st.integers(1, 24 * 60),
    offset_s=st.integers(-120, 120),
    whole_minutes=st.booleans(),
)
def test_a_payout_quote_holds_up_to_and_including_valid_until(
    minutes: int, offset_s: int, whole_minutes: bool
) -> None:
    """Confirmed at ``valid_until + offset``: paid out at the quote exactly when the tranche's
    event time lies in [quote time, valid_until]; lent in full either way."""
    offset = timedelta(minutes=offset_s) if whole_minutes else timedelta(seconds=offset_s)
    decided_at = at(2) + timedelta(minutes=minutes) + offset
    hours = (decided_at - T0) / timedelta(hours=1)
    state, outputs = play(
        [
            *confirming(minutes),
            milestone(DEP, 1),
            payout_quote("60000", 2),
            decision(DEP, hours, fx_quote_id=PAYOUT_QUOTE),
        ]
    )
    (done,) = executed(outputs)
    expected = at(2) <= done.at <= at(2) + timedelta(minutes=minutes)
    assert (done.payout_quote_id == PAYOUT_QUOTE) == expected
    assert (done.payout is not None) == expected
    assert bool(not_honoured(outputs)) != expected
    assert (state.fx_quotes[PAYOUT_QUOTE].used_by is not None) == expected
    assert done.amount.amount == TRANCHE


@st.composite
def _payout_pair(draw: st.DrawFn) -> list[EngineInput]:
    """A payout quote and a decision naming it, on either shipment's departure, within its
    120 minutes or after, sometimes for less than the tranche pays out."""
    hours = draw(st.sampled_from([0, 0, 1, 2, 30]))
    request = draw(st.sampled_from(["payout-1", "payout-2"]))
    notional = draw(st.sampled_from(["1000", "60000", "400000"]))
    later = draw(st.sampled_from([0, 0.5, 3]))
    shipment = draw(st.sampled_from([SHP, SHP2]))
    click = decision(
        DEP,
        hours + later,
        request_id=f"click-{request}-{hours}-{later}",
        shipment_id=shipment,
        fx_quote_id=quote_id(FAC, request),
    )
    return [payout_quote(notional, hours, request), click]


def _payout_stories() -> st.SearchStrategy[list[EngineInput]]:
    """The fast path's stories on a facility that confirms and quotes, with quotes and
    decisions naming them placed before the departures (hours 0 to 5), so most are held
    ahead and judged when a departure comes, and the rest decide a waiting tranche."""

    def build(base: list[EngineInput], pairs: list[list[EngineInput]]) -> list[EngineInput]:
        terms = base[0]
        assert isinstance(terms, Facility)
        update = {"fx_lock": fx_lock(minutes=120), "confirmation": CONFIRMING}
        return [
            terms.model_copy(update=update),
            *base[1:4],
            *(item for pair in pairs for item in pair),
            *base[4:],
        ]

    return st.builds(build, fast.stories(), st.lists(_payout_pair(), min_size=1, max_size=4))


@fast.EXAMPLES
@given(_payout_stories(), st.booleans(), st.integers(0, 40))
def test_the_fast_path_and_the_shell_agree_with_apply_on_payouts(
    items: list[EngineInput], old_layout: bool, restart_at: int
) -> None:
    in_place = fast.test_in_place_equals_the_copying_apply_and_the_table_reads_back_the_same
    in_place.hypothesis.inner_test(items)  # type: ignore[attr-defined]
    shell = fast.test_the_shell_sends_the_reference_outputs_and_keeps_the_reference_state
    shell.hypothesis.inner_test(items, old_layout, restart_at)  # type: ignore[attr-defined]


@settings(max_examples=40, deadline=None)
@given(st.lists(_payout_pair(), min_size=1, max_size=4), st.data())
def test_redeliveries_change_nothing_and_a_quote_pays_out_once(
    pairs: list[list[EngineInput]], data: st.DataObject
) -> None:
    """Quotes and decisions naming them, each possibly redelivered later: the same events,
    entries and state as without the redeliveries, and no quote pays out two tranches."""
    once = list(dict.fromkeys(item for pair in pairs for item in pair))
    again = list(once)
    for item in once:
        position = data.draw(st.integers(again.index(item) + 1, len(again)))
        again.insert(position, item)
    story = [*confirming(120), milestone(DEP, 0.5), milestone(DEP, 0.5, shipment_id=SHP2)]
    state_once, out_once = play([*story, *once])
    state_again, out_again = play([*story, *again])
    assert state_again == state_once
    flat = [e for o in out_once for e in (*o.events, *o.entries)]
    assert [e for o in out_again for e in (*o.events, *o.entries)] == flat
    used = [d.payout_quote_id for d in executed(out_once) if d.payout_quote_id is not None]
    assert len(used) == len(set(used))
