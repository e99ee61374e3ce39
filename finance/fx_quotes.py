"""FX lock quotes: the rate a borrower may lock for a repayment or a payout, and its use.

A quote is priced from what the facility holds, never from a feed of its own: the mid is
:func:`finance.money.find_rate` over the facility's FX rates (direct, inverse, crossed through
USD), and the spread is taken *against the borrower* in both directions - a repayment in
another currency converts into less of the facility currency, a payout into less of the
payout currency - so the all-in rate is always below the mid::

    all_in = round_down(mid x (1 - spread_bp / 10000), 12 places)

Rounding down (towards zero) keeps the rate on the ``Rate`` grid and never gives the borrower
a fraction of a basis point more than the terms say. Amounts converted at it are rounded
half-even to the target currency's minor unit, like every measured amount
(:func:`finance.money.convert_at`).

Validity is event time only: a quote issued at ``at`` holds for money whose event time lies
in ``[at, at + validity_minutes]`` - both ends included. Each request id is answered once, the
quote id derives from (facility, request id), and a quote converts at most one payment
(``HeldQuote.used_by``); a payment that names a quote it cannot use is still taken, at the
held rate, with :class:`~tradelane.contracts.fx_quotes.FxQuoteNotHonoured` saying why.

A tranche the borrower confirmed naming a payout quote is lent in the facility currency as
ever, and paid out in the quote's currency (:func:`pay_out`) when the quote may be used at the
tranche's event time; otherwise it is paid in the facility currency, announced the same way.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from finance.facility_state import FacilityState, HeldQuote
from finance.money import CONTEXT, RATE_QUANTUM, convert, convert_at, find_rate
from finance.step import Step
from tradelane.contracts import Money
from tradelane.contracts.finance import AppliedFx, Payout, ResultCode
from tradelane.contracts.fx_quotes import (
    FxQuoteIssued,
    FxQuoteNotHonoured,
    FxQuoteRefused,
    FxQuoteRequested,
    NotHonouredCode,
    QuoteCode,
    QuoteSide,
)
from tradelane.ids import derive_id
from tradelane.tenancy import acts_for

BASIS_POINTS = Decimal(10_000)
QUOTE_MEMORY = timedelta(days=30)
"""How long after it expired a quote is remembered (so a late payment is told ``expired``
rather than ``unknown_quote``); the state holds no quote older than that."""


def quote_id(facility_id: str, request_id: str) -> str:
    """The id of the quote answering ``request_id`` (the same request, the same id)."""
    return derive_id("fx_quote", facility_id, request_id)


def all_in(mid: Decimal, spread_bp: int) -> Decimal:
    """``mid`` less ``spread_bp`` basis points, rounded down to the ``Rate`` grid."""
    spread = CONTEXT.divide(Decimal(spread_bp), BASIS_POINTS)
    raw = CONTEXT.multiply(mid, CONTEXT.subtract(Decimal(1), spread))
    return raw.quantize(RATE_QUANTUM, rounding=ROUND_DOWN, context=CONTEXT)


def pair_of(side: QuoteSide, facility_currency: str, currency: str) -> tuple[str, str]:
    """(converted from, converted to): a repayment converts the borrower's currency into the
    facility's, a payout the facility's into the borrower's."""
    if side == "repayment":
        return currency, facility_currency
    return facility_currency, currency


def request_quote(step: Step, request: FxQuoteRequested) -> QuoteCode | None:
    """Answer one quote request (``FxQuoteIssued`` or ``FxQuoteRefused``); ``None`` for a
    request id answered before (its first answer stands, nothing is emitted again)."""
    state = step.state
    key = f"fx_quote:{request.request_id}"
    if key in state.handled:
        return None
    state.handled[key] = ResultCode.OK
    code, mid = _refusal(state, request)
    if mid is None or state.terms is None or state.terms.fx_lock is None:
        step.emit(
            FxQuoteRefused(
                facility_id=state.facility_id,
                request_id=request.request_id,
                side=request.side,
                notional=request.notional,
                code=code,
                at=request.at,
            ),
            request.request_id,
        )
        return code
    _issue(step, request, mid, state.terms.fx_lock.spread_bp)
    return QuoteCode.ISSUED


def _refusal(state: FacilityState, request: FxQuoteRequested) -> tuple[QuoteCode, AppliedFx | None]:
    """The first reason not to quote, in precedence order; else ``issued`` and the mid."""
    terms = state.terms
    by = request.by
    if terms is None or not acts_for(terms, by, "borrower"):
        return QuoteCode.NOT_AUTHORISED, None
    lock = terms.fx_lock
    if lock is None:
        return QuoteCode.FX_LOCK_NOT_OFFERED, None
    currency = request.notional.currency
    if currency == terms.limit.currency:
        return QuoteCode.SAME_CURRENCY, None
    base, quote = pair_of(request.side, terms.limit.currency, currency)
    mid = find_rate(state.fx, base, quote)
    cap = lock.max_notional
    measured = convert(request.notional.amount, currency, cap.currency, state.fx)
    if mid is None or measured is None:
        return QuoteCode.NO_RATE, None
    if measured[0] > cap.amount:
        return QuoteCode.ABOVE_MAX_NOTIONAL, None
    return QuoteCode.ISSUED, mid


