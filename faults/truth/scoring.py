"""``tradelane bench truth``: how true the cores' outputs are, per scenario and delivery order.

For each scenario the fleet is simulated once (:mod:`faults.truth.stream`), every delivery
order (:mod:`faults.truth.orders`) is replayed through the pure cores
(:mod:`faults.truth.replay`), and the outputs are compared with the manifest
(:mod:`faults.truth.compare`). The interest reference is the principal of the ideal order's
tranches and repayments moved to their true times. Scenarios run in separate processes (each
is independent and deterministic); nothing here touches a service.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from devices.scenarios import SCENARIOS
from faults.truth.compare import (
    Alarm,
    AlarmScore,
    ClaimKey,
    ClaimScore,
    MilestoneScore,
    Miss,
    Stamp,
    TrancheScore,
    booked_interest,
    detected_alarms,
    detected_milestones,
    expected_claims,
    expected_tranches,
    false_alarms,
    milestone_misses,
    planted_alarms,
    principal_flows,
    raised_claims,
    reference_interest,
    score_alarms,
    score_claims,
    score_milestones,
    score_milestones_by_kind,
    score_tranches,
    true_milestones,
)
from faults.truth.orders import ORDERS
from faults.truth.replay import Cache, Outputs, Terms, replay, terms_for
from faults.truth.stream import Fleet, fleet_config, simulate
from tradelane.contracts import Milestone, TrackerReading

SCENARIO_NAMES = tuple(SCENARIOS)


@dataclass(frozen=True, slots=True)
class Row:
    """One (scenario, delivery order)'s figures."""

    scenario: str
    order: str
    shipments: int
    trackers: int
    messages: int
    milestones: MilestoneScore
    milestones_by_kind: dict[str, MilestoneScore]
    alarms: AlarmScore
    claims: ClaimScore
    tranches: TrancheScore
    interest_booked: Decimal
    interest_reference: Decimal
    misses: list[Miss]
    """True milestones detected off by more than 30 min or not at all (JSON only)."""
    false_alarms: list[Alarm]
    """The alarms no planted incident explains (JSON only)."""

    def as_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["milestones"]["within_share"] = round(self.milestones.within_share, 4)
        for kind, score in self.milestones_by_kind.items():
            doc["milestones_by_kind"][kind]["within_share"] = round(score.within_share, 4)
        doc["interest_booked"] = str(self.interest_booked)
        doc["interest_reference"] = str(self.interest_reference)
        doc["interest_difference"] = str(self.interest_booked - self.interest_reference)
        return doc


@dataclass(frozen=True, slots=True)
class Reference:
    """What a fleet's outputs are judged against: its manifest's truth and its terms."""

    fleet: Fleet
    terms: Terms
    truth: list[Stamp]
    true_at: dict[tuple[str, Milestone], float]
    departures: dict[str, float]
    planted: list[Alarm]
    expected: list[ClaimKey]


def reference(fleet: Fleet, terms: Terms | None = None) -> Reference:
    """The truth of ``fleet`` under ``terms`` (default: :func:`terms_for`)."""
    manifest = fleet.manifest
    truth = [s for r in manifest.shipments for s in true_milestones(r)]
    readings: dict[str, list[TrackerReading]] = {}
    for m in fleet.messages:
        if m.reading is not None:
            readings.setdefault(m.shipment_id, []).append(m.reading)
    terms = terms_for(fleet) if terms is None else terms
    return Reference(
        fleet=fleet,
        terms=terms,
        truth=truth,
        true_at={(s.shipment_id, s.milestone): s.at for s in truth},
        departures={s.shipment_id: s.at for s in truth if s.milestone is Milestone.DEPARTED_ORIGIN},
        planted=planted_alarms(manifest),
        expected=expected_claims(manifest, terms.policies, readings),
    )


def score(ref: Reference, scenario: str, order: str, out: Outputs, ideal: Outputs) -> Row:
    """One order's outputs against the truth; the interest reference is the ideal order's
    principal moved to its true times."""
    assert ideal.horizon is not None
    truth, facility = ref.truth, ref.terms.facility
    raised, paid = raised_claims(out.claims)
    detected = detected_milestones(out.events.values())
    alarms = detected_alarms(out.events.values())
    return Row(
        scenario=scenario,
        order=order,
        shipments=len(ref.fleet.manifest.shipments),
        trackers=len(ref.fleet.manifest.devices),
        messages=len(ref.fleet.messages),
        milestones=score_milestones(truth, detected),
        milestones_by_kind=score_milestones_by_kind(truth, detected),
        alarms=score_alarms(ref.planted, alarms),
        claims=score_claims(ref.expected, raised, paid),
        tranches=score_tranches(out.finance, ref.departures, expected_tranches(facility, truth)),
        interest_booked=booked_interest(out.finance),
        interest_reference=reference_interest(
            principal_flows(ideal.finance, ref.true_at), facility, ideal.horizon
        ),
        misses=milestone_misses(truth, detected),
        false_alarms=false_alarms(ref.planted, alarms),
    )


def run_scenario(scenario: str, seed: int, trackers: int, orders: Sequence[str]) -> list[Row]:
    """Every order of one scenario (deterministic for the arguments)."""
    return score_orders(scenario, simulate(fleet_config(scenario, seed, trackers)), seed, orders)


