"""A facility's position, folded from its ledger: the one balance every view shows.

The ledger on ``finance.ledger`` is the bank's record of every money movement, so what a
facility owes is whatever its entries add up to, and nothing else. The summary
(``GET /api/v1/facilities/{id}``), the ledger view, the chart's series, the funding calendar and
``tradelane finance calendar`` all take their balance from :func:`fold` (or its incremental
form :func:`advance`) over the same entries, so they cannot disagree; none of them runs the
pledge engine a second time.

The fold follows the chain: an entry is taken only when it is the next position of the
facility's chain (``seq``), links to the head (``prev_hash``), recomputes to its own hash and
balances. A byte-identical redelivery is counted and skipped; anything else is recorded as a
problem and left out, so the position always reflects a verified prefix of the chain, named
by its head (``head_seq``, ``head_hash``). Its time (``as_of``) is the last entry's event
time, never the clock of whoever folds.

Per shipment, what was drawn is recognised from the ledger itself: a drawdown's entry id
derives from (facility, shipment, milestone), so the candidates a facility's terms name can be
matched exactly. A repayment's principal is spread the way the engine's waterfall spread it:
on the shipment the repayment named (the ``RepaymentApplied`` event that cites the entry says
which), else across shipments in id order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from finance.ledger import canonical_body, chain_hash, entry_id, is_balanced
from tradelane.contracts import Milestone
from tradelane.contracts.finance import (
    GENESIS_HASH,
    Direction,
    LedgerAccount,
    LedgerEntry,
    LedgerEntryKind,
)

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Movement:
    """What one entry did to the position, and the position right after it (a chart point)."""

    seq: int
    entry_id: str
    kind: LedgerEntryKind
    at: datetime
    hash: str
    principal: Decimal
    """Change of the loan principal (a drawdown is positive, a repayment negative)."""
    interest: Decimal
    """Change of interest receivable (accrued positive, paid negative)."""
    payable: Decimal
    """Change of what is held for the borrower (a surplus booked is positive)."""
    principal_after: Decimal
    interest_after: Decimal


@dataclass(slots=True)
class Position:
    """A facility's balances as its ledger states them, up to ``head_seq``."""

    facility_id: str
    currency: str | None = None
    principal: Decimal = ZERO
    """Outstanding principal: loan principal debits minus credits."""
    interest_due: Decimal = ZERO
    """Interest accrued and not yet paid."""
    borrower_payable: Decimal = ZERO
    """Surplus received for the borrower (payouts or proceeds above what was owed)."""
    drawn: Decimal = ZERO
    principal_repaid: Decimal = ZERO
    interest_accrued: Decimal = ZERO
    interest_paid: Decimal = ZERO
    head_seq: int | None = None
    head_hash: str = GENESIS_HASH
    as_of: datetime | None = None
    """The latest event time of the entries taken (a value-dated entry may be earlier)."""
    movements: list[Movement] = field(default_factory=list)
    duplicates: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def entries(self) -> int:
        return len(self.movements)

    @property
    def verified(self) -> bool:
        """Every entry seen so far belonged to the chain."""
        return not self.problems

    def headroom(self, base: Decimal, limit: Decimal) -> Decimal:
        """What may still be drawn: min(base, limit) - outstanding (negative when short)."""
        return min(base, limit) - self.principal


def _net(entry: LedgerEntry, account: LedgerAccount) -> Decimal:
    """Debit-positive change of ``account`` in ``entry``."""
    total = ZERO
    for p in entry.postings:
        if p.account is account:
            total += p.amount if p.direction is Direction.DEBIT else -p.amount
    return total


def _problem(position: Position, entry: LedgerEntry, reason: str) -> bool:
    position.problems.append(f"seq {entry.seq}, entry {entry.entry_id}: {reason}")
    return False


