"""``tradelane ledger verify|export|public-key|generate-key``: check a facility's hash-chained,
signed ledger (finance/ledger, finance/checkpoints) and manage the key that signs it."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the kernel imports finance only lazily, inside the command
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from finance.ledger import Problem, VerifyResult
    from tradelane.contracts.finance import LedgerCheckpoint, LedgerEntry

HELP = """\
A facility's ledger is append-only and hash-chained: every entry carries the hash of the entry
before it, and its own hash covers every stored field. Its head is signed: whenever the worker
appends entries, it writes a checkpoint (facility, seq, head hash, event time) signed with its
Ed25519 key to finance.checkpoints, in the same Kafka transaction.

`verify` reads the entries stored under the facility's key on finance.ledger and its
checkpoints on finance.checkpoints (or a JSON-lines export with --file), recomputes the chain
and fails loudly, naming each entry at fault, if anything was changed, inserted out of place,
left out, or does not balance; it checks every checkpoint's signature with the public key
(--public-key FILE, repeatable during a key rotation; default: this machine's signing key, as
the worker resolves it) and that it signs exactly the recomputed entry, and it requires the
chain's last entry to be covered by a valid checkpoint. So a chain re-forged with valid
hashes, an entry appended without the key (an unsigned tail), a checkpoint forged with another
key and a truncated chain all fail. Identical redeliveries (producer retries) are accepted and
counted. --anchor SEQ:HASH pins an entry whose hash you received independently (every
DrawdownExecuted, RepaymentApplied and InterestAccrued event carries ledger_seq and
ledger_hash).

