"""FX lock quotes: the borrower locks a rate, and a repayment in its currency converts at it.

The facility lends USD; shp-1 departs at hour 1 (a USD 66,000.00 tranche); EUR/USD is held at
1.10. Quotes take 25 bp off the mid (EUR 1 = USD 1.09725) and hold 30 minutes.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finance.fx_quotes import QUOTE_MEMORY, all_in, quote_id
from finance.money import minor_exponent
from finance.pledge_engine import EngineInput, apply
from finance.step import Outputs
from tests.unit.finance import test_fast_path as fast
from tests.unit.finance.builders import (
    FAC,
    T0,
    at,
    eur_usd,
    fx_lock,
    milestone,
    play,
    quote_request,
    repayment,
    setup,
    tick,
)
from tradelane.contracts import Facility, FxRate, Milestone
from tradelane.contracts.finance import (
    AppliedFx,
    LedgerEntry,
    LedgerEntryKind,
    RepaymentReceived,
    ResultCode,
)
from tradelane.contracts.fx_quotes import (
    FxQuoteIssued,
    FxQuoteNotHonoured,
    FxQuoteRefused,
    NotHonouredCode,
    QuoteCode,
)

DEP = Milestone.DEPARTED_ORIGIN
QUOTE = quote_id(FAC, "quote-1")
LOCKED = Decimal("1.09725")


def locking(**lock: object) -> list[EngineInput]:
    """The facility with quotes, shp-1 departed at hour 1 (something is owed)."""
    return [*setup(fx_lock=fx_lock(**lock)), milestone(DEP, 1)]  # type: ignore[arg-type]


def of_kind(outputs: list[Outputs], kind: str) -> list[object]:
    return [e.data for out in outputs for e in out.events if e.data.kind == kind]


def repayments(outputs: list[Outputs]) -> list[LedgerEntry]:
    return [
        entry for out in outputs for entry in out.entries if entry.kind is LedgerEntryKind.REPAYMENT
    ]


def funded(entry: LedgerEntry) -> tuple[Decimal, AppliedFx]:
    """The cash a repayment entry brought in (the funding debit) and the rate it used."""
    (cash,) = [p for p in entry.postings if p.account.value == "funding"]
    return cash.amount, cash.fx


def test_a_locked_repayment_converts_at_the_all_in_rate_and_the_posting_names_the_quote() -> None:
    state, outputs = play(
        [
            *locking(),
            quote_request("10000", 2),
            repayment("10000", 2.25, currency="EUR", fx_quote_id=QUOTE),
        ]
    )
    (issued,) = of_kind(outputs, "fx_quote_issued")
    assert isinstance(issued, FxQuoteIssued)
    assert (issued.quote_id, issued.base, issued.quote) == (QUOTE, "EUR", "USD")
    assert (issued.mid_rate, issued.all_in_rate, issued.spread_bp) == (Decimal("1.10"), LOCKED, 25)
    assert issued.valid_until == at(2) + timedelta(minutes=30)
    (entry,) = repayments(outputs)
    amount, fx = funded(entry)
    assert amount == Decimal("10972.50")
    assert (fx.rate, fx.quote_id, fx.base, fx.quote) == (LOCKED, QUOTE, "EUR", "USD")
    (applied,) = of_kind(outputs, "repayment_applied")
    assert applied.fx.quote_id == QUOTE  # type: ignore[attr-defined]
    assert state.fx_quotes[QUOTE].used_by == "pay-1"
    assert not of_kind(outputs, "fx_quote_not_honoured")


def test_a_payment_without_a_quote_serialises_as_before() -> None:
    """No ``quote_id`` key at all: ledgers written before quotes existed hash the same."""
    _, outputs = play([*locking(), repayment("10000", 2.25, currency="EUR")])
    (entry,) = repayments(outputs)
    assert all("quote_id" not in p.fx.model_dump(mode="json") for p in entry.postings)
    assert '"quote_id"' not in entry.model_dump_json()
    assert funded(entry)[0] == Decimal("11000.00")


@pytest.mark.parametrize(
    ("inputs", "code"),
    [
        ([*locking(), quote_request("10000", 2, party="someone-else")], QuoteCode.NOT_AUTHORISED),
        ([*setup(), milestone(DEP, 1), quote_request("10000", 2)], QuoteCode.FX_LOCK_NOT_OFFERED),
        ([*locking(), quote_request("10000", 2, currency="USD")], QuoteCode.SAME_CURRENCY),
        ([*locking(), quote_request("10000", 2, currency="GBP")], QuoteCode.NO_RATE),
        ([*locking(), quote_request("454546", 2)], QuoteCode.ABOVE_MAX_NOTIONAL),
        (
            [
                *setup(fx_lock=fx_lock()),
                quote_request("10000", 2, party="someone-else", currency="USD"),
            ],
            QuoteCode.NOT_AUTHORISED,
        ),  # who asks comes first
    ],
)
def test_refusals_carry_the_first_reason(inputs: list[EngineInput], code: QuoteCode) -> None:
    state, outputs = play(inputs)
    (refused,) = of_kind(outputs, "fx_quote_refused")
    assert isinstance(refused, FxQuoteRefused)
    assert refused.code is code
    assert not of_kind(outputs, "fx_quote_issued")
    assert state.fx_quotes == {}


def test_the_max_notional_is_measured_at_the_mid() -> None:
    """EUR 454,545 is USD 499,999.50 at 1.10: within USD 500,000."""
    _, outputs = play([*locking(), quote_request("454545", 2)])
    assert len(of_kind(outputs, "fx_quote_issued")) == 1


def test_a_payout_quote_converts_the_facility_currency_into_the_borrowers() -> None:
    _, outputs = play([*locking(), quote_request("20000", 2, side="drawdown_payout")])
    (issued,) = of_kind(outputs, "fx_quote_issued")
    assert isinstance(issued, FxQuoteIssued)
    assert (issued.base, issued.quote) == ("USD", "EUR")
    assert issued.mid_rate == Decimal("0.909090909091")  # 1 / 1.10 on the 12-place grid
    assert issued.all_in_rate == Decimal("0.906818181818")  # x 0.9975, rounded down
    assert issued.all_in_rate < issued.mid_rate


@pytest.mark.parametrize(
    ("paid", "quote", "code"),
    [
        (
            repayment("10000", 2.6, currency="EUR", fx_quote_id=QUOTE),
            "quote-1",
            NotHonouredCode.EXPIRED,
        ),
        (
            repayment("10000", 1.5, currency="EUR", fx_quote_id=QUOTE),
            "quote-1",
            NotHonouredCode.NOT_YET_VALID,
        ),
        (
            repayment("10000", 2.1, currency="EUR", fx_quote_id="nope"),
            "quote-1",
            NotHonouredCode.UNKNOWN_QUOTE,
        ),
        (
            repayment("10001", 2.1, currency="EUR", fx_quote_id=QUOTE),
            "quote-1",
            NotHonouredCode.ABOVE_NOTIONAL,
        ),
        (
            repayment("10000", 2.1, currency="USD", fx_quote_id=QUOTE),
            "quote-1",
            NotHonouredCode.CURRENCY_MISMATCH,
        ),
    ],
)
def test_a_quote_it_cannot_use_is_announced_and_the_money_taken_at_the_held_rate(
    paid: EngineInput, quote: str, code: NotHonouredCode
) -> None:
    state, outputs = play([*locking(), quote_request("10000", 2, request_id=quote), paid])
    (told,) = of_kind(outputs, "fx_quote_not_honoured")
    assert isinstance(told, FxQuoteNotHonoured)
    assert (told.code, told.cause_id) == (code, "pay-1")
    (entry,) = repayments(outputs)
    amount, fx = funded(entry)
    assert fx.quote_id is None
    assert isinstance(paid, RepaymentReceived)
    held = Decimal(1) if paid.amount.currency == "USD" else Decimal("1.10")
    assert amount == (paid.amount.amount * held).quantize(Decimal("0.01"))
    assert outputs[-1].result is ResultCode.OK
    assert state.fx_quotes[QUOTE].used_by is None  # still usable within its validity


def test_a_quote_converts_one_payment_only() -> None:
    state, outputs = play(
        [
            *locking(),
            quote_request("10000", 2),
            repayment("4000", 2.1, "pay-1", currency="EUR", fx_quote_id=QUOTE),
            repayment("4000", 2.2, "pay-2", currency="EUR", fx_quote_id=QUOTE),
        ]
    )
    first, second = (funded(e) for e in repayments(outputs))
    assert first[0] == Decimal("4389.00")
    assert first[1].quote_id == QUOTE
    assert second[0] == Decimal("4400.00")
    assert second[1].quote_id is None
    (told,) = of_kind(outputs, "fx_quote_not_honoured")
    assert (told.code, told.cause_id) == (NotHonouredCode.ALREADY_USED, "pay-2")  # type: ignore[attr-defined]
    assert state.fx_quotes[QUOTE].used_by == "pay-1"


def test_a_rejected_repayment_does_not_use_the_quote() -> None:
    """Nothing owed yet: the repayment is refused, and the quote stays for the next one."""
    state, _ = play(
        [
            *setup(fx_lock=fx_lock()),
            quote_request("10000", 2),
            repayment("10000", 2.1, currency="EUR", fx_quote_id=QUOTE),
        ]
    )
    assert state.handled["pay-1"] is ResultCode.NOTHING_OWED
    assert state.fx_quotes[QUOTE].used_by is None


def test_a_locked_rate_needs_no_held_rate() -> None:
    """The held rate moves after the quote: the quote's rate still applies."""
    _, outputs = play(
        [
            *locking(),
            quote_request("10000", 2),
            eur_usd("1.30", 2.05),
            repayment("10000", 2.25, currency="EUR", fx_quote_id=QUOTE),
        ]
    )
    (entry,) = repayments(outputs)
    assert funded(entry)[0] == Decimal("10972.50")