def advance(position: Position, entry: LedgerEntry) -> bool:
    """Fold one stored entry into ``position`` (in place); True when it was taken.

    In place because the API folds every entry of every facility as it arrives;
    :func:`fold` is the pure form."""
    if entry.facility_id != position.facility_id:
        return _problem(position, entry, f"belongs to facility {entry.facility_id!r}")
    following = len(position.movements)
    if entry.seq < following:
        if position.movements[entry.seq].hash == entry.hash:
            position.duplicates += 1
            return False
        return _problem(position, entry, "a second, different version of this position")
    if entry.seq > following:
        return _problem(position, entry, f"gap: expected seq {following} next")
    if entry.prev_hash != position.head_hash:
        return _problem(position, entry, "does not link to the previous entry")
    if chain_hash(entry.prev_hash, canonical_body(entry)) != entry.hash:
        return _problem(position, entry, "hash does not recompute")
    if not is_balanced(entry):
        return _problem(position, entry, "debits do not equal credits")
    currencies = {p.currency for p in entry.postings}
    if len(currencies) != 1 or (position.currency or next(iter(currencies))) not in currencies:
        return _problem(position, entry, f"postings in {sorted(currencies)}")
    position.currency = next(iter(currencies))
    principal = _net(entry, LedgerAccount.LOAN_PRINCIPAL)
    interest = _net(entry, LedgerAccount.INTEREST_RECEIVABLE)
    payable = -_net(entry, LedgerAccount.BORROWER_PAYABLE)
    accrued = -_net(entry, LedgerAccount.INTEREST_INCOME)
    position.principal += principal
    position.interest_due += interest
    position.borrower_payable += payable
    if entry.kind is LedgerEntryKind.DRAWDOWN:
        position.drawn += principal
    else:  # a repayment, or an adjustment re-splitting later repayments (either sign)
        position.principal_repaid -= principal
    # Interest income is what accrued (an adjustment may lower it); receivable moves by what
    # accrued less what was paid.
    position.interest_accrued += accrued
    position.interest_paid += accrued - interest
    if position.principal < 0 or position.interest_due < 0:
        position.problems.append(
            f"seq {entry.seq}, entry {entry.entry_id}: the ledger goes below zero "
            f"(principal {position.principal}, interest due {position.interest_due})"
        )
    position.movements.append(
        Movement(
            seq=entry.seq,
            entry_id=entry.entry_id,
            kind=entry.kind,
            at=entry.at,
            hash=entry.hash,
            principal=principal,
            interest=interest,
            payable=payable,
            principal_after=position.principal,
            interest_after=position.interest_due,
        )
    )
    position.head_seq, position.head_hash = entry.seq, entry.hash
    # A value-dated repayment's entries carry its (earlier) event time: as_of never moves back.
    position.as_of = entry.at if position.as_of is None else max(position.as_of, entry.at)
    return True


def fold(facility_id: str, entries: Iterable[LedgerEntry]) -> Position:
    """The position ``entries`` (in storage order) state for ``facility_id``."""
    position = Position(facility_id)
    for entry in entries:
        advance(position, entry)
    return position


@dataclass(frozen=True, slots=True)
class ShipmentPosition:
    """What the ledger says was lent against one shipment."""

    shipment_id: str
    drawn: Mapping[Milestone, Decimal]
    principal: Decimal


@dataclass(frozen=True, slots=True)
class Breakdown:
    shipments: Mapping[str, ShipmentPosition]
    unattributed: Decimal
    """Principal of drawdowns no candidate explains (terms changed, or not known yet)."""


def by_shipment(
    position: Position,
    shipments: Iterable[str],
    named: Mapping[int, str | None] | None = None,
) -> Breakdown:
    """Split the position's principal over ``shipments`` (those the facility pledges).

    ``named``: ledger seq of a repayment entry -> the shipment it was applied to (``None``:
    none named), from the ``RepaymentApplied`` events that cite the entry. A repayment not
    in ``named`` is spread like an unnamed one."""
    named = named or {}
    ids = sorted(set(shipments))
    owner = {
        entry_id(position.facility_id, LedgerEntryKind.DRAWDOWN, s, m.value): (s, m)
        for s in ids
        for m in Milestone
    }
    drawn: dict[str, dict[Milestone, Decimal]] = {s: {} for s in ids}
    principal: dict[str, Decimal] = dict.fromkeys(ids, ZERO)
    unattributed = ZERO
    for move in position.movements:
        if move.principal > 0 and move.kind is LedgerEntryKind.INTEREST_ADJUSTMENT:
            target = named.get(move.seq)  # principal a re-split repayment no longer repaid
            back = target if target in principal else (ids[0] if ids else None)
            if back is None:
                unattributed += move.principal
            else:
                principal[back] += move.principal
        elif move.principal > 0:
            found = owner.get(move.entry_id)
            if found is None:
                unattributed += move.principal
                continue
            shipment, milestone = found
            drawn[shipment][milestone] = drawn[shipment].get(milestone, ZERO) + move.principal
            principal[shipment] += move.principal
        elif move.principal < 0:
            left = -move.principal
            target = named.get(move.seq)
            order = [target] if target in principal else ([] if target else ids)
            for shipment in order:
                assert shipment is not None
                share = min(principal[shipment], left)
                principal[shipment] -= share
                left -= share
            unattributed -= left
    return Breakdown(
        {s: ShipmentPosition(s, drawn[s], principal[s]) for s in ids},
        unattributed,
    )
