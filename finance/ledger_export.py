"""A facility's ledger as CSV (one row per posting) and as a signed JSON bundle (pure, no I/O).

**CSV** is for spreadsheets and accounting imports: one row per posting, the entry's fields
repeated on each of its rows, amounts as plain decimal strings (``format(amount, "f")``, never
through a float) with their currency, and the hash-chain fields (``prev_hash``, ``hash``) so a
row can be traced back to the chained entry. It is a view, not evidence: it cannot be verified.

**The bundle** is evidence a bank checks offline. One JSON document::

    {"format": "tradelane-ledger-bundle", "version": 1, "facility_id": F,
     "entries": [LedgerEntry, ...],            # the chain, in seq order
     "checkpoint": LedgerCheckpoint | null,    # the facility's latest signed head
     "head": {"seq": N, "hash": H} | null}     # the chain's last entry

written as canonical JSON (keys sorted, separators ``(",", ":")``, UTF-8), the same rule the
ledger's hashes and the checkpoints' signatures use. Its signature is the checkpoint's: Ed25519
by the worker's ledger key over the head hash, and the head hash commits to the canonical bytes
of every entry before it through the chain. So a bank holding only the public key verifies the
whole bundle with :func:`verify_bundle` (or ``tradelane ledger verify --file``, or by the rules
of docs/finance.md in any language): a changed, removed, reordered or appended entry, a changed
checkpoint and a checkpoint of another key all fail. The bundle carries no second signature of
its own: the exporting process (the API, a CLI) does not hold the worker's private key
(docs/security.md keeps it the worker's alone), and a second key would be one more key every
bank must be given and trust for nothing the checkpoint does not already prove.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from finance.ledger import Problem, VerifyResult, verify
from tradelane.contracts.finance import LedgerCheckpoint, LedgerEntry

BUNDLE_FORMAT = "tradelane-ledger-bundle"
BUNDLE_VERSION = 1

LEDGER_COLUMNS = (
    "facility_id",
    "seq",
    "entry_id",
    "at",
    "kind",
    "cause_event_id",
    "posting_id",
    "account",
    "direction",
    "amount",
    "currency",
    "fx_base",
    "fx_quote",
    "fx_rate",
    "fx_quote_id",
    "payout_amount",
    "payout_currency",
    "prev_hash",
    "hash",
)
"""The ledger CSV's header, one row per posting."""


def _dec(value: Any) -> str:
    return format(value, "f")


def posting_rows(entry: LedgerEntry) -> list[dict[str, str]]:
    """The CSV rows of one entry: one per posting, every value a string."""
    rows = []
    for p in entry.postings:
        rows.append(
            {
                "facility_id": entry.facility_id,
                "seq": str(entry.seq),
                "entry_id": entry.entry_id,
                "at": entry.at.isoformat(),
                "kind": entry.kind.value,
                "cause_event_id": entry.cause_event_id,
                "posting_id": p.posting_id,
                "account": p.account.value,
                "direction": p.direction.value,
                "amount": _dec(p.amount),
                "currency": p.currency,
                "fx_base": p.fx.base,
                "fx_quote": p.fx.quote,
                "fx_rate": _dec(p.fx.rate),
                "fx_quote_id": p.fx.quote_id or "",
                "payout_amount": _dec(p.payout.amount.amount) if p.payout else "",
                "payout_currency": p.payout.amount.currency if p.payout else "",
                "prev_hash": entry.prev_hash,
                "hash": entry.hash,
            }
        )
    return rows


def _csv_line(row: Sequence[str] | dict[str, str], header: Sequence[str]) -> str:
    out = io.StringIO()
    if isinstance(row, dict):
        csv.DictWriter(out, fieldnames=header, lineterminator="\r\n").writerow(row)
    else:
        csv.writer(out, lineterminator="\r\n").writerow(row)
    return out.getvalue()


def ledger_csv(entries: Iterable[LedgerEntry]) -> Iterator[str]:
    """The ledger as CSV text, a chunk per entry (RFC 4180 line ends), header first."""
    yield _csv_line(LEDGER_COLUMNS, LEDGER_COLUMNS)
    for entry in entries:
        yield "".join(_csv_line(row, LEDGER_COLUMNS) for row in posting_rows(entry))


def canonical(data: Any) -> bytes:
    """JSON with sorted keys and no whitespace, UTF-8: the bytes hashes and signatures cover."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain(entries: Iterable[LedgerEntry]) -> list[LedgerEntry]:
    """The stored entries as one chain: by seq, identical redeliveries once. A second,
    different version of a position is kept (after the first) so verification reports it
    instead of the export hiding it."""
    kept: dict[tuple[int, str], LedgerEntry] = {}
    for entry in entries:
        kept.setdefault((entry.seq, entry.hash), entry)
    return sorted(kept.values(), key=lambda e: e.seq)


def latest_checkpoint(
    checkpoints: Iterable[LedgerCheckpoint], facility_id: str
) -> LedgerCheckpoint | None:
    """The facility's checkpoint of the highest seq (the last stored of those)."""
    best: LedgerCheckpoint | None = None
    for c in checkpoints:
        if c.facility_id == facility_id and (best is None or c.seq >= best.seq):
            best = c
    return best


