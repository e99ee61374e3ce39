"""The verdicts of a fault run, pure: observed facts in, one :class:`Check` per promise out, and
the report (a text table and JSON) built from them."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from faults.oracle import Drawdown, Outcomes
from faults.schedule import Injection


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    against: str
    """What the check is up against (the faults that threaten it)."""
    expected: str
    observed: str
    ok: bool


def readings(acked: set[tuple[str, int]], seen: set[tuple[str, int]], copies: int) -> Check:
    """Every reading the broker acknowledged reached ``tracker.readings``."""
    missing = acked - seen
    sample = f" e.g. {sorted(missing)[:3]}" if missing else ""
    return Check(
        "readings on tracker.readings",
        "bridge SIGKILLs, broker restart",
        f"0 of {len(acked):,} acknowledged missing",
        f"{len(missing):,} missing{sample}; {copies:,} redelivered copies",
        not missing,
    )


def dead_letters(malformed_acked: int, dead_lettered: int, bad_reasons: Mapping[str, int]) -> Check:
    """Every malformed payload the broker acknowledged is on ``tracker.deadletter`` (copies from
    redelivery may add more), each with a refusal reason of a malformed reading."""
    return Check(
        "malformed payloads dead-lettered",
        "bad-input flood",
        f">= {malformed_acked:,} dead letters, reasons of malformed input",
        f"{dead_lettered:,} dead letters"
        + (f", unexpected reasons {dict(bad_reasons)}" if bad_reasons else ""),
        dead_lettered >= malformed_acked and not bad_reasons,
    )


def effects(
    expected: Outcomes, observed: Outcomes, drawdown_records: Sequence[Drawdown]
) -> list[Check]:
    """Drawdowns and claims versus the oracle: none missing, none unknown, none doubled (one
    drawdown per facility, shipment and milestone, whatever its ids)."""
    missing_d = sorted(set(expected.drawdowns) - set(observed.drawdowns))
    unknown_d = sorted(set(observed.drawdowns) - set(expected.drawdowns))
    identities = Counter(observed.drawdowns.values())
    doubled = [d for d, n in identities.items() if n > 1]
    missing_c = sorted(set(expected.claims) - set(observed.claims))
    unknown_c = sorted(set(observed.claims) - set(expected.claims))
    faults = "worker SIGKILLs, 1→2→1 scaling, broker restart"
    return [
        Check(
            "drawdowns vs offline engines",
            faults,
            f"{len(expected.drawdowns)} drawdowns, 0 missing, 0 unknown, 0 doubled",
            f"{len(observed.drawdowns)} drawdowns ({len(drawdown_records)} records), "
            f"{len(missing_d)} missing, {len(unknown_d)} unknown, {len(doubled)} doubled"
            + _sample(missing_d + unknown_d),
            not missing_d and not unknown_d and not doubled,
        ),
        Check(
            "claim events vs offline engines",
            faults,
            f"{len(expected.claims)} claim events ({_kinds(expected.claims.values())}), "
            "0 missing, 0 unknown",
            f"{len(observed.claims)} claim events, {len(missing_c)} missing, "
            f"{len(unknown_c)} unknown" + _sample(missing_c + unknown_c),
            not missing_c and not unknown_c,
        ),
    ]


def shipment_events(expected: Outcomes, observed: Outcomes) -> Check:
    """Shipment events versus the oracle, by id and content. One content is compared by id
    only: a ``customs_cleared`` milestone's, whose ``in_spec`` depends on where the registry's
    clearance fell among the readings (docs/reliability.md, known limitations: customs
    clearance can overtake readings); any other difference fails."""
    missing = set(expected.shipment_events) - set(observed.shipment_events)
    unknown = set(observed.shipment_events) - set(expected.shipment_events)
    both = [i for i in observed.shipment_events if i in expected.shipment_events]
    differ = [
        i
        for i in both
        if expected.shipment_events[i] != observed.shipment_events[i]
        and CUSTOMS not in expected.shipment_events[i]
    ]
    customs = sum(
        1
        for i in both
        if CUSTOMS in expected.shipment_events[i]
        and expected.shipment_events[i] != observed.shipment_events[i]
    )
    return Check(
        "shipment events vs offline core",
        "worker SIGKILLs, 1→2→1 scaling, broker restart",
        f"{len(expected.shipment_events):,} events, same ids and content",
        f"{len(observed.shipment_events):,} events, {len(missing)} missing, "
        f"{len(unknown)} unknown, {len(differ)} differ"
        + (f" ({customs} customs clearance(s) placed differently)" if customs else "")
        + _sample(sorted(missing | unknown | set(differ))),
        not missing and not unknown and not differ,
    )


CUSTOMS = '"milestone":"customs_cleared"'


def ledgers(verified: Mapping[str, tuple[bool, int, str]]) -> Check:
    """Every facility's hash-chained ledger verifies (facility -> (ok, entries, detail))."""
    bad = {f: detail for f, (ok, _, detail) in verified.items() if not ok}
    entries = sum(n for _, n, _ in verified.values())
    return Check(
        "ledgers verify",
        "every fault",
        f"{len(verified)} facility ledgers verify",
        f"{len(verified) - len(bad)} verify ({entries:,} entries)"
        + (f"; failing {dict(list(bad.items())[:3])}" if bad else ""),
        not bad,
    )


