"""The data-quality gate: may a trigger pay on its evidence without a human looking?

The gate sees what shipment events carry: reading references (device, seq, event time, and
when the streams side supplies them GNSS fix and HDOP), counts and the evidence window. From
those it checks, per tracker:

- enough readings (``min_readings``);
- a sane clock: event time never goes back as ``seq`` goes up, and no reading is later than
  the event that cites it by more than ``max_clock_skew_s``;
- no silence longer than ``max_gap_s`` between two readings (contiguous proofs only);
- coverage: the readings span the duration the trigger claims, less one allowed gap (a
  cumulative total is judged on coverage alone, its episodes being apart by nature);
- GNSS quality when the policy asks for it (``min_fix``, ``max_hdop``); a reading that does
  not report its quality fails such a check.

A tracker that passes every check agrees. The gate passes when enough trackers agree (the
quorum: the policy's number, else a strict majority of the shipment's trackers), the evidence
is internally consistent and cites no tracker foreign to the shipment. Failing trackers do not
block on their own: with three trackers and one silent, two still make a majority.

No single observation moves money: the agreeing trackers' readings that show the tier must
number at least ``min_observations`` (2 by default), from one tracker or several together.
A breach or a deviation counts the readings of its episode; shocks and tampers (one reading
per report) count the reports that lie within ``confirm_within_s`` of one another, so one
shock is confirmed by the same tracker's next shock of the tier or by another tracker's. An
arrival is exempt: a stray reading can only make a delay shorter.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from tradelane.contracts import (
    DataQualityGate,
    Evidence,
    FixQuality,
    GateCode,
    GateFinding,
    ReadingRef,
)

from .triggers import Proof

FIX_RANK = {FixQuality.NONE: 0, FixQuality.FIX_2D: 1, FixQuality.FIX_3D: 2, FixQuality.DGPS: 3}
BLOCKING = frozenset(
    {
        GateCode.NO_EVIDENCE,
        GateCode.INCONSISTENT,
        GateCode.FOREIGN_DEVICE,
        GateCode.QUORUM,
        GateCode.UNCONFIRMED,
    }
)


@dataclass(frozen=True, slots=True)
class Verdict:
    passed: bool
    findings: tuple[GateFinding, ...]
    """Every failed check; on a pass, the failures the quorum could afford."""


def required_quorum(gate: DataQualityGate, trackers: Sequence[str]) -> int:
    """The policy's quorum, else a strict majority of ``trackers`` (at least one)."""
    if gate.quorum is not None:
        return gate.quorum
    return len(trackers) // 2 + 1


def assess(
    proofs: Sequence[Proof],
    quorum_over: Literal["each", "union"],
    gate: DataQualityGate,
    trackers: Sequence[str] | None,
    devices_seen: Sequence[str],
) -> Verdict:
    """Judge ``proofs``. ``trackers`` is the booking's list (None when unknown, in which case
    the quorum is taken over the devices the shipment's events have named)."""
    required = required_quorum(gate, trackers if trackers is not None else devices_seen)
    findings: list[GateFinding] = []
    union: set[str] = set()
    confirming: list[ReadingRef] = []
    for proof in proofs:
        if proof.evidence is None or not proof.evidence.readings:
            if gate.require_evidence:
                findings.append(GateFinding(code=GateCode.NO_EVIDENCE, detail="no readings"))
            continue
        problems = _consistency(proof.evidence, trackers)
        if problems:
            findings.extend(problems)
            continue
        good, device_findings = _agreeing(proof, gate)
        findings.extend(device_findings)
        union |= good
        seen = [r for r in proof.evidence.readings if r.device_id in good] if proof.confirm else []
        if quorum_over == "each":
            if len(good) < required:
                findings.append(_quorum(len(good), required))
            elif proof.confirm:
                findings.extend(_unconfirmed(len(seen), gate))
        else:
            confirming.extend(seen)
    with_evidence = [p for p in proofs if p.evidence is not None and p.evidence.readings]
    if quorum_over == "union" and with_evidence:
        if len(union) < required:
            findings.append(_quorum(len(union), required))
        elif any(p.confirm for p in with_evidence):
            findings.extend(_unconfirmed(confirmed(confirming, gate.confirm_within_s), gate))
    passed = not any(f.code in BLOCKING for f in findings)
    return Verdict(passed=passed, findings=tuple(findings))


