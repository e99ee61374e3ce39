"""The data-quality gate, one case a line: (case, proofs, quorum over, gate, trackers,
passes, codes found)."""

# ruff: noqa: E501  (the table keeps one case a line)

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Literal

import pytest

from finance.insurance.quality import assess, required_quorum
from finance.insurance.triggers import Proof
from tests.unit.finance.insurance.builders import T0, TRACKERS, evidence, readings
from tradelane.contracts import DataQualityGate, Evidence, FixQuality, GateCode, ReadingRef

ABC = ("trk-a", "trk-b", "trk-c")


def ev(
    devices: Sequence[str] = TRACKERS,
    minutes: float = 60,
    step: float = 5,
    fix: FixQuality | None = None,
    hdop: float | None = None,
) -> Evidence:
    return evidence([r for d in devices for r in readings(d, 0, minutes, step)], fix, hdop)


def proof(
    e: Evidence | None = None,
    claimed_min: float = 60,
    contiguous: bool = True,
    at_min: float = 60,
) -> Proof:
    return Proof(
        evidence=ev() if e is None else e,
        at=T0 + timedelta(minutes=at_min),
        claimed_s=claimed_min * 60,
        contiguous=contiguous,
    )


def edit(e: Evidence, **update: Any) -> Evidence:
    return e.model_copy(update=update)


def swapped_clock() -> Evidence:
    """trk-a's readings 1 and 2 carry each other's time: the clock went back."""
    e = ev()
    refs = list(e.readings)
    a = [i for i, r in enumerate(refs) if r.device_id == "trk-a"]
    i, j = a[1], a[2]
    refs[i], refs[j] = (
        ReadingRef(device_id="trk-a", seq=refs[i].seq, ts=refs[j].ts),
        ReadingRef(device_id="trk-a", seq=refs[j].seq, ts=refs[i].ts),
    )
    return edit(e, readings=refs)


def episodes() -> Evidence:
    """Two 60-min episodes four hours apart, both trackers."""
    rs = [r for d in TRACKERS for s in (0, 300) for r in readings(d, s, 60)]
    return evidence(rs)


G = DataQualityGate
NO_EVIDENCE = Proof(evidence=None, at=T0)
E = ev()
Over = Literal["each", "union"]

