"""What one run's outputs say differently from another's: the pipeline's against the pure
replay's, over the things a party acts on (milestones and their times, alarms, claims and
their tiers and payments, tranches, interest). Event ids and ledger hashes are left out: they
are equal when the rest is, and a difference there says nothing a person can act on.

Pure: each function takes the two :class:`~faults.truth.replay.Outputs` and returns readable
lines, empty when they agree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal

from faults.truth.compare import booked_interest, detected_alarms, detected_milestones
from faults.truth.replay import Outputs
from tradelane.contracts import ClaimEvent
from tradelane.contracts.finance import (
    DrawdownExecuted,
    DrawdownRejected,
    FinanceEvent,
    InterestAccrued,
)


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def milestones(want: Outputs, got: Outputs) -> list[str]:
    """Milestones reached in one and not the other, or at another time (first detection)."""
    ours: dict[tuple[str, str, int | None], float] = {}
    theirs: dict[tuple[str, str, int | None], float] = {}
    for into, out in ((ours, want), (theirs, got)):
        for s in detected_milestones(out.events.values()):
            into.setdefault((s.shipment_id, s.milestone.value, s.leg), s.at)
    lines = []
    for key in sorted(set(ours) | set(theirs), key=lambda k: (k[0], k[1], k[2] or 0)):
        a, b = ours.get(key), theirs.get(key)
        where = f"milestone {key[0]} {key[1]} leg {key[2]}"
        if a is None and b is not None:
            lines.append(f"{where}: only in the pipeline, at {_when(b)}")
        elif b is None and a is not None:
            lines.append(f"{where}: missing, replay has it at {_when(a)}")
        elif a is not None and b is not None and a != b:
            lines.append(f"{where}: at {_when(b)}, replay {_when(a)} ({(b - a) / 60:+.1f} min)")
    return lines


def alarms(want: Outputs, got: Outputs) -> list[str]:
    """Alarms (kind, shipment, tracker, event time) raised a different number of times."""
    ours = Counter(
        (a.kind, a.shipment_id, a.device_id or "", a.at)
        for a in detected_alarms(want.events.values())
    )
    theirs = Counter(
        (a.kind, a.shipment_id, a.device_id or "", a.at)
        for a in detected_alarms(got.events.values())
    )
    return [
        f"alarm {k[0]} {k[1]} {k[2] or '-'} at {_when(k[3])}: {theirs[k]}x, replay {ours[k]}x"
        for k in sorted(set(ours) | set(theirs))
        if ours[k] != theirs[k]
    ]


def _claim_facts(claims: Iterable[ClaimEvent]) -> Counter[str]:
    out: Counter[str] = Counter()
    for c in claims:
        d = c.data
        detail = ""
        if d.kind in {"claim_raised", "claim_upgraded"}:
            detail = f" tier {getattr(d, 'tier', '?')}"
        elif d.kind == "claim_paid":
            detail = f" {getattr(d, 'amount', '?')}"
        out[f"{d.kind} {d.shipment_id} {getattr(d, 'trigger_kind', '')}{detail}".strip()] += 1
    return out


def claims(want: Outputs, got: Outputs) -> list[str]:
    """Claim events (kind, shipment, trigger, tier or amount) in different numbers."""
    ours, theirs = _claim_facts(want.claims), _claim_facts(got.claims)
    return [
        f"claim {k}: {theirs[k]}x, replay {ours[k]}x"
        for k in sorted(set(ours) | set(theirs))
        if ours[k] != theirs[k]
    ]


def _tranche_facts(finance: Iterable[FinanceEvent]) -> Counter[str]:
    out: Counter[str] = Counter()
    for e in finance:
        d = e.data
        if isinstance(d, DrawdownExecuted):
            out[
                f"drawdown {d.shipment_id} {d.milestone.value} {d.amount.amount} "
                f"{d.amount.currency} at {d.at.strftime('%Y-%m-%d %H:%M:%S')}"
            ] += 1
        elif isinstance(d, DrawdownRejected):
            out[f"rejected {d.shipment_id} {d.milestone.value} {d.code.value}"] += 1
    return out


def tranches(want: Outputs, got: Outputs) -> list[str]:
    """Drawdowns (shipment, milestone, amount, time) and rejections in different numbers."""
    ours, theirs = _tranche_facts(want.finance), _tranche_facts(got.finance)
    return [
        f"tranche {k}: {theirs[k]}x, replay {ours[k]}x"
        for k in sorted(set(ours) | set(theirs))
        if ours[k] != theirs[k]
    ]


def _daily(finance: Iterable[FinanceEvent]) -> dict[str, Decimal]:
    return {
        e.data.day.isoformat(): e.data.amount.amount
        for e in finance
        if isinstance(e.data, InterestAccrued)
    }


def interest(want: Outputs, got: Outputs) -> list[str]:
    """The interest booked, in total and on each day where it differs."""
    a, b = booked_interest(want.finance), booked_interest(got.finance)
    if a == b:
        return []
    ours, theirs = _daily(want.finance), _daily(got.finance)
    days = [
        f"{d} {theirs.get(d, Decimal(0))} vs {ours.get(d, Decimal(0))}"
        for d in sorted(set(ours) | set(theirs))
        if ours.get(d) != theirs.get(d)
    ]
    return [f"interest {b} vs replay {a} ({b - a:+}); days: " + ", ".join(days[:8])]


def differences(want: Outputs, got: Outputs) -> list[str]:
    """Every difference of ``got`` (the pipeline) from ``want`` (a replay)."""
    return [
        *milestones(want, got),
        *alarms(want, got),
        *claims(want, got),
        *tranches(want, got),
        *interest(want, got),
    ]