def _issue(step: Step, request: FxQuoteRequested, mid: AppliedFx, spread_bp: int) -> None:
    state = step.state
    assert state.terms is not None
    assert state.terms.fx_lock is not None
    qid = quote_id(state.facility_id, request.request_id)
    valid_until = request.at + timedelta(minutes=state.terms.fx_lock.validity_minutes)
    held = HeldQuote(
        side=request.side,
        base=mid.base,
        quote=mid.quote,
        all_in_rate=all_in(mid.rate, spread_bp),
        mid_as_of=mid.as_of,
        via=mid.via,
        notional=request.notional,
        at=request.at,
        valid_until=valid_until,
    )
    _forget_old(state, step.now or request.at)
    state.fx_quotes = {**state.fx_quotes, qid: held}
    step.emit(
        FxQuoteIssued(
            facility_id=state.facility_id,
            request_id=request.request_id,
            quote_id=qid,
            side=request.side,
            notional=request.notional,
            base=mid.base,
            quote=mid.quote,
            mid_rate=mid.rate,
            mid_as_of=mid.as_of,
            via=mid.via,
            spread_bp=spread_bp,
            all_in_rate=held.all_in_rate,
            valid_until=valid_until,
            at=request.at,
        ),
        request.request_id,
    )


def _forget_old(state: FacilityState, now: datetime) -> None:
    """Drop quotes that expired more than :data:`QUOTE_MEMORY` before ``now`` (the clock)."""
    horizon = now - QUOTE_MEMORY
    if any(q.valid_until < horizon for q in state.fx_quotes.values()):
        state.fx_quotes = {k: q for k, q in state.fx_quotes.items() if q.valid_until >= horizon}


def locked_rate(
    step: Step, qid: str, side: QuoteSide, money: Money, cause_id: str, at: datetime
) -> AppliedFx | None:
    """The locked rate ``money`` (in the currency it is converted from, at event time ``at``)
    may convert at under quote ``qid``; ``None`` after announcing why it may not
    (``FxQuoteNotHonoured``). Does not use the quote up: :func:`use` does, once the money
    moved."""
    state = step.state
    held = state.fx_quotes.get(qid)
    code = _not_honoured(held, side, money, at)
    if code is None and held is not None:
        return AppliedFx(
            base=held.base,
            quote=held.quote,
            rate=held.all_in_rate,
            as_of=held.mid_as_of,
            via=held.via,
            quote_id=qid,
        )
    assert code is not None
    step.emit(
        FxQuoteNotHonoured(
            facility_id=state.facility_id,
            quote_id=qid,
            cause_id=cause_id,
            code=code,
            valid_until=None if held is None else held.valid_until,
            at=at,
        ),
        qid,
        cause_id,
    )
    return None


def _not_honoured(
    held: HeldQuote | None, side: QuoteSide, money: Money, at: datetime
) -> NotHonouredCode | None:
    """The first reason the quote cannot convert ``money``, in precedence order."""
    if held is None:
        return NotHonouredCode.UNKNOWN_QUOTE
    if held.side != side or held.base != money.currency:
        return NotHonouredCode.CURRENCY_MISMATCH
    if held.used_by is not None:
        return NotHonouredCode.ALREADY_USED
    if at < held.at:
        return NotHonouredCode.NOT_YET_VALID
    if at > held.valid_until:
        return NotHonouredCode.EXPIRED
    if _in_quote_currency(held, money) > held.notional.amount:
        return NotHonouredCode.ABOVE_NOTIONAL
    return None


def _in_quote_currency(held: HeldQuote, money: Money) -> Decimal:
    """``money`` in the currency of the quote's notional (at the all-in rate when it is the
    facility currency: a payout's tranche is measured by what it pays out)."""
    if money.currency == held.notional.currency:
        return money.amount
    return CONTEXT.multiply(money.amount, held.all_in_rate)


def use(state: FacilityState, qid: str, cause_id: str) -> None:
    """Mark quote ``qid`` used by ``cause_id``: it converts nothing else."""
    state.fx_quotes[qid].used_by = cause_id


def pay_out(step: Step, qid: str, amount: Money, drawdown_id: str, at: datetime) -> Payout | None:
    """A tranche of ``amount`` (facility currency), lent at event time ``at``, paid out at
    payout quote ``qid``: the quote's currency at its all-in rate, half-even to the minor
    unit, and the quote used by ``drawdown_id``. ``None`` after announcing why the quote
    may not pay it (``FxQuoteNotHonoured``): the tranche is paid in the facility currency.
    Called only for a tranche that is being lent, so using the quote here is final."""
    locked = locked_rate(step, qid, "drawdown_payout", amount, drawdown_id, at)
    if locked is None:
        return None
    use(step.state, qid, drawdown_id)
    paid = convert_at(amount.amount, locked, locked.quote)
    return Payout(amount=Money(amount=paid, currency=locked.quote), fx=locked)
