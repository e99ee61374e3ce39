"""``tradelane ledger verify|export``: check a facility's hash-chained ledger (finance/ledger)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the kernel imports finance only lazily, inside the command
    from finance.ledger import Problem, VerifyResult
    from tradelane.contracts.finance import LedgerEntry

HELP = """\
A facility's ledger is append-only and hash-chained: every entry carries the hash of the entry
before it, and its own hash covers every stored field. `verify` reads the entries stored under
the facility's key on finance.ledger (or a JSON-lines export with --file), recomputes the chain
and fails loudly, naming each entry at fault, if anything was changed, inserted out of place,
left out, or does not balance. Identical redeliveries (producer retries) are accepted and
counted. --anchor SEQ:HASH pins an entry whose hash you received independently (every
DrawdownExecuted, RepaymentApplied and InterestAccrued event carries ledger_seq and
ledger_hash), which also catches a chain re-forged or truncated after that point.

Exit status: 0 verified, 1 verification failed, 2 bad input or settings.
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "ledger",
        help="verify or export a facility's hash-chained ledger",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    verify = actions.add_parser(
        "verify",
        help="recompute the hash chain and fail on any change",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verify.add_argument("--facility", required=True, metavar="ID", help="facility id")
    verify.add_argument(
        "--file", type=Path, help="verify a JSON-lines export instead of finance.ledger"
    )
    verify.add_argument("--anchor", metavar="SEQ:HASH", help="an entry's hash known from elsewhere")
    verify.set_defaults(handler=_verify)
    export = actions.add_parser(
        "export",
        help="write the stored entries as JSON lines (for offline verification)",
        description="Write every record stored under the facility's key on finance.ledger, "
        "in storage order, one JSON entry a line, to --out (default: stdout).",
    )
    export.add_argument("--facility", required=True, metavar="ID", help="facility id")
    export.add_argument("--out", type=Path, help="output file (default: stdout)")
    export.set_defaults(handler=_export)


def _anchor(text: str | None) -> tuple[int, str] | None:
    from tradelane.services.process import ServiceError

    if text is None:
        return None
    seq, sep, digest = text.partition(":")
    if not sep or not seq.isdigit() or len(digest) != 64:
        raise ServiceError(f"--anchor must be SEQ:HASH (64 hex digits), got {text!r}")
    return int(seq), digest


def _verify(args: argparse.Namespace) -> int:
    from finance.ledger import verify

    anchor = _anchor(args.anchor)
    if args.file is not None:
        entries, unreadable = _read_file(args.file)
        result = verify(args.facility, entries, anchor)
        return report(_with(result, unreadable))
    return report(asyncio.run(_verify_stored(args.facility, anchor)))


async def _verify_stored(facility_id: str, anchor: tuple[int, str] | None) -> VerifyResult:
    from finance.ledger_store import LedgerStore
    from tradelane.settings import KafkaSettings

    return await LedgerStore(KafkaSettings()).verify(facility_id, anchor)


def verify_facility(facility_id: str, anchor: tuple[int, str] | None = None) -> int:
    """``tradelane ledger verify --facility ID`` as a function: prints, returns the exit code."""
    return report(asyncio.run(_verify_stored(facility_id, anchor)))


def _read_file(path: Path) -> tuple[list[LedgerEntry], list[Problem]]:
    from pydantic import ValidationError

    from finance.ledger import Problem
    from tradelane.contracts.finance import LedgerEntry
    from tradelane.services.process import ServiceError

    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise ServiceError(f"cannot read {path}: {exc.strerror}") from exc
    entries: list[LedgerEntry] = []
    unreadable: list[Problem] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entries.append(LedgerEntry.model_validate_json(line))
        except ValidationError as exc:
            reason = f"line {number}: not a ledger entry ({exc.error_count()} errors)"
            unreadable.append(Problem(None, None, reason))
    return entries, unreadable


def _with(result: VerifyResult, unreadable: list[Problem]) -> VerifyResult:
    from dataclasses import replace

    return replace(result, problems=(*unreadable, *result.problems)) if unreadable else result


def report(result: VerifyResult) -> int:
    """Print the verdict; 0 when the chain verifies, 1 otherwise."""
    head = "empty" if result.head_seq is None else f"head seq {result.head_seq} {result.head_hash}"
    counts = f"{result.entries} entries, {result.duplicates} duplicate records, {head}"
    if result.ok:
        print(f"ledger {result.facility_id}: {counts}: verified")
        return 0
    print(
        f"ledger {result.facility_id}: VERIFICATION FAILED, {len(result.problems)} problem(s) "
        f"({counts})",
        file=sys.stderr,
    )
    for problem in result.problems:
        print(f"  {problem}", file=sys.stderr)
    return 1


def _export(args: argparse.Namespace) -> int:
    from finance.ledger_store import LedgerStore
    from tradelane.settings import KafkaSettings

    stored = asyncio.run(LedgerStore(KafkaSettings()).read(args.facility))
    text = "".join(entry.model_dump_json() + "\n" for entry in stored.entries)
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text)
    for problem in stored.unreadable:
        print(f"skipped {problem}", file=sys.stderr)
    print(f"exported {len(stored.entries)} entries of {args.facility}", file=sys.stderr)
    return 0