REFUSED = 3
"""The exit status of a worker that refused to run beside another worker group."""


def rival_groups(exits: Sequence[int | None]) -> Check:
    """Every worker of another group started mid-run refused to run (exit 3)."""
    ran = [e for e in exits if e != REFUSED]
    return Check(
        "second worker group refused",
        "a worker of another app id on the same cluster",
        f"{len(exits)} refused (exit {REFUSED})",
        f"{len(exits) - len(ran)} refused" + (f"; {len(ran)} did not (exits {ran})" if ran else ""),
        not ran,
    )


def crashes(exits: Iterable[str]) -> Check:
    """No process under test ended on its own."""
    found = list(exits)
    return Check(
        "no crashes",
        "every fault, bad-input flood",
        "0 processes ended on their own",
        f"{len(found)}" + (f": {found[:5]}" if found else ""),
        not found,
    )


def resumed(restarts: int, complete: bool, seconds: float | None) -> Check:
    """After the broker restart the pipeline carried on by itself to the full outcome."""
    took = "" if seconds is None else f"; outcomes complete {seconds:.0f} s after the last publish"
    return Check(
        "pipeline resumed by itself",
        f"{restarts} broker restart(s) or node kill(s)",
        "every outcome produced, no manual step",
        ("yes" if complete else "no") + took,
        complete,
    )


def reprocessed(
    ledger_before: Mapping[str, set[tuple[int, str]]],
    ledger_after: Mapping[str, set[tuple[int, str]]],
    claims_before: set[str],
    claims_after: set[str],
    verified: bool,
    reread: int,
) -> Check:
    """A group reset to the run's first offsets changes no ledger entry and no claim."""
    new_entries = sum(len(ledger_after.get(f, set()) - e) for f, e in ledger_before.items())
    new_entries += sum(len(e) for f, e in ledger_after.items() if f not in ledger_before)
    new_claims = len(claims_after - claims_before)
    size = sum(len(e) for e in ledger_before.values())
    return Check(
        "reset to offset 0 and reprocess",
        f"consumer group rewound ({reread:,} records re-read)",
        f"ledgers ({size:,} entries) and claims ({len(claims_before)}) identical; verify ok",
        f"{new_entries} new ledger entries, {new_claims} new claim events, "
        f"verify {'ok' if verified else 'FAILED'}",
        new_entries == 0 and new_claims == 0 and verified,
    )


def _sample(ids: Sequence[str]) -> str:
    return f" e.g. {list(ids[:3])}" if ids else ""


def _kinds(kinds: Iterable[str]) -> str:
    counted = Counter(kinds)
    return ", ".join(f"{n} {k}" for k, n in sorted(counted.items())) or "none"


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)), line]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def render(
    injections: Sequence[Injection], checks: Sequence[Check], figures: Mapping[str, Any]
) -> str:
    """The report a person reads: what was injected, what was checked, the run's figures."""
    injected = [
        (f"{i.at_s:7.1f} s", i.fault.value, f"{i.hold_s:.1f} s" if i.hold_s else "")
        for i in injections
    ]
    checked = [
        (c.name, c.against, c.expected, c.observed, "PASS" if c.ok else "FAIL") for c in checks
    ]
    parts = [
        "Injected",
        table(injected, ("at", "fault", "held")) if injected else "(nothing)",
        "",
        "Checked",
        table(checked, ("check", "against", "expected", "observed", "verdict")),
        "",
        "Figures",
        *(f"  {k}: {v}" for k, v in figures.items()),
        "",
        f"verdict: {sum(c.ok for c in checks)} of {len(checks)} checks hold"
        + ("" if all(c.ok for c in checks) else " (FAILED)"),
    ]
    return "\n".join(parts)


def to_json(
    injections: Sequence[Injection], checks: Sequence[Check], figures: Mapping[str, Any]
) -> str:
    return json.dumps(
        {
            "injections": [
                {"at_s": i.at_s, "fault": i.fault.value, "hold_s": i.hold_s} for i in injections
            ],
            "checks": [asdict(c) for c in checks],
            "figures": dict(figures),
            "passed": all(c.ok for c in checks),
        },
        indent=1,
    )