def bundle(
    facility_id: str, entries: Iterable[LedgerEntry], checkpoints: Iterable[LedgerCheckpoint]
) -> dict[str, Any]:
    """The bundle of a facility's stored entries and checkpoints (module docstring)."""
    chained = chain(e for e in entries if e.facility_id == facility_id)
    checkpoint = latest_checkpoint(checkpoints, facility_id)
    head = chained[-1] if chained else None
    return {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "facility_id": facility_id,
        "entries": [e.model_dump(mode="json") for e in chained],
        "checkpoint": None if checkpoint is None else checkpoint.model_dump(mode="json"),
        "head": None if head is None else {"seq": head.seq, "hash": head.hash},
    }


def bundle_bytes(
    facility_id: str, entries: Iterable[LedgerEntry], checkpoints: Iterable[LedgerCheckpoint]
) -> bytes:
    """The bundle as the canonical bytes that are served and saved."""
    return canonical(bundle(facility_id, entries, checkpoints))


@dataclass(frozen=True, slots=True)
class Bundle:
    """A bundle read back: what :func:`finance.ledger.verify` needs, and what did not parse."""

    facility_id: str
    entries: tuple[LedgerEntry, ...]
    checkpoints: tuple[LedgerCheckpoint, ...]
    head: tuple[int, str] | None
    problems: tuple[Problem, ...]


def is_bundle(data: bytes) -> bool:
    """Whether ``data`` is a bundle (one JSON object naming the format), not a JSON-lines
    export (whose lines are JSON objects too, but several of them, or none naming it)."""
    try:
        doc = json.loads(data)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("format") == BUNDLE_FORMAT


def read_bundle(data: bytes) -> Bundle:
    """Parse a bundle; a part that is not what the format says is a :class:`Problem`, never
    skipped silently (the verdict then fails)."""
    try:
        doc = json.loads(data)
    except ValueError:
        return Bundle("", (), (), None, (Problem(None, None, "bundle: not JSON"),))
    if not isinstance(doc, dict) or doc.get("format") != BUNDLE_FORMAT:
        return Bundle("", (), (), None, (Problem(None, None, "not a ledger bundle"),))
    problems: list[Problem] = []
    if doc.get("version") != BUNDLE_VERSION:
        problems.append(Problem(None, None, f"bundle version {doc.get('version')!r} unknown"))
    entries: list[LedgerEntry] = []
    for index, raw in enumerate(doc.get("entries") or []):
        try:
            entries.append(LedgerEntry.model_validate(raw))
        except ValidationError as exc:
            reason = f"bundle entry {index}: not a ledger entry ({exc.error_count()} errors)"
            problems.append(Problem(None, None, reason))
    checkpoints: list[LedgerCheckpoint] = []
    if doc.get("checkpoint") is not None:
        try:
            checkpoints.append(LedgerCheckpoint.model_validate(doc["checkpoint"]))
        except ValidationError as exc:
            reason = f"bundle checkpoint: not a ledger checkpoint ({exc.error_count()} errors)"
            problems.append(Problem(None, None, reason))
    return Bundle(
        str(doc.get("facility_id", "")),
        tuple(entries),
        tuple(checkpoints),
        _head(doc.get("head"), problems),
        tuple(problems),
    )


def _head(raw: Any, problems: list[Problem]) -> tuple[int, str] | None:
    if raw is None:
        return None
    if (
        isinstance(raw, dict)
        and isinstance(raw.get("seq"), int)
        and isinstance(raw.get("hash"), str)
    ):
        return raw["seq"], raw["hash"]
    problems.append(Problem(None, None, "bundle head is not {seq, hash}"))
    return None


def verify_bundle(
    data: bytes,
    keys: Sequence[Ed25519PublicKey],
    facility_id: str | None = None,
    anchor: tuple[int, str] | None = None,
) -> VerifyResult:
    """Verify a bundle offline: the chain, the checkpoint's signature with ``keys``, that the
    checkpoint covers the last entry, and that the stated head is that entry. ``facility_id``
    (when given) must be the bundle's; ``anchor`` pins an entry known from elsewhere."""
    read = read_bundle(data)
    wanted = facility_id or read.facility_id
    problems = list(read.problems)
    if facility_id is not None and read.facility_id != facility_id:
        problems.append(Problem(None, None, f"bundle is of facility {read.facility_id!r}"))
    result = verify(wanted, read.entries, anchor, read.checkpoints, keys)
    if read.head is None and read.entries:
        problems.append(Problem(None, None, "bundle states no head for a non-empty chain"))
    elif read.head is not None and read.head != (result.head_seq, result.head_hash):
        problems.append(Problem(read.head[0], None, "bundle head is not the chain's last entry"))
    if not problems:
        return result
    return replace(result, problems=(*problems, *result.problems))
