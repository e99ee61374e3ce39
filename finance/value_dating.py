"""Value dating: a repayment or a tranche is booked as of its event time, in whatever order
it arrives.

Interest accrues per day on the end-of-day principal, and a day is closed by the first input
whose event time lies in a later day. An insurer's payout whose evidence readings arrive days
late (a tracker's store-and-forward flush) used to be applied at the facility clock: its
waterfall first took the interest of the days closed since its event time, and its principal
stayed outstanding, accruing, on days it would not have been owed. So the money depended on
the order the inputs arrived in.

Here a repayment is booked as of its value date (its event time) instead. The facility keeps
a bounded window (:data:`WINDOW_DAYS` closed days: each day's end-of-day principal, rate and
booked interest; and every drawdown and repayment booked since the window began), and
:func:`rebook` replays that window from the value date with the repayment in its place:

* its waterfall is the one it would have had at its value date (the interest due then, the
  principal owed then);
* the closed days after it are priced again on their corrected end-of-day principal;
* the repayments booked after it are split again (it may have paid the interest they paid,
  so they repay more principal or hand more back to the borrower).

The difference from what was booked becomes one ``interest_adjustment`` ledger entry (id from
the repayment's cause), so the facility's interest income, principal and what it holds for
the borrower equal an event-time-ordered run's to the cent. A tranche is value dated the same
way, at its cause's event time (its milestone's): another shipment's later events may have
moved the clock past it, and the closed days after it owed interest on it, the repayments
after it a different split (:func:`rebook` takes either; :func:`reach_back` lets a tranche
reach before a window that began with the line's first tranche). A value date before the
window is booked at the clock, with a ``ValueDateLimited`` event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from finance.facility_state import BookedMovement, ClosedDay, FacilityState
from finance.interest import daily_interest

WINDOW_DAYS = 60
"""Closed days a facility keeps for value dating; a value date before them is booked at the
clock (~7 kB of state; a payout's evidence is late by days, not months)."""

ZERO = Decimal(0)


def midnight(day: date) -> datetime:
    """The first instant of ``day`` (UTC)."""
    return datetime.combine(day, time(0), tzinfo=UTC)


def open_window(state: FacilityState, at: datetime) -> None:
    """Start the window at ``at`` unless one is kept: at a line's first drawdown (nothing was
    owed before it), or at the clock of a state written before value dating existed (its
    history before that is not known)."""
    if state.window_from is None:
        state.window_from = at


def record_day(state: FacilityState, closed: ClosedDay) -> None:
    """Keep ``closed`` (the day just closed) and drop what falls out of the window."""
    days = [*state.closed_days, closed]
    if len(days) > WINDOW_DAYS:
        days = days[-WINDOW_DAYS:]
        start = midnight(days[0].day)
        if state.window_from is None or state.window_from < start:
            state.window_from = start
            state.movements = [m for m in state.movements if m.at >= start]
    state.closed_days = days


def record(state: FacilityState, movement: BookedMovement) -> None:
    """Keep ``movement`` in value-date order (after every movement at or before its time)."""
    state.movements = _insert(state.movements, movement)


def _insert(moves: Sequence[BookedMovement], movement: BookedMovement) -> list[BookedMovement]:
    cut = _after(moves, movement.at)
    return [*moves[:cut], movement, *moves[cut:]]


def _after(moves: Sequence[BookedMovement], at: datetime) -> int:
    """Index of the first movement later than ``at`` (the list is in value-date order)."""
    cut = len(moves)
    while cut > 0 and moves[cut - 1].at > at:
        cut -= 1
    return cut


def reach_back(state: FacilityState, value_date: datetime) -> None:
    """Let a drawdown be booked before the window began, when the window began with the
    line's first tranche (nothing was owed before it, so every day before it accrued
    nothing): the days from ``value_date`` up to the first day kept are kept as closed with
    no principal, for the replay to price, as long as the window stays within
    :data:`WINDOW_DAYS`. A window that began otherwise (days dropped, a state written before
    the window existed) is left as it is: its earlier days are not known."""
    start, moves, terms = state.window_from, state.movements, state.terms
    if start is None or value_date >= start or state.accrued_until is None or terms is None:
        return
    if not moves or moves[0].at != start or moves[0].kind != "drawdown":
        return
    owed = state.principal + state.interest_due - sum((_booked(d) for d in state.closed_days), ZERO)
    for move in moves:
        owed += move.interest + sum(move.principal.values(), ZERO) * (
            -1 if move.kind == "drawdown" else 1
        )
    first = state.closed_days[0].day if state.closed_days else state.accrued_until
    count = (first - value_date.date()).days
    if owed != 0 or len(state.closed_days) + count > WINDOW_DAYS:
        return
    nothing = [
        ClosedDay(
            day=value_date.date() + timedelta(days=i),
            principal=ZERO,
            annual_rate=terms.interest_rate,
            day_count=terms.day_count,
            interest=ZERO,
        )
        for i in range(max(count, 0))
    ]
    state.closed_days = [*nothing, *state.closed_days]
    state.window_from = value_date


def bookable(state: FacilityState, value_date: datetime) -> bool:
    """Whether the window reaches back to ``value_date``."""
    return state.window_from is not None and value_date >= state.window_from


@dataclass(frozen=True, slots=True)
class Split:
    """A repayment's waterfall: interest, principal per shipment, the borrower's surplus."""

    interest: Decimal
    principal: dict[str, Decimal]
    surplus: Decimal

    @property
    def principal_total(self) -> Decimal:
        return sum(self.principal.values(), ZERO)


NO_SPLIT = Split(ZERO, {}, ZERO)
"""What a drawdown's own waterfall moves: nothing."""


def waterfall(
    amount: Decimal, due: Decimal, principals: dict[str, Decimal], shipment_id: str | None
) -> Split:
    """Accrued interest first, then principal - of the named shipment only when one is named,
    across every shipment (ids sorted) when none is - and the rest is surplus. Reduces
    ``principals`` (shipment -> principal owed) in place."""
    interest = min(due, amount)
    if shipment_id is not None:
        order = [shipment_id] if shipment_id in principals else []
    else:
        order = sorted(principals)
    left = amount - interest
    taken: dict[str, Decimal] = {}
    for shipment in order:
        share = min(principals[shipment], left)
        if share > 0:
            principals[shipment] -= share
            taken[shipment] = share
            left -= share
    return Split(interest, taken, left)


@dataclass(frozen=True, slots=True)
class Rebooked:
    """The window replayed from a value date with a repayment or a drawdown in its place."""

    value_date: datetime
    split: Split
    """The value-dated repayment's own waterfall (:data:`NO_SPLIT` for a drawdown)."""
    principals: dict[str, Decimal]
    """Every shipment's principal afterwards."""
    due: Decimal
    """Interest due afterwards."""
    days: list[ClosedDay]
    movements: list[BookedMovement]
    changed_days: list[tuple[ClosedDay, ClosedDay]]
    """(as booked, as corrected) for every closed day whose figures changed."""
    resplit: list[tuple[BookedMovement, BookedMovement]]
    """(as booked, as corrected) for every later repayment whose waterfall changed."""


def _at_value_date(
    state: FacilityState, later: Sequence[BookedMovement], redo: Sequence[ClosedDay]
) -> tuple[dict[str, Decimal], Decimal]:
    """Principal per shipment and interest due at the value date, as booked: today's figures
    with the movements after it undone and the interest of the days after it removed (the
    interest those movements paid is owed again)."""
    principals = {k: s.principal for k, s in state.shipments.items()}
    due = state.interest_due - sum((_booked(d) for d in redo), ZERO)
    for move in later:
        sign = -1 if move.kind == "drawdown" else 1
        for shipment, amount in move.principal.items():
            principals[shipment] = principals.get(shipment, ZERO) + sign * amount
        due += move.interest
    return principals, due


def rebook(
    state: FacilityState,
    value_date: datetime,
    movement: BookedMovement,
    currency: str,
) -> Rebooked:
    """Replay the window from ``value_date`` with ``movement`` booked first, as an
    event-time-ordered run would have: a repayment (its amount and shipment; its split is
    computed here) or a drawdown (its principal per shipment)."""
    cut = _after(state.movements, value_date)
    later = state.movements[cut:]
    first = value_date.date()
    kept = [d for d in state.closed_days if d.day < first]
    redo = [d for d in state.closed_days if d.day >= first]
    principals, due = _at_value_date(state, later, redo)
    placed = movement.model_copy(update={"at": value_date})
    placed, due = _replay(placed, principals, due)
    timeline: list[tuple[datetime, int, int]] = [
        (midnight(d.day + timedelta(days=1)), 0, i) for i, d in enumerate(redo)
    ]
    timeline += [(m.at, 1, j) for j, m in enumerate(later)]  # a day ends before the next begins
    days: list[ClosedDay] = []
    moves: list[BookedMovement] = []
    for _, what, index in sorted(timeline):
        if what == 0:
            day = _reprice(redo[index], sum(principals.values(), ZERO), currency)
            due += _booked(day)
            days.append(day)
            continue
        move, due = _replay(later[index], principals, due)
        moves.append(move)
    own = Split(placed.interest, dict(placed.principal), placed.surplus)
    return Rebooked(
        value_date=value_date,
        split=NO_SPLIT if placed.kind == "drawdown" else own,
        principals=principals,
        due=due,
        days=[*kept, *days],
        movements=[*state.movements[:cut], placed, *moves],
        changed_days=[(a, b) for a, b in zip(redo, days, strict=True) if a != b],
        resplit=[(a, b) for a, b in zip(later, moves, strict=True) if a != b],
    )


def _replay(
    move: BookedMovement, principals: dict[str, Decimal], due: Decimal
) -> tuple[BookedMovement, Decimal]:
    """Book ``move`` again on ``principals`` (changed in place) and interest ``due``: a
    drawdown lends what it lent, a repayment runs its waterfall on what is owed now. Returns
    the movement as re-booked and the interest due after it."""
    if move.kind == "drawdown":
        for shipment, amount in move.principal.items():
            principals[shipment] = principals.get(shipment, ZERO) + amount
        return move, due
    split = waterfall(move.amount, due, principals, move.shipment_id)
    return _with_split(move, split), due - split.interest


def _booked(day: ClosedDay) -> Decimal:
    """What closing ``day`` added to interest due: its interest and any default interest
    (which a replay keeps as booked: a plan's instalments are not replayed)."""
    return day.interest + day.default_interest


def _reprice(day: ClosedDay, principal: Decimal, currency: str) -> ClosedDay:
    """``day`` with ``principal`` at its end (the engine's rule: no interest on nothing)."""
    interest = ZERO
    if principal > 0 and day.annual_rate > 0:
        interest = daily_interest(principal, day.annual_rate, day.day_count, currency)
    if principal == day.principal and interest == day.interest:
        return day
    return day.model_copy(update={"principal": principal, "interest": interest})


def _with_split(move: BookedMovement, split: Split) -> BookedMovement:
    if (move.interest, move.principal, move.surplus) == (
        split.interest,
        split.principal,
        split.surplus,
    ):
        return move
    return move.model_copy(
        update={"interest": split.interest, "principal": split.principal, "surplus": split.surplus}
    )


def totals(pairs: Sequence[tuple[BookedMovement, BookedMovement]]) -> Mapping[str, Decimal]:
    """What re-splitting later repayments moved: interest paid, principal repaid, surplus."""
    return {
        "interest": sum((b.interest - a.interest for a, b in pairs), ZERO),
        "principal": sum(
            (sum(b.principal.values(), ZERO) - sum(a.principal.values(), ZERO) for a, b in pairs),
            ZERO,
        ),
        "surplus": sum((b.surplus - a.surplus for a, b in pairs), ZERO),
    }