def test_a_request_is_answered_once() -> None:
    state, outputs = play([*locking(), quote_request("10000", 2), quote_request("10000", 3)])
    assert len(of_kind(outputs, "fx_quote_issued")) == 1
    assert list(state.fx_quotes) == [QUOTE]
    assert state.fx_quotes[QUOTE].at == at(2)


def test_quotes_long_expired_are_forgotten() -> None:
    days = QUOTE_MEMORY.days + 2
    state, outputs = play(
        [
            *locking(),
            quote_request("10000", 2),
            tick(24 * days),
            quote_request("10000", 24 * days + 1, request_id="quote-2"),
            repayment("10000", 24 * days + 1.1, currency="EUR", fx_quote_id=QUOTE),
        ]
    )
    assert list(state.fx_quotes) == [quote_id(FAC, "quote-2")]
    (told,) = of_kind(outputs, "fx_quote_not_honoured")
    assert told.code is NotHonouredCode.UNKNOWN_QUOTE  # type: ignore[attr-defined]


# --- properties ------------------------------------------------------------------------------

RATES = {"EUR": "1.10", "JPY": "0.0067", "KWD": "3.25", "GBP": "1.27"}


@settings(max_examples=60, deadline=None)
@given(
    minutes=st.integers(1, 7 * 24 * 60),
    offset_s=st.integers(-120, 120),
    whole_minutes=st.booleans(),
)
def test_a_quote_holds_up_to_and_including_valid_until(
    minutes: int, offset_s: int, whole_minutes: bool
) -> None:
    """Paid at ``valid_until + offset``: honoured exactly when the offset is not positive."""
    offset = timedelta(minutes=offset_s) if whole_minutes else timedelta(seconds=offset_s)
    paid_at = at(2) + timedelta(minutes=minutes) + offset
    hours = (paid_at - T0) / timedelta(hours=1)
    _, outputs = play(
        [
            *locking(minutes=minutes),
            quote_request("10000", 2),
            repayment("10000", hours, currency="EUR", fx_quote_id=QUOTE),
        ]
    )
    (entry,) = repayments(outputs)
    honoured = funded(entry)[1].quote_id == QUOTE
    expected = at(2) <= paid_at <= at(2) + timedelta(minutes=minutes)
    assert honoured == expected
    assert bool(of_kind(outputs, "fx_quote_not_honoured")) != expected