def confirmed(refs: Sequence[ReadingRef], within_s: int) -> int:
    """The most distinct readings in ``refs`` that lie within ``within_s`` of one another: how
    many observations confirm each other (one reading alone confirms nothing)."""
    times = sorted({(r.device_id, r.seq): r.ts for r in refs}.values())
    best, first = 0, 0
    for last, ts in enumerate(times):
        while (ts - times[first]).total_seconds() > within_s:
            first += 1
        best = max(best, last - first + 1)
    return best


def _unconfirmed(observations: int, gate: DataQualityGate) -> list[GateFinding]:
    if observations >= gate.min_observations:
        return []
    return [
        GateFinding(
            code=GateCode.UNCONFIRMED,
            detail=f"{observations} of {gate.min_observations} observations",
        )
    ]


def _quorum(good: int, required: int) -> GateFinding:
    return GateFinding(code=GateCode.QUORUM, detail=f"{good} of {required} trackers agree")


def _consistency(evidence: Evidence, trackers: Sequence[str] | None) -> list[GateFinding]:
    """The evidence must be what it says: every reading listed once, the count and window
    matching the list, and only the shipment's own trackers cited."""
    out: list[GateFinding] = []
    refs = evidence.readings
    if evidence.count != len(refs):
        out.append(_inconsistent(f"count {evidence.count} but {len(refs)} readings listed"))
    if len({(r.device_id, r.seq) for r in refs}) != len(refs):
        out.append(_inconsistent("a reading is listed twice"))
    first, last = min(r.ts for r in refs), max(r.ts for r in refs)
    if (evidence.first_ts is not None and evidence.first_ts != first) or (
        evidence.last_ts is not None and evidence.last_ts != last
    ):
        out.append(_inconsistent("window does not match the readings"))
    if trackers is not None:
        for device in sorted({r.device_id for r in refs} - set(trackers)):
            out.append(
                GateFinding(
                    code=GateCode.FOREIGN_DEVICE,
                    device_id=device,
                    detail="not a tracker of the shipment",
                )
            )
    return out


def _inconsistent(detail: str) -> GateFinding:
    return GateFinding(code=GateCode.INCONSISTENT, detail=detail)


def _agreeing(proof: Proof, gate: DataQualityGate) -> tuple[set[str], list[GateFinding]]:
    assert proof.evidence is not None
    by_device: dict[str, list[ReadingRef]] = defaultdict(list)
    for ref in proof.evidence.readings:
        by_device[ref.device_id].append(ref)
    good: set[str] = set()
    findings: list[GateFinding] = []
    for device in sorted(by_device):
        problems = _device_problems(by_device[device], proof, gate)
        findings.extend(
            GateFinding(code=code, device_id=device, detail=detail) for code, detail in problems
        )
        if not problems:
            good.add(device)
    return good, findings


def _device_problems(
    refs: list[ReadingRef], proof: Proof, gate: DataQualityGate
) -> list[tuple[GateCode, str]]:
    out: list[tuple[GateCode, str]] = []
    if len(refs) < gate.min_readings:
        out.append((GateCode.TOO_FEW_READINGS, f"{len(refs)} < {gate.min_readings}"))
    by_seq = sorted(refs, key=lambda r: r.seq)
    if any(b.ts < a.ts for a, b in itertools.pairwise(by_seq)):
        out.append((GateCode.CLOCK, "event time goes back as seq goes up"))
    latest_allowed = proof.at + timedelta(seconds=gate.max_clock_skew_s)
    if any(r.ts > latest_allowed for r in refs):
        out.append((GateCode.CLOCK, "a reading is later than the event citing it"))
    by_ts = sorted(refs, key=lambda r: (r.ts, r.seq))
    steps = [(b.ts - a.ts).total_seconds() for a, b in itertools.pairwise(by_ts)]
    longest = max(steps, default=0.0)
    if proof.contiguous and longest > gate.max_gap_s:
        out.append((GateCode.GAP, f"{longest:.0f} s silent > {gate.max_gap_s} s"))
    covered = sum(s for s in steps if s <= gate.max_gap_s)
    if proof.claimed_s > 0 and covered < proof.claimed_s - gate.max_gap_s:
        out.append((GateCode.COVERAGE, f"{covered:.0f} s covered of {proof.claimed_s:.0f} s"))
    if gate.min_fix is not None:
        floor = FIX_RANK[gate.min_fix]
        if any(r.fix is None or FIX_RANK[r.fix] < floor for r in refs):
            out.append((GateCode.FIX, f"fix below {gate.min_fix} or not reported"))
    if gate.max_hdop is not None and any(r.hdop is None or r.hdop > gate.max_hdop for r in refs):
        out.append((GateCode.HDOP, f"HDOP above {gate.max_hdop} or not reported"))
    return out
