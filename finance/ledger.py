"""The facility ledger: balanced double-entry transactions, append-only and hash-chained.

Each :class:`~tradelane.contracts.finance.LedgerEntry` is one balanced transaction (debits equal
credits, in the facility currency) with a position ``seq`` in its facility's chain and::

    hash = sha256( prev_hash + "\\n" + canonical JSON of every field except ``hash`` )

Canonical JSON is the contract's JSON form with sorted keys and no whitespace, so anyone with
the stored entries and this rule (docs/finance.md) can recompute the chain in any language.

Ids are derived from causes: an entry's id from (facility, kind, cause key) - for a drawdown the
cause key is (shipment, milestone), so a second drawdown for the same milestone would carry the
same id and :func:`verify` would reject it - and a posting's id from (entry id, leg index).

On Kafka, an append-only topic, "rewriting" history can only mean appending a record that
claims an earlier position, or deleting records. :func:`verify` accepts byte-identical
re-deliveries of an entry (producer retries, a worker re-running a step) and fails on anything
else: a changed field, a second version of a position, a gap, a broken link, an unbalanced
entry, an id used twice. What a hash chain cannot do alone is authenticate who appended: so the
worker signs each facility's head at every batch that extended it (a
:class:`~tradelane.contracts.finance.LedgerCheckpoint`, :mod:`finance.checkpoints`), and
:func:`verify` given the checkpoints and the trusted public keys also requires every
checkpoint to verify and to match the recomputed chain, and the chain's last entry to be
covered by one. A bank that keeps a head hash it was sent (``ledger_seq``/``ledger_hash`` on
every money event) can still pin it with ``anchor``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from finance.checkpoints import checkpoint_id, signature_ok, trusted
from tradelane.contracts.finance import (
    GENESIS_HASH,
    AppliedFx,
    Direction,
    LedgerAccount,
    LedgerCheckpoint,
    LedgerEntry,
    LedgerEntryKind,
    Payout,
    Posting,
)
from tradelane.ids import derive_id

Leg = tuple[LedgerAccount, Direction, Decimal]
"""One side of a transaction before it becomes a :class:`Posting`."""
_CASH_OUT = (LedgerAccount.FUNDING, Direction.CREDIT)
"""The leg a payout is recorded on: the bank's cash that left."""


def canonical_body(entry: LedgerEntry) -> str:
    """The bytes the hash covers, as text: every field but ``hash``, sorted, compact."""
    body = entry.model_dump(mode="json", exclude={"hash"})
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, body: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def entry_id(facility_id: str, kind: LedgerEntryKind, *cause_key: str) -> str:
    return derive_id("ledger_entry", facility_id, kind.value, *cause_key)


def build_entry(
    *,
    facility_id: str,
    seq: int,
    prev_hash: str,
    kind: LedgerEntryKind,
    cause_key: Sequence[str],
    cause_event_id: str,
    at: datetime,
    currency: str,
    fx: AppliedFx,
    legs: Sequence[Leg],
    payout: Payout | None = None,
) -> LedgerEntry:
    """A balanced, chained entry; zero legs are dropped, unbalanced legs are a bug (raised).
    ``payout`` (a tranche paid out in another currency) is recorded on the funding credit:
    it is the cash that left."""
    kept = [leg for leg in legs if leg[2] != 0]
    debit = sum((a for _, d, a in kept if d is Direction.DEBIT), Decimal(0))
    credit = sum((a for _, d, a in kept if d is Direction.CREDIT), Decimal(0))
    if debit != credit or debit <= 0:
        raise ValueError(f"unbalanced or empty transaction: debits {debit}, credits {credit}")
    eid = entry_id(facility_id, kind, *cause_key)
    postings = [
        Posting(
            posting_id=derive_id("posting", eid, index),
            account=account,
            direction=direction,
            amount=amount,
            currency=currency,
            fx=fx,
            cause_event_id=cause_event_id,
            payout=payout if (account, direction) == _CASH_OUT else None,
        )
        for index, (account, direction, amount) in enumerate(kept)
    ]
    draft = LedgerEntry(
        facility_id=facility_id,
        seq=seq,
        entry_id=eid,
        kind=kind,
        cause_event_id=cause_event_id,
        at=at,
        postings=postings,
        prev_hash=prev_hash,
        hash=GENESIS_HASH,  # placeholder: the hash does not cover itself
    )
    return draft.model_copy(update={"hash": chain_hash(prev_hash, canonical_body(draft))})