@settings(max_examples=80, deadline=None)
@given(
    currency=st.sampled_from(sorted(RATES)),
    amount=st.decimals(min_value=Decimal("0.001"), max_value=Decimal(10**6), places=3),
    spread_bp=st.integers(0, 1000),
)
def test_locked_amounts_are_decimal_on_the_minor_unit_and_against_the_borrower(
    currency: str, amount: Decimal, spread_bp: int
) -> None:
    amount = amount.quantize(Decimal(1).scaleb(-minor_exponent(currency)))
    if amount <= 0:
        amount = Decimal(1)
    rate = FxRate(base=currency, quote="USD", rate=Decimal(RATES[currency]), as_of=at(-1))
    _, outputs = play(
        [
            *setup(fx_lock=fx_lock(spread_bp=spread_bp, max_notional="100000000")),
            rate,
            milestone(DEP, 1),
            quote_request(str(amount), 2, currency=currency),
            repayment(str(amount), 2.1, currency=currency, fx_quote_id=QUOTE),
        ]
    )
    (issued,) = of_kind(outputs, "fx_quote_issued")
    assert issued.all_in_rate == all_in(issued.mid_rate, spread_bp)  # type: ignore[attr-defined]
    assert issued.all_in_rate <= issued.mid_rate  # type: ignore[attr-defined]
    for entry in repayments(outputs):
        for posting in entry.postings:
            assert isinstance(posting.amount, Decimal)
            assert posting.amount.as_tuple().exponent == -minor_exponent("USD")
        cash, fx = funded(entry)
        assert fx.quote_id == QUOTE
        held = (amount * Decimal(RATES[currency])).quantize(Decimal("0.01"))
        assert cash <= held + Decimal("0.01")  # never more than the mid would give


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sampled_from(["q1", "q2", "p1", "p2", "p3", "t"]), min_size=1, max_size=8),
    st.data(),
)
def test_redeliveries_change_nothing(names: list[str], data: st.DataObject) -> None:
    """Any sequence of quote requests and payments naming them, each possibly redelivered
    later: the same events, entries and state as without the redeliveries."""
    by_name: dict[str, EngineInput] = {
        "q1": quote_request("10000", 2, "quote-1"),
        "q2": quote_request("5000", 3, "quote-2"),
        "p1": repayment("4000", 2.2, "pay-1", currency="EUR", fx_quote_id=QUOTE),
        "p2": repayment("5000", 3.1, "pay-2", currency="EUR", fx_quote_id=quote_id(FAC, "quote-2")),
        "p3": repayment("4000", 2.4, "pay-3", currency="EUR", fx_quote_id=QUOTE),
        "t": tick(30),
    }
    once = [by_name[n] for n in dict.fromkeys(names)]
    again = list(once)
    for item in once:
        position = data.draw(st.integers(again.index(item) + 1, len(again)))
        again.insert(position, item)
    state_once, out_once = play([*locking(), *once])
    state_again, out_again = play([*locking(), *again])
    assert state_again == state_once
    flat = [e for o in out_once for e in (*o.events, *o.entries)]
    flat_again = [e for o in out_again for e in (*o.events, *o.entries)]
    assert flat_again == flat
    locked = [funded(e)[1].quote_id for e in repayments(out_once)]
    honoured = [q for q in locked if q is not None]
    assert len(honoured) == len(set(honoured))  # a quote converts one payment at most


