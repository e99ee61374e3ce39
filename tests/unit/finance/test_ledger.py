"""The ledger's promises: balanced entries, deterministic ids, a hash chain that fails loudly,
naming the entry, when anything stored is changed, and tolerates identical redeliveries."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from finance.ledger import balances, build_entry, canonical_body, chain_hash, verify
from finance.money import identity
from tests.unit.finance.builders import (
    FAC,
    story_ledger,
    tick,
)
from tradelane.contracts.finance import (
    GENESIS_HASH,
    Direction,
    LedgerAccount,
    LedgerEntry,
    LedgerEntryKind,
)


def test_a_real_ledger_verifies_and_its_balances_add_up() -> None:
    entries = story_ledger()
    result = verify(FAC, entries)
    assert result.ok
    assert result.entries == len(entries) >= 5
    assert result.head_seq == len(entries) - 1
    assert result.head_hash == entries[-1].hash
    assert entries[0].prev_hash == GENESIS_HASH
    totals = balances(entries)
    assert sum(totals.values()) == 0, "debits equal credits over the whole ledger"
    assert totals[LedgerAccount.LOAN_PRINCIPAL] == Decimal("132000.00") - (
        Decimal(50000) - totals[LedgerAccount.INTEREST_INCOME].copy_negate()
    )


def test_building_the_same_ledger_twice_gives_identical_bytes() -> None:
    assert [e.model_dump_json() for e in story_ledger()] == [
        e.model_dump_json() for e in story_ledger()
    ]


def _leaves(node: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _leaves(v, (*path, k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _leaves(v, (*path, i))]
    return [] if node is None else [path]


def _altered(value: object) -> object:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    assert isinstance(value, str)
    last = value[-1]
    if last.isdigit():
        return value[:-1] + str((int(last) + 1) % 10)
    if last.isalpha():
        nxt = "a" if last == "z" else "A" if last == "Z" else chr(ord(last) + 1)
        return value[:-1] + nxt
    return value[:-1] + "0"


def _tampered(entry: LedgerEntry, path: tuple[str | int, ...]) -> LedgerEntry | None:
    raw = entry.model_dump(mode="json")
    node: Any = raw
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = _altered(node[path[-1]])
    try:
        return LedgerEntry.model_validate(raw)
    except ValidationError:
        return None  # not even a ledger entry: the store reports it as unreadable


def test_changing_any_stored_field_of_any_entry_fails_naming_that_entry() -> None:
    entries = story_ledger()
    checked = 0
    for index, entry in enumerate(entries):
        for path in _leaves(entry.model_dump(mode="json")):
            forged = _tampered(entry, path)
            if forged is None or forged == entry:
                continue
            result = verify(FAC, [*entries[:index], forged, *entries[index + 1 :]])
            assert not result.ok, f"changing {path} of seq {index} went unnoticed"
            named = {(p.seq, p.entry_id) for p in result.problems}
            assert any(
                seq in (entry.seq, forged.seq) or eid in (entry.entry_id, forged.entry_id)
                for seq, eid in named
            ), (path, result.problems)
            checked += 1
    assert checked > 100


def test_identical_redeliveries_are_harmless_and_counted() -> None:
    entries = story_ledger()
    result = verify(FAC, [entries[0], *entries[:3], entries[2], *entries[3:], entries[-1]])
    assert result.ok
    assert result.duplicates == 3
    assert result.entries == len(entries)


def test_a_second_version_of_a_position_is_a_rewrite() -> None:
    entries = story_ledger()
    rewritten = _tampered(entries[1], ("postings", 0, "amount"))
    assert rewritten is not None
    result = verify(FAC, [*entries, rewritten])
    assert [str(p) for p in result.problems] == [
        f"seq 1, entry {entries[1].entry_id}: a second, different version of this position"
    ]


def test_gaps_foreign_entries_and_anchors() -> None:
    entries = story_ledger()
    gap = verify(FAC, entries[:2] + entries[3:])
    assert not gap.ok
    assert "gap: expected seq 2" in str(gap.problems[0])
    foreign = verify("fac-other", entries[:1])
    assert "belongs to facility 'fac-1'" in str(foreign.problems[0])
    assert verify(FAC, entries, anchor=(2, entries[2].hash)).ok
    truncated = verify(FAC, entries[:2], anchor=(2, entries[2].hash))
    assert "anchor mismatch" in str(truncated.problems[0])


def test_a_reforged_chain_without_derived_ids_is_caught() -> None:
    """Someone who recomputes every hash still has to derive ids the way the engine does."""
    entries = story_ledger()
    last = entries[-1]
    forged = last.model_copy(update={"entry_id": "f" * 32, "prev_hash": last.prev_hash})
    forged = forged.model_copy(
        update={"hash": chain_hash(forged.prev_hash, canonical_body(forged))}
    )
    result = verify(FAC, [*entries[:-1], forged])
    assert [p.reason for p in result.problems] == ["posting ids are not derived from the entry id"]


def test_an_unbalanced_transaction_is_never_built() -> None:
    with pytest.raises(ValueError, match="unbalanced"):
        build_entry(
            facility_id=FAC,
            seq=0,
            prev_hash=GENESIS_HASH,
            kind=LedgerEntryKind.DRAWDOWN,
            cause_key=("x",),
            cause_event_id="x",
            at=tick(0).at,
            currency="USD",
            fx=identity("USD"),
            legs=[
                (LedgerAccount.LOAN_PRINCIPAL, Direction.DEBIT, Decimal(10)),
                (LedgerAccount.FUNDING, Direction.CREDIT, Decimal(9)),
            ],
        )


def test_entry_ids_derive_from_the_cause() -> None:
    entries = story_ledger()
    drawdowns = [e for e in entries if e.kind is LedgerEntryKind.DRAWDOWN]
    again = [e for e in story_ledger() if e.kind is LedgerEntryKind.DRAWDOWN]
    assert [e.entry_id for e in drawdowns] == [e.entry_id for e in again]
    assert len({e.entry_id for e in entries}) == len(entries)
    assert all(p.cause_event_id == e.cause_event_id for e in entries for p in e.postings)