Exit status: 0 verified, 1 verification failed, 2 bad input or settings.
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "ledger",
        help="verify or export a facility's signed, hash-chained ledger; its signing key",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    verify = actions.add_parser(
        "verify",
        help="recompute the hash chain, check the signed checkpoints, fail on any change",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verify.add_argument("--facility", required=True, metavar="ID", help="facility id")
    verify.add_argument(
        "--file",
        type=Path,
        help="verify a JSON-lines export (`ledger export`) or a bundle (`export bundle`, the "
        "API's ledger export) instead of Kafka",
    )
    verify.add_argument("--anchor", metavar="SEQ:HASH", help="an entry's hash known from elsewhere")
    verify.add_argument(
        "--public-key",
        type=Path,
        action="append",
        metavar="FILE",
        help="the signer's public key, PEM or base64 of the raw 32 bytes (repeat for several "
        "keys; default: this machine's ledger signing key)",
    )
    verify.set_defaults(handler=_verify)
    export = actions.add_parser(
        "export",
        help="write the stored entries and checkpoints as JSON lines (a signed bundle)",
        description="Write every record stored under the facility's key on finance.ledger, "
        "in storage order, one JSON entry a line, then its signed checkpoints from "
        "finance.checkpoints, one a line, to --out (default: stdout). Anyone holding the "
        "signer's public key verifies the bundle offline: "
        "`tradelane ledger verify --facility ID --file FILE --public-key KEY.pem`, or by the "
        "rules of docs/finance.md in any language.",
    )
    export.add_argument("--facility", required=True, metavar="ID", help="facility id")
    export.add_argument("--out", type=Path, help="output file (default: stdout)")
    export.set_defaults(handler=_export)
    public = actions.add_parser(
        "public-key",
        help="print the public key of the ledger signing key (PEM), for banks",
        description="Print the public half of the key the worker signs checkpoints with "
        "(TRADELANE_LEDGER_SIGNING_KEY; on a machine whose Kafka is on loopback, the local key "
        "file, generated on first use), as a PEM; its key id on stderr. Give it to every bank "
        "that verifies a ledger.",
    )
    public.add_argument("--out", type=Path, help="write the PEM here (default: stdout)")
    public.set_defaults(handler=_public_key)
    generate = actions.add_parser(
        "generate-key",
        help="print a new Ed25519 signing key for TRADELANE_LEDGER_SIGNING_KEY",
        description="Print a new Ed25519 private key as the base64 of its 32-byte seed, the "
        "one-line form TRADELANE_LEDGER_SIGNING_KEY takes (or, with --out, write it as a "
        "PKCS#8 PEM file, mode 0600, for TRADELANE_LEDGER_SIGNING_KEY_FILE). Its key id goes "
        "to stderr.",
    )
    generate.add_argument(
        "--out", type=Path, help="write a PEM file instead (refuses to overwrite)"
    )
    generate.set_defaults(handler=_generate_key)


def _anchor(text: str | None) -> tuple[int, str] | None:
    from tradelane.errors import UsageError

    if text is None:
        return None
    seq, sep, digest = text.partition(":")
    if not sep or not seq.isdigit() or len(digest) != 64:
        raise UsageError(f"--anchor must be SEQ:HASH (64 hex digits), got {text!r}")
    return int(seq), digest


def _keys(files: Sequence[Path] | None) -> list[Ed25519PublicKey]:
    """The trusted public keys: the files given, else this machine's signing key."""
    from finance.ledger_keys import load_signer, read_public_keys
    from tradelane.settings import KafkaSettings, LedgerSettings

    if files:
        return read_public_keys(files)
    return [load_signer(LedgerSettings(), KafkaSettings().bootstrap_servers).public_key]


def _verify(args: argparse.Namespace) -> int:
    from finance.ledger import verify

    anchor = _anchor(args.anchor)
    keys = _keys(args.public_key)
    if args.file is not None and _is_bundle(args.file):
        from finance.ledger_export import verify_bundle

        return report(verify_bundle(args.file.read_bytes(), keys, args.facility, anchor))
    if args.file is not None:
        entries, checkpoints, unreadable = _read_file(args.file)
        result = verify(args.facility, entries, anchor, checkpoints, keys)
        return report(_with(result, unreadable))
    return report(asyncio.run(_verify_stored(args.facility, anchor, keys)))


async def _verify_stored(
    facility_id: str, anchor: tuple[int, str] | None, keys: Sequence[Ed25519PublicKey] | None
) -> VerifyResult:
    from finance.ledger_store import LedgerStore
    from tradelane.settings import KafkaSettings

    return await LedgerStore(KafkaSettings()).verify(facility_id, anchor, keys)


def _is_bundle(path: Path) -> bool:
    """Whether ``--file`` is a bundle (`tradelane export bundle`, the API's ledger export)
    rather than JSON lines (`ledger export`)."""
    from finance.ledger_export import is_bundle
    from tradelane.errors import UsageError

    try:
        return is_bundle(path.read_bytes())
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc


def _read_file(path: Path) -> tuple[list[LedgerEntry], list[LedgerCheckpoint], list[Problem]]:
    """Entries and checkpoints of a JSON-lines export (a line with a ``checkpoint_id`` is a
    checkpoint, any other an entry), and the lines that are neither."""
    import json

    from pydantic import ValidationError

    from finance.ledger import Problem
    from tradelane.contracts.finance import LedgerCheckpoint, LedgerEntry
    from tradelane.errors import UsageError

    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    entries: list[LedgerEntry] = []
    checkpoints: list[LedgerCheckpoint] = []
    unreadable: list[Problem] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError:
            unreadable.append(Problem(None, None, f"line {number}: not a ledger entry (not JSON)"))
            continue
        is_checkpoint = isinstance(data, dict) and "checkpoint_id" in data
        try:
            if is_checkpoint:
                checkpoints.append(LedgerCheckpoint.model_validate(data))
            else:
                entries.append(LedgerEntry.model_validate(data))
        except ValidationError as exc:
            what = "checkpoint" if is_checkpoint else "entry"
            reason = f"line {number}: not a ledger {what} ({exc.error_count()} errors)"
            unreadable.append(Problem(None, None, reason))
    return entries, checkpoints, unreadable


def _with(result: VerifyResult, unreadable: list[Problem]) -> VerifyResult:
    from dataclasses import replace

    return replace(result, problems=(*unreadable, *result.problems)) if unreadable else result


def report(result: VerifyResult) -> int:
    """Print the verdict; 0 when the chain and its signatures verify, 1 otherwise."""
    head = "empty" if result.head_seq is None else f"head seq {result.head_seq} {result.head_hash}"
    counts = f"{result.entries} entries, {result.duplicates} duplicate records, {head}"
    signed = result.signatures
    if signed is not None:
        counts += f", {signed.checkpoints} checkpoints"
        if signed.signed_seq is not None:
            counts += f", signed to seq {signed.signed_seq} by key {', '.join(signed.key_ids)}"
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
    text += "".join(c.model_dump_json() + "\n" for c in stored.checkpoints)
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text)
    for problem in stored.unreadable:
        print(f"skipped {problem}", file=sys.stderr)
    print(
        f"exported {len(stored.entries)} entries and {len(stored.checkpoints)} checkpoints "
        f"of {args.facility}",
        file=sys.stderr,
    )
    return 0


def _public_key(args: argparse.Namespace) -> int:
    from finance.ledger_keys import load_signer, public_pem
    from tradelane.settings import KafkaSettings, LedgerSettings

    signer = load_signer(LedgerSettings(), KafkaSettings().bootstrap_servers)
    pem = public_pem(signer.public_key)
    if args.out is None:
        sys.stdout.write(pem)
    else:
        args.out.write_text(pem)
    print(f"ledger signing key id {signer.key_id}", file=sys.stderr)
    return 0


def _generate_key(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from finance.checkpoints import key_id
    from finance.ledger_keys import private_pem, seed_b64
    from tradelane.credentials import write_private
    from tradelane.errors import UsageError

    key = Ed25519PrivateKey.generate()
    if args.out is None:
        print(seed_b64(key))
    else:
        try:
            write_private(args.out, private_pem(key), exclusive=True)
        except FileExistsError as exc:
            raise UsageError(f"{args.out} exists: a signing key is never overwritten") from exc
        print(f"wrote {args.out}", file=sys.stderr)
    print(f"ledger signing key id {key_id(key.public_key())}", file=sys.stderr)
    return 0