def score_orders(
    scenario: str, fleet: Fleet, seed: int, orders: Sequence[str], cache: Cache | None = None
) -> list[Row]:
    """Every order of ``scenario``'s simulated ``fleet``. ``cache`` (under the default terms)
    may carry shipment runs over from other replays of the same fleet: a test suite that
    replays one fleet in several places runs the cores over each delivered sequence once."""
    ref = reference(fleet)
    cache = {} if cache is None else cache
    ideal: Outputs | None = None
    rows = []
    for name in ["ideal", *(o for o in orders if o != "ideal")]:
        out = replay(fleet, ORDERS[name](fleet.messages, seed), cache)
        if name == "ideal":
            ideal = out
        if name in orders:
            assert ideal is not None
            rows.append(score(ref, scenario, name, out, ideal))
    return rows


def run(
    scenarios: Sequence[str],
    seed: int,
    trackers: int,
    orders: Sequence[str],
    workers: int | None = None,
) -> list[Row]:
    """All scenarios, in parallel processes (``workers``, default: the CPUs, at most 2)."""
    workers = workers or min(2, os.cpu_count() or 1, len(scenarios))
    if workers <= 1:
        return [r for s in scenarios for r in run_scenario(s, seed, trackers, orders)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run_scenario, s, seed, trackers, orders) for s in scenarios]
        return [r for f in futures for r in f.result()]


def _alarm_cell(score: AlarmScore) -> str:
    found = [f"{k} {score.detected[k]}/{n}" for k, n in score.planted.items() if n]
    return ", ".join(found) or "-"


def _false_cell(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {n}" for k, n in counts.items() if n) or "0"


def table(rows: Sequence[Row]) -> str:
    """The figures as a fixed-width table, one line per (scenario, order), then details."""
    head = (
        f"{'scenario':<15}{'order':<10}{'miles t/d':>10}{'<=30m':>7}{'maxerr h':>9}"
        f"{'false':>6}  {'claims e/r/tier/paid/false':<27}{'tranches e/ok/rej/early':<24}"
        f"{'interest':>11}{'reference':>11}{'diff':>10}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        m, c, t = r.milestones, r.claims, r.tranches
        rejected = sum(t.rejected.values())
        lines.append(
            f"{r.scenario:<15}{r.order:<10}{f'{m.truth}/{m.matched}':>10}"
            f"{m.within_share * 100:>6.1f}%{m.max_error_s / 3600:>9.2f}{m.false:>6}  "
            f"{f'{c.expected}/{c.raised}/{c.right_tier}/{c.paid}/{c.false}':<27}"
            f"{f'{t.expected}/{t.released}/{rejected}/{t.before_departure}':<24}"
            f"{r.interest_booked:>11,}{r.interest_reference:>11,}"
            f"{r.interest_booked - r.interest_reference:>10,}"
        )
    lines.append("")
    lines.append("alarms: planted incidents detected; false alarms; rejected tranches by code")
    for r in rows:
        t = r.tranches
        codes = ", ".join(f"{k} {n}" for k, n in t.rejected.items()) or "0"
        lead = f" (max lead {t.max_lead_h:.1f} h)" if t.before_departure else ""
        lines.append(
            f"  {r.scenario:<15}{r.order:<10} detected: {_alarm_cell(r.alarms)}; "
            f"false: {_false_cell(r.alarms.false)}; rejected: {codes}{lead}"
        )
    lines.append("")
    lines.append(
        "milestones per kind: matched/truth, share within 30 min, max error (h); "
        "an order is listed when it differs from its scenario's first order"
    )
    first: dict[str, dict[str, MilestoneScore]] = {}
    for r in rows:
        shown = first.setdefault(r.scenario, r.milestones_by_kind)
        if shown is not r.milestones_by_kind and shown == r.milestones_by_kind:
            continue
        cells = [
            f"{k} {s.matched}/{s.truth} {s.within_share * 100:.0f}% {s.max_error_s / 3600:.1f}"
            for k, s in r.milestones_by_kind.items()
        ]
        lines.append(f"  {r.scenario:<15}{r.order:<10} " + "; ".join(cells))
    return "\n".join(lines)


def bench_truth(
    scenarios: Sequence[str],
    seed: int,
    trackers: int,
    orders: Sequence[str],
    json_path: Path | None = None,
    workers: int | None = None,
) -> list[Row]:
    """Run, print the table, and write the figures as JSON when asked."""
    print(
        f"bench truth: scenarios {', '.join(scenarios)}; orders {', '.join(orders)}; "
        f"seed {seed}, {trackers} trackers (pure cores, no services) ...",
        flush=True,
    )
    began = time.perf_counter()
    rows = run(scenarios, seed, trackers, orders, workers)
    seconds = time.perf_counter() - began
    print(table(rows))
    print(f"\n{len(rows)} runs in {seconds:.1f} s (load average {os.getloadavg()[0]:.2f})")
    if json_path is not None:
        doc = {
            "bench": "truth",
            "seed": seed,
            "trackers": trackers,
            "scenarios": list(scenarios),
            "orders": list(orders),
            "seconds": round(seconds, 1),
            "loadavg_1m": round(os.getloadavg()[0], 2),
            "rows": [r.as_json() for r in rows],
        }
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"figures written to {json_path}")
    return rows