def is_balanced(entry: LedgerEntry) -> bool:
    """Debits equal credits in every currency of the entry."""
    totals: dict[str, Decimal] = {}
    for p in entry.postings:
        sign = 1 if p.direction is Direction.DEBIT else -1
        totals[p.currency] = totals.get(p.currency, Decimal(0)) + sign * p.amount
    return all(total == 0 for total in totals.values())


def balances(entries: Iterable[LedgerEntry]) -> dict[LedgerAccount, Decimal]:
    """Debit-positive balance of every account (loan principal > 0 means money is owed)."""
    out = {account: Decimal(0) for account in LedgerAccount}
    for entry in entries:
        for p in entry.postings:
            out[p.account] += p.amount if p.direction is Direction.DEBIT else -p.amount
    return out


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason the chain does not verify, naming the entry (or the record) at fault."""

    seq: int | None
    entry_id: str | None
    reason: str
    offset: int | None = None

    def __str__(self) -> str:
        where = [f"offset {self.offset}"] if self.offset is not None else []
        if self.seq is not None:
            where.append(f"seq {self.seq}")
        if self.entry_id is not None:
            where.append(f"entry {self.entry_id}")
        return f"{', '.join(where) or 'ledger'}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Signatures:
    """What the checkpoints said, when they were checked."""

    checkpoints: int
    """Distinct checkpoint records read (identical redeliveries count once)."""
    signed_seq: int | None
    """The highest seq a valid checkpoint covers (``None``: none is valid)."""
    key_ids: tuple[str, ...]
    """The keys that signed the valid checkpoints."""


@dataclass(frozen=True, slots=True)
class VerifyResult:
    facility_id: str
    entries: int
    duplicates: int
    head_seq: int | None
    head_hash: str
    problems: tuple[Problem, ...] = field(default=())
    signatures: Signatures | None = None
    """``None`` when the checkpoints were not checked (the hash chain alone)."""

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(
    facility_id: str,
    stored: Iterable[LedgerEntry],
    anchor: tuple[int, str] | None = None,
    checkpoints: Iterable[LedgerCheckpoint] | None = None,
    keys: Iterable[Ed25519PublicKey] = (),
) -> VerifyResult:
    """Recompute ``facility_id``'s chain from ``stored`` (in storage order).

    ``anchor`` = (seq, hash) that the verifier obtained independently (e.g. from a
    ``DrawdownExecuted`` event): the chain must contain exactly that entry.

    ``checkpoints`` (the facility's signed heads, in storage order) and ``keys`` (the trusted
    public keys): each checkpoint must be signed by one of ``keys`` and match the recomputed
    chain, and a valid checkpoint must cover the chain's last entry (else the entries after
    the last valid one are an unsigned tail). ``None``: the hash chain alone is checked.
    """
    accepted: list[LedgerEntry] = []
    problems: list[Problem] = []
    ids_at: dict[str, int] = {}
    duplicates = 0
    prev = GENESIS_HASH
    for entry in stored:
        where = (entry.seq, entry.entry_id)
        if entry.facility_id != facility_id:
            problems.append(Problem(*where, f"belongs to facility {entry.facility_id!r}"))
            continue
        if entry.seq < len(accepted):
            if entry == accepted[entry.seq]:
                duplicates += 1
            else:
                problems.append(Problem(*where, "a second, different version of this position"))
            continue
        if entry.seq > len(accepted):
            problems.append(Problem(*where, f"gap: expected seq {len(accepted)} next"))
            continue
        problems.extend(_check_entry(entry, prev, ids_at))
        ids_at.setdefault(entry.entry_id, entry.seq)
        accepted.append(entry)
        prev = entry.hash
    if anchor is not None:
        seq, expected = anchor
        if seq >= len(accepted) or accepted[seq].hash != expected:
            found = accepted[seq].hash if seq < len(accepted) else "no such entry"
            problems.append(Problem(seq, None, f"anchor mismatch: expected {expected}, {found}"))
    signatures = None
    if checkpoints is not None:
        signatures = _check_checkpoints(facility_id, accepted, checkpoints, keys, problems)
    return VerifyResult(
        facility_id=facility_id,
        entries=len(accepted),
        duplicates=duplicates,
        head_seq=len(accepted) - 1 if accepted else None,
        head_hash=prev,
        problems=tuple(problems),
        signatures=signatures,
    )


def _check_checkpoints(
    facility_id: str,
    chain: Sequence[LedgerEntry],
    checkpoints: Iterable[LedgerCheckpoint],
    keys: Iterable[Ed25519PublicKey],
    problems: list[Problem],
) -> Signatures:
    """Check every checkpoint against ``chain`` (the accepted entries, by seq); require the
    chain's last entry to be covered. Appends to ``problems``."""
    by_id = trusted(keys)
    seen: set[LedgerCheckpoint] = set()
    signed_seq: int | None = None
    signers: set[str] = set()
    for checkpoint in checkpoints:
        if checkpoint in seen:
            continue  # an identical redelivery (a producer retry, a re-run step)
        seen.add(checkpoint)
        fault = checkpoint_fault(facility_id, chain, checkpoint, by_id)
        if fault is not None:
            where = f"checkpoint of seq {checkpoint.seq} (key {checkpoint.key_id})"
            problems.append(Problem(checkpoint.seq, None, f"{where}: {fault}"))
            continue
        signed_seq = checkpoint.seq if signed_seq is None else max(signed_seq, checkpoint.seq)
        signers.add(checkpoint.key_id)
    first_unsigned = 0 if signed_seq is None else signed_seq + 1
    if first_unsigned < len(chain):
        last = len(chain) - 1
        span = (
            f"seq {first_unsigned}" if first_unsigned == last else f"seqs {first_unsigned}-{last}"
        )
        problems.append(
            Problem(
                first_unsigned,
                chain[first_unsigned].entry_id,
                f"unsigned tail: {span} covered by no valid checkpoint (appended without the "
                "signing key, or its checkpoint was lost)",
            )
        )
    return Signatures(len(seen), signed_seq, tuple(sorted(signers)))


