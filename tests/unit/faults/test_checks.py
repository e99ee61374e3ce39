"""Each verdict fails on the fault it guards against: one case a line."""

from __future__ import annotations

import json

import pytest

from faults import checks
from faults.oracle import Drawdown, Outcomes
from faults.schedule import Fault, Injection

D1 = Drawdown("fac-a", "shp-a", "departed_origin")
D2 = Drawdown("fac-a", "shp-a", "arrived_destination")


def outcomes(drawdowns: dict[str, Drawdown], claims: dict[str, str]) -> Outcomes:
    return Outcomes(drawdowns=drawdowns, claims=claims)


EXPECTED = outcomes({"d1": D1, "d2": D2}, {"c1": "claim_raised", "c2": "claim_paid"})


@pytest.mark.parametrize(
    ("observed", "records", "drawdowns_ok", "claims_ok"),
    [
        (outcomes({"d1": D1, "d2": D2}, {"c1": "claim_raised", "c2": "claim_paid"}), 2, True, True),
        (outcomes({"d1": D1, "d2": D2}, {"c1": "claim_raised", "c2": "claim_paid"}), 5, True, True),
        (outcomes({"d1": D1}, {"c1": "claim_raised", "c2": "claim_paid"}), 1, False, True),
        (outcomes({"d1": D1, "d2": D2, "d3": D1}, {"c1": "x", "c2": "y"}), 3, False, True),
        (outcomes({"d1": D1, "d2": D2}, {"c1": "claim_raised"}), 2, True, False),
        (outcomes({"d1": D1, "d2": D2}, {"c1": "a", "c2": "b", "c9": "c"}), 2, True, False),
    ],
    ids=["exact", "redelivered-copies", "missing", "doubled", "claim-missing", "claim-unknown"],
)
def test_effects_against_the_oracle(
    observed: Outcomes, records: int, drawdowns_ok: bool, claims_ok: bool
) -> None:
    drawdown_check, claim_check = checks.effects(EXPECTED, observed, [D1] * records)
    assert (drawdown_check.ok, claim_check.ok) == (drawdowns_ok, claims_ok)


@pytest.mark.parametrize(
    ("check", "ok"),
    [
        (checks.readings({("a", 1), ("a", 2)}, {("a", 1), ("a", 2), ("b", 1)}, 4), True),
        (checks.readings({("a", 1), ("a", 2)}, {("a", 1)}, 0), False),
        (checks.dead_letters(10, 10, {}), True),
        (checks.dead_letters(10, 12, {}), True),
        (checks.dead_letters(10, 9, {}), False),
        (checks.dead_letters(10, 10, {"future_timestamp": 1}), False),
        (checks.ledgers({"f": (True, 3, ""), "g": (True, 1, "")}), True),
        (checks.ledgers({"f": (True, 3, ""), "g": (False, 1, "seq 1 hash")}), False),
        (checks.crashes([]), True),
        (checks.crashes(["worker-2 exit 1"]), False),
        (checks.resumed(1, True, 12.0), True),
        (checks.resumed(1, False, None), False),
        (checks.reprocessed({"f": {(0, "h0")}}, {"f": {(0, "h0")}}, {"c"}, {"c"}, True, 9), True),
        (
            checks.reprocessed(
                {"f": {(0, "h0")}}, {"f": {(0, "h0"), (1, "h1")}}, set(), set(), True, 9
            ),
            False,
        ),
        (
            checks.reprocessed({"f": set()}, {"f": set(), "g": {(0, "x")}}, set(), set(), True, 9),
            False,
        ),
        (checks.reprocessed({}, {}, {"c"}, {"c", "d"}, True, 9), False),
        (checks.reprocessed({}, {}, set(), set(), False, 9), False),
        (checks.rival_groups([3]), True),
        (checks.rival_groups([3, 0]), False),  # one ran beside the group
        (checks.rival_groups([None]), False),
    ],
)
def test_verdicts(check: checks.Check, ok: bool) -> None:
    assert check.ok is ok, check


def test_shipment_events_compare_ids_and_content() -> None:
    want = Outcomes(shipment_events={"e1": '{"a":1}', "e2": '{"b":2}'})
    assert checks.shipment_events(want, Outcomes(shipment_events=dict(want.shipment_events))).ok
    assert not checks.shipment_events(want, Outcomes(shipment_events={"e1": '{"a":1}'})).ok
    changed = Outcomes(shipment_events={"e1": '{"a":1}', "e2": '{"b":3}'})
    assert "1 differ" in checks.shipment_events(want, changed).observed
    assert not checks.shipment_events(want, changed).ok


def test_a_customs_clearance_is_compared_by_id_only() -> None:
    cleared = '{"data":{"milestone":"customs_cleared","in_spec":%s}}'
    want = Outcomes(shipment_events={"e1": cleared % "false"})
    placed_earlier = checks.shipment_events(
        want, Outcomes(shipment_events={"e1": cleared % "true"})
    )
    assert placed_earlier.ok
    assert "1 customs clearance(s) placed differently" in placed_earlier.observed
    assert not checks.shipment_events(want, Outcomes(shipment_events={})).ok


def test_report_names_every_injection_and_check_and_says_failed() -> None:
    injections = [Injection(3.5, Fault.BRIDGE_KILL, 1.2), Injection(9.0, Fault.BROKER_RESTART, 0)]
    results = [checks.crashes([]), checks.crashes(["bridge exit 1"])]
    text = checks.render(injections, results, {"readings_acked": 10})
    assert "bridge_kill" in text
    assert "broker_restart" in text
    assert text.count("  PASS") == 1
    assert text.count("  FAIL") == 1
    assert text.rstrip().endswith("(FAILED)")
    doc = json.loads(checks.to_json(injections, results, {"readings_acked": 10}))
    assert doc["passed"] is False
    assert [i["fault"] for i in doc["injections"]] == ["bridge_kill", "broker_restart"]