# fmt: off
CASES: list[tuple[str, list[Proof], Over, DataQualityGate, Sequence[str] | None, bool, set[str]]] = [
    ("both trackers agree", [proof()], "each", G(), TRACKERS, True, set()),
    ("one of two is no majority", [proof(ev(["trk-a"]))], "each", G(), TRACKERS, False, {"quorum"}),
    ("one of two with quorum 1", [proof(ev(["trk-a"]))], "each", G(quorum=1), TRACKERS, True, set()),
    ("two of three are a majority", [proof()], "each", G(), ABC, True, set()),
    ("one of three is not", [proof(ev(["trk-c"]))], "each", G(), ABC, False, {"quorum"}),
    ("no evidence", [NO_EVIDENCE], "each", G(), TRACKERS, False, {"no_evidence"}),
    ("no evidence, none required", [NO_EVIDENCE], "each", G(require_evidence=False), TRACKERS, True, set()),
    ("40-min gaps", [proof(ev(step=40), 40)], "each", G(), TRACKERS, False, {"gap", "coverage", "quorum"}),
    ("40-min gaps, 1 h allowed", [proof(ev(step=40), 40)], "each", G(max_gap_s=3600), TRACKERS, True, set()),
    ("a foreign tracker", [proof(ev(["trk-a", "trk-x"]))], "each", G(quorum=1), TRACKERS, False, {"foreign_device"}),
    ("count does not match", [proof(edit(E, count=E.count + 1))], "each", G(), TRACKERS, False, {"inconsistent"}),
    ("a reading listed twice", [proof(edit(E, readings=[*E.readings, E.readings[0]], count=E.count + 1))], "each", G(), TRACKERS, False, {"inconsistent"}),
    ("window does not match", [proof(edit(E, first_ts=T0 - timedelta(hours=1)))], "each", G(), TRACKERS, False, {"inconsistent"}),
    ("clock went back", [proof(swapped_clock())], "each", G(), TRACKERS, False, {"clock", "quorum"}),
    ("readings after the event", [proof(at_min=30)], "each", G(), TRACKERS, False, {"clock", "quorum"}),
    ("within the clock skew", [proof(at_min=56)], "each", G(), TRACKERS, True, set()),
    ("1 h of readings for a 6 h claim", [proof(claimed_min=360)], "each", G(), TRACKERS, False, {"coverage", "quorum"}),
    ("cumulative: episodes apart are fine", [proof(episodes(), 120, contiguous=False, at_min=360)], "each", G(), TRACKERS, True, set()),
    ("contiguous: episodes apart are a gap", [proof(episodes(), 120, at_min=360)], "each", G(), TRACKERS, False, {"gap", "quorum"}),
    ("fix required, not reported", [proof()], "each", G(min_fix=FixQuality.FIX_3D), TRACKERS, False, {"fix", "quorum"}),
    ("2d fix below 3d", [proof(ev(fix=FixQuality.FIX_2D))], "each", G(min_fix=FixQuality.FIX_3D), TRACKERS, False, {"fix", "quorum"}),
    ("dgps fix above 3d", [proof(ev(fix=FixQuality.DGPS))], "each", G(min_fix=FixQuality.FIX_3D), TRACKERS, True, set()),
    ("HDOP too high", [proof(ev(hdop=5.0))], "each", G(max_hdop=2.0), TRACKERS, False, {"hdop", "quorum"}),
    ("HDOP fine", [proof(ev(hdop=0.9))], "each", G(max_hdop=2.0), TRACKERS, True, set()),
    ("too few readings", [proof(ev(minutes=10), 10)], "each", G(min_readings=5), TRACKERS, False, {"too_few_readings", "quorum"}),
    ("union: each tracker's own shock", [proof(ev(["trk-a"]), 0), proof(ev(["trk-b"]), 0)], "union", G(), TRACKERS, True, set()),
    ("union: one tracker's shock", [proof(ev(["trk-a"]), 0)], "union", G(), TRACKERS, False, {"quorum"}),
    ("each: every episode needs its quorum", [proof(), proof(ev(["trk-a"]))], "each", G(), TRACKERS, False, {"quorum"}),
    ("no booking: majority of devices seen", [proof(ev(["trk-a"]))], "each", G(), None, False, {"quorum"}),
    ("no booking: two of three seen", [proof()], "each", G(), None, True, set()),
]
# fmt: on


@pytest.mark.parametrize(
    ("case", "proofs", "over", "gate", "trackers", "passes", "codes"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_gate(
    case: str,
    proofs: list[Proof],
    over: Over,
    gate: DataQualityGate,
    trackers: Sequence[str] | None,
    passes: bool,
    codes: set[str],
) -> None:
    verdict = assess(proofs, over, gate, trackers, devices_seen=ABC)
    assert verdict.passed is passes, (case, verdict.findings)
    assert {f.code.value for f in verdict.findings} == codes, case


def test_findings_name_the_tracker() -> None:
    verdict = assess([proof(ev(step=40), 40)], "each", G(), TRACKERS, ())
    gaps = [f for f in verdict.findings if f.code is GateCode.GAP]
    assert sorted(f.device_id or "" for f in gaps) == ["trk-a", "trk-b"]
    assert "2400 s silent" in gaps[0].detail


def test_a_failing_tracker_does_not_block_a_majority() -> None:
    good = [r for d in ("trk-a", "trk-b") for r in readings(d, 0, 60)]
    gappy = readings("trk-c", 0, 60, step_min=40)
    verdict = assess([proof(evidence(good + gappy))], "each", G(), ABC, ())
    assert verdict.passed
    assert [(f.code, f.device_id) for f in verdict.findings] == [
        (GateCode.GAP, "trk-c"),
        (GateCode.COVERAGE, "trk-c"),
    ]


@pytest.mark.parametrize(
    ("quorum", "trackers", "required"),
    [(None, 1, 1), (None, 2, 2), (None, 3, 2), (None, 4, 3), (None, 0, 1), (1, 3, 1), (3, 2, 3)],
)
def test_required_quorum(quorum: int | None, trackers: int, required: int) -> None:
    assert required_quorum(G(quorum=quorum), [f"t{i}" for i in range(trackers)]) == required