def checkpoint_fault(
    facility_id: str,
    chain: Sequence[LedgerEntry],
    checkpoint: LedgerCheckpoint,
    keys: dict[str, Ed25519PublicKey],
) -> str | None:
    """Why ``checkpoint`` does not vouch for ``chain`` (the first reason, in this order), or
    ``None`` when it is valid: signed by a trusted key and naming exactly the chain's entry."""
    c = checkpoint
    if c.facility_id != facility_id:
        return f"belongs to facility {c.facility_id!r}"
    if c.checkpoint_id != checkpoint_id(c.facility_id, c.seq):
        return "checkpoint id is not derived from (facility, seq)"
    key = keys.get(c.key_id)
    if key is None:
        known = ", ".join(sorted(keys)) or "none given"
        return f"signed by an untrusted key (trusted: {known})"
    if not signature_ok(c, key):
        return "signature does not verify: the checkpoint was forged or altered"
    if c.entry_count != c.seq + 1:
        return f"entry_count {c.entry_count} is not seq + 1"
    if c.seq >= len(chain):
        return (
            f"signs an entry the chain does not have (it has {len(chain)} entries): "
            "entries were removed"
        )
    entry = chain[c.seq]
    if entry.hash != c.head_hash:
        return (
            f"signed head hash {c.head_hash}, but the chain's entry has {entry.hash}: "
            "the chain was re-forged"
        )
    if entry.at != c.at:
        return f"covers event time {c.at.isoformat()}, the entry's is {entry.at.isoformat()}"
    return None


def _check_entry(entry: LedgerEntry, prev: str, ids_at: dict[str, int]) -> list[Problem]:
    where = (entry.seq, entry.entry_id)
    found: list[Problem] = []
    if entry.prev_hash != prev:
        found.append(Problem(*where, f"prev_hash {entry.prev_hash} != previous entry's {prev}"))
    recomputed = chain_hash(entry.prev_hash, canonical_body(entry))
    if recomputed != entry.hash:
        found.append(Problem(*where, f"hash mismatch: stored {entry.hash}, computed {recomputed}"))
    if not is_balanced(entry):
        found.append(Problem(*where, "debits do not equal credits"))
    if entry.entry_id in ids_at:
        found.append(Problem(*where, f"entry id already used at seq {ids_at[entry.entry_id]}"))
    posting_ids = [p.posting_id for p in entry.postings]
    expected_ids = [derive_id("posting", entry.entry_id, i) for i in range(len(posting_ids))]
    if posting_ids != expected_ids:
        found.append(Problem(*where, "posting ids are not derived from the entry id"))
    return found