def test_apply_is_pure_for_a_quote_request() -> None:
    state, _ = play(locking())
    before = state.model_dump_json()
    _, out = apply(state, quote_request("10000", 2))
    assert state.model_dump_json() == before
    assert [e.data.kind for e in out.events][-1] == "fx_quote_issued"


# --- the worker's fast path, with quotes honoured and not ----------------------------------


@st.composite
def _quote_then_payment(draw: st.DrawFn) -> list[EngineInput]:
    """A quote and a payment naming it, paid within its 120 minutes or after, sometimes
    above its notional; its cause differs per pair, so payments repeat only as redeliveries."""
    hours = draw(st.sampled_from([24, 25, 48]))
    request = draw(st.sampled_from(["quote-1", "quote-2"]))
    paid = draw(st.sampled_from(["500.00", "39999.99", "50000.00"]))
    later = draw(st.sampled_from([0, 0.5, 2, 3]))
    pay = repayment(
        paid,
        hours + later,
        f"pay-{request}-{hours}-{later}",
        None,
        "EUR",
        fx_quote_id=quote_id(FAC, request),
    )
    return [quote_request("40000", hours, request), pay]


def _quote_stories() -> st.SearchStrategy[list[EngineInput]]:
    def build(base: list[EngineInput], pairs: list[list[EngineInput]]) -> list[EngineInput]:
        terms = base[0]
        assert isinstance(terms, Facility)
        return [
            terms.model_copy(update={"fx_lock": fx_lock(minutes=120)}),
            *base[1:],
            *(item for pair in pairs for item in pair),
        ]

    return st.builds(build, fast.stories(), st.lists(_quote_then_payment(), min_size=1, max_size=4))


@fast.EXAMPLES
@given(_quote_stories(), st.booleans(), st.integers(0, 40))
def test_the_fast_path_and_the_shell_agree_with_apply_on_quotes(
    items: list[EngineInput], old_layout: bool, restart_at: int
) -> None:
    in_place = fast.test_in_place_equals_the_copying_apply_and_the_table_reads_back_the_same
    in_place.hypothesis.inner_test(items)  # type: ignore[attr-defined]
    shell = fast.test_the_shell_sends_the_reference_outputs_and_keeps_the_reference_state
    shell.hypothesis.inner_test(items, old_layout, restart_at)  # type: ignore[attr-defined]
