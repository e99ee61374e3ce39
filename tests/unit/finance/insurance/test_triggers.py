"""Each trigger kind against shipment events, one case a line: (case, trigger, events, expected
(tier, share) or None when nothing pays)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

import pytest

from finance.insurance.observe import observe, observe_booking
from finance.insurance.state import ShipmentObservations
from finance.insurance.triggers import evaluate, trigger_keys
from tests.unit.finance.insurance.builders import (
    SHIPMENT,
    arrived,
    breach,
    cumulative,
    deviation,
    policy,
    shipment_booking,
    shock,
    tamper,
    trigger,
)
from tradelane.contracts import BreachKind, ShipmentEvent, Trigger, TriggerKind

TEMP = trigger(TriggerKind.TEMPERATURE)
TEMP_CUM = trigger(TriggerKind.TEMPERATURE, cumulative=True)
SHOCK = trigger(TriggerKind.SHOCK, [(5, "0.2"), (10, "0.6")])
TAMPER = trigger(TriggerKind.TAMPER, [(1, "0.3")])
DELAY = trigger(TriggerKind.DELAY, [(24, "0.1"), (72, "0.3")])
PER_DAY = trigger(
    TriggerKind.DELAY, [(48, "0")], per_day_share=Decimal("0.05"), cap_share=Decimal("0.2")
)
DEVIATION = trigger(TriggerKind.DEVIATION, [(50, "0.25"), (200, "1")])
UNORDERED = trigger(TriggerKind.SHOCK, [(10, "0.6"), (5, "0.2")])
ZERO_TIER = trigger(TriggerKind.SHOCK, [(5, "0"), (10, "0.6")])
LOW, HUMID = BreachKind.TEMPERATURE_LOW, BreachKind.HUMIDITY_HIGH


def ep(
    minutes: float, start_min: float, kind: BreachKind = BreachKind.TEMPERATURE_HIGH
) -> ShipmentEvent:
    """One consecutive breach episode seen by both trackers."""
    return breach(minutes, start_min=start_min, kind=kind)


CASES: list[tuple[str, Trigger, Sequence[ShipmentEvent], tuple[int, str] | None]] = [
    ("no events, no claim", TEMP, [], None),
    ("29 min out of band is below the first tier", TEMP, [breach(29)], None),
    ("30 min reaches 10 %", TEMP, [breach(30)], (0, "0.1")),
    ("119 min stays at 10 %", TEMP, [breach(119)], (0, "0.1")),
    ("2 h reaches 50 %", TEMP, [breach(120)], (1, "0.5")),
    ("6 h reaches 100 %", TEMP, [breach(360)], (2, "1")),
    ("an older, shorter progress changes nothing", TEMP, [breach(360), breach(30)], (2, "1")),
    ("below the band counts like above", TEMP, [ep(45, 0, LOW)], (0, "0.1")),
    ("humidity is not a temperature breach", TEMP, [ep(400, 0, HUMID)], None),
    ("consecutive: 2 x 90 min stay at 10 %", TEMP, [ep(90, 0), ep(90, 600)], (0, "0.1")),
    ("cumulative: 2 x 90 min add up to 50 %", TEMP_CUM, [ep(90, 0), ep(90, 600)], (1, "0.5")),
    ("cumulative: high and low add up", TEMP_CUM, [ep(60, 0), ep(60, 600, LOW)], (1, "0.5")),
    (
        "cumulative: the streams' trip total",
        TEMP_CUM,
        [cumulative([(0, 60), (300, 70)])],
        (1, "0.5"),
    ),
    ("consecutive ignores trip totals", TEMP, [cumulative([(0, 200), (300, 200)])], None),
    ("shock below G", SHOCK, [shock(4.9)], None),
    ("shock at G", SHOCK, [shock(5)], (0, "0.2")),
    ("the largest shock of any tracker", SHOCK, [shock(6), shock(12, "trk-b")], (1, "0.6")),
    ("tiers need not be listed in order", UNORDERED, [shock(11)], (1, "0.6")),
    ("a 0 % tier raises nothing", ZERO_TIER, [shock(7)], None),
    ("tamper pays its tier", TAMPER, [tamper()], (0, "0.3")),
    ("tamper on two trackers is one tamper", TAMPER, [tamper(), tamper("trk-b")], (0, "0.3")),
    ("a shock is not a temperature breach", TEMP, [shock(50)], None),
    ("delay: arrival on time", DELAY, [arrived(0)], None),
    ("delay: arrival early", DELAY, [arrived(-5)], None),
    ("delay: 23 h late", DELAY, [arrived(23)], None),
    ("delay: 24 h late", DELAY, [arrived(24)], (0, "0.1")),
    ("delay: 80 h late", DELAY, [arrived(80)], (1, "0.3")),
    ("delay: the first arrival counts", DELAY, [arrived(80), arrived(30)], (0, "0.1")),
    ("per day: 47 h late", PER_DAY, [arrived(47)], None),
    ("per day: 48 h late starts day 1", PER_DAY, [arrived(48)], (1, "0.05")),
    ("per day: 73 h late is in day 2", PER_DAY, [arrived(73)], (2, "0.10")),
    ("per day: capped", PER_DAY, [arrived(48 + 24 * 9)], (10, "0.2")),
    ("deviation below X", DEVIATION, [deviation(49)], None),
    ("deviation beyond X", DEVIATION, [deviation(60)], (0, "0.25")),
    ("the widest deviation", DEVIATION, [deviation(60), deviation(250, start_min=900)], (1, "1")),
]


def _observed(events: Sequence[ShipmentEvent]) -> ShipmentObservations:
    obs = observe_booking(ShipmentObservations(shipment_id=SHIPMENT), shipment_booking())
    for e in events:
        obs = observe(obs, e.id, e.data)
    return obs


@pytest.mark.parametrize(("case", "trig", "events", "expected"), CASES, ids=[c[0] for c in CASES])
def test_trigger(
    case: str, trig: Trigger, events: Sequence[ShipmentEvent], expected: tuple[int, str] | None
) -> None:
    hit = evaluate(trig, _observed(events))
    if expected is None:
        assert hit is None, case
    else:
        assert hit is not None, case
        assert (hit.tier, hit.share) == (expected[0], Decimal(expected[1])), case


def test_delay_needs_a_planned_arrival() -> None:
    obs = ShipmentObservations(shipment_id=SHIPMENT)
    e = arrived(80)
    assert evaluate(DELAY, observe(obs, e.id, e.data)) is None


def test_hit_names_its_cause_and_evidence() -> None:
    progress = breach(130)
    hit = evaluate(TEMP, _observed([breach(30), progress]))
    assert hit is not None
    assert hit.cause_event_id == progress.id
    assert hit.at == progress.time - timedelta(minutes=10)  # 120 of its 130 minutes
    assert [(r.share, r.at) for r in hit.rungs] == [
        (Decimal("0.1"), progress.time - timedelta(minutes=100)),
        (Decimal("0.5"), hit.at),
    ]
    assert hit.measure == 130
    assert hit.threshold == 120
    assert [p.evidence for p in hit.proofs] == [progress.data.evidence]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("triggers", "keys"),
    [
        ([TEMP], ["temperature"]),
        ([TEMP, SHOCK], ["temperature", "shock"]),
        ([TEMP, TEMP_CUM], ["temperature.1", "temperature.2"]),
        (
            [TEMP, trigger(TriggerKind.SHOCK, trigger_id="temperature")],
            ["temperature", "temperature.1"],
        ),
        ([trigger(TriggerKind.TEMPERATURE, trigger_id="reefer")], ["reefer"]),
    ],
)
def test_trigger_keys_are_stable_and_unique(triggers: list[Trigger], keys: list[str]) -> None:
    got = [k for k, _ in trigger_keys(policy(*triggers))]
    assert got == keys
