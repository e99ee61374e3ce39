"""``tradelane bench engines`` runs its whole workload through the agents' per-message code."""

from __future__ import annotations

import json
from pathlib import Path

from bench.engines import FACILITY, bench_engines, facility_table, workload
from finance.facility_state import load_state


def test_every_prepared_event_is_fed_to_both_engines(tmp_path: Path) -> None:
    out = tmp_path / "engines.json"
    result = bench_engines([3], seconds=600, events=40, json_path=out)
    assert [(f.engine, f.shipments, f.events) for f in result.figures] == [
        ("pledge", 3, 40),
        ("insurance", 3, 40),
    ]
    written = json.loads(out.read_text())
    assert [f["engine"] for f in written["figures"]] == ["pledge", "insurance"]


def test_the_facility_starts_with_every_shipment_departed_and_drawn() -> None:
    load = workload(4, 10)
    state = load_state(facility_table(load)[FACILITY.encode()])
    assert sorted(state.shipments) == load.shipments
    assert all(s.principal > 0 for s in state.shipments.values())
