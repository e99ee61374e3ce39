"""The truth harness itself: delivery orders are permutations with the lateness they promise,
the comparisons count what they say on hand-made values, and a simulated fleet replays the
same way every time."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel

from faults.truth.compare import (
    Alarm,
    ClaimKey,
    Miss,
    Stamp,
    expected_tranches,
    false_alarms,
    milestone_misses,
    minutes_out_of_band,
    principal_flows,
    reference_interest,
    score_alarms,
    score_claims,
    score_milestones,
    score_tranches,
    tier_for,
)
from faults.truth.orders import FLUSH_S, LATE_S, ORDERS, SLOW_S, backlog, flush, late, slow
from faults.truth.replay import Cache, replay
from faults.truth.scoring import run_scenario, table
from faults.truth.stream import Message, MessageKind, fleet_config, simulate
from finance.demo_terms import demo_facility
from tradelane.contracts import (
    DeviceState,
    DeviceStatus,
    Milestone,
    Money,
    TrackerReading,
    TriggerKind,
)
from tradelane.contracts.finance import (
    DrawdownExecuted,
    DrawdownRejected,
    FinanceEvent,
    ResultCode,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
SHIPMENTS = {"dev-a": "shp-a", "dev-b": "shp-b", "dev-c": "shp-a"}


def reading(
    index: int, device: str, seq: int, at: float, published: float | None = None
) -> Message:
    r = TrackerReading(
        device_id=device, seq=seq, ts=datetime.fromtimestamp(at, UTC), temperature_c=5.0
    )
    return Message(
        index,
        MessageKind.READING,
        at if published is None else published,
        SHIPMENTS[device],
        device,
        f"t/{device}",
        reading=r,
    )


def will(index: int, device: str, published: float) -> Message:
    status = DeviceStatus(device_id=device, state=DeviceState.OFFLINE)
    return Message(
        index, MessageKind.STATUS, published, SHIPMENTS[device], device, "s", status=status
    )


def stream() -> list[Message]:
    """Two trackers every 15 min for 20 h; dev-b's readings 4-7 buffered and flushed at the
    8th; dev-a dies (its will) after 10 h."""
    out: list[Message] = []
    for k in range(80):
        at = T0 + k * 900.0
        out.append(reading(len(out), "dev-a", k, at))
        if k == 8:
            for seq in range(4, 8):
                out.append(reading(len(out), "dev-b", seq, T0 + seq * 900.0, at))
        if not 4 <= k < 8:
            out.append(reading(len(out), "dev-b", k, at))
        if k == 40:
            out.append(will(len(out), "dev-a", at + 1.0))
    return out


@pytest.mark.parametrize("name", sorted(ORDERS))
def test_every_order_delivers_each_message_exactly_once(name: str) -> None:
    messages = stream()
    delivered = ORDERS[name](messages, 3)
    assert sorted(m.index for _, m in delivered) == [m.index for m in messages]
    times = [at for at, _ in delivered]
    assert times == sorted(times)
    if name != "ideal":
        assert all(at >= m.published_at for at, m in delivered)


@pytest.mark.parametrize("name", sorted(ORDERS))
def test_orders_are_deterministic_for_a_seed(name: str) -> None:
    messages = stream()
    first = [(at, m.index) for at, m in ORDERS[name](messages, 5)]
    assert first == [(at, m.index) for at, m in ORDERS[name](messages, 5)]


def test_ideal_is_event_time_order_and_published_keeps_the_flush() -> None:
    messages = stream()
    ideal = [m for _, m in ORDERS["ideal"](messages, 0)]
    events = [m.event_at for m in ideal]
    assert events == sorted(events)
    published = ORDERS["published"](messages, 0)
    b = {m.reading.seq: at for at, m in published if m.device_id == "dev-b" and m.reading}
    assert {b[seq] for seq in range(4, 9)} == {T0 + 8 * 900.0}  # flushed with the 8th


def test_backlog_processes_the_will_before_the_hour_of_readings_it_overtakes() -> None:
    messages = stream()
    delivered = backlog(messages, 0)
    will_at, will_msg = next((at, m) for at, m in delivered if m.is_will)
    assert will_at == will_msg.published_at
    pos = [m.index for _, m in delivered].index(will_msg.index)
    overtaken = [
        m for _, m in delivered[pos + 1 :] if m.reading and m.published_at < will_msg.published_at
    ]
    assert overtaken  # readings published before the will are processed after it
    held = [at - m.published_at for at, m in delivered if at > m.published_at]
    assert max(held) <= 3600.0


def test_slow_delays_exactly_one_tracker_by_50_minutes() -> None:
    delivered = slow(stream(), 1)
    delayed = {m.device_id for at, m in delivered if at - m.published_at == SLOW_S}
    on_time = {m.device_id for at, m in delivered if at == m.published_at}
    assert len(delayed) == 1
    assert delayed.isdisjoint(on_time)


def test_late_delays_exactly_one_reading_by_16_minutes() -> None:
    delivered = late(stream(), 2)
    delays = [at - m.published_at for at, m in delivered if at != m.published_at]
    assert delays == [LATE_S]


def test_flush_holds_one_trackers_readings_and_releases_them_in_order() -> None:
    delivered = flush(stream(), 4)
    held = [(at, m) for at, m in delivered if at > m.published_at]
    assert held
    assert len({m.device_id for _, m in held}) == 1
    assert len({at for at, _ in held}) == 1  # one burst
    assert max(held[0][0] - m.published_at for _, m in held) <= FLUSH_S
    seqs = [m.reading.seq for _, m in held if m.reading]
    assert seqs == sorted(seqs)


def test_slow_and_flush_pick_a_tracker_with_a_sibling_and_late_a_reading_that_saw_light() -> None:
    messages = stream()  # dev-a and dev-b ride alone
    for k in range(80):
        messages.append(reading(len(messages), "dev-c", k, T0 + k * 900.0 + 60.0))
    lit = messages[len(messages) // 2]
    assert lit.reading is not None
    messages[lit.index] = Message(
        lit.index,
        lit.kind,
        lit.published_at,
        lit.shipment_id,
        lit.device_id,
        lit.topic,
        reading=lit.reading.model_copy(update={"light_lux": 400.0}),
    )
    for seed in range(5):
        for order in (slow, flush):
            moved = {m.device_id for at, m in order(messages, seed) if at > m.published_at}
            assert moved <= {"dev-a", "dev-c"}
            assert len(moved) == 1
        assert [m.index for at, m in late(messages, seed) if at > m.published_at] == [lit.index]


def test_score_milestones_counts_matches_errors_and_false_ones() -> None:
    truth = [
        Stamp("s", Milestone.DEPARTED_ORIGIN, 0, 1000.0),
        Stamp("s", Milestone.ARRIVED_DESTINATION, 1, 90_000.0),
        Stamp("s", Milestone.DELIVERED, 1, 95_000.0),
    ]
    detected = [
        Stamp("s", Milestone.DEPARTED_ORIGIN, 0, 1000.0 - 1200),  # 20 min early: on time
        Stamp("s", Milestone.ARRIVED_DESTINATION, 1, 90_000.0 + 7200),  # 2 h late
        Stamp("s", Milestone.ARRIVED_DESTINATION, 1, 90_000.0),  # a second one: false
        Stamp("s", Milestone.ARRIVED_TRANSSHIPMENT, 0, 5000.0),  # no such stop: false
    ]
    score = score_milestones(truth, detected)
    assert (score.truth, score.matched, score.within, score.false, score.missed) == (3, 2, 1, 2, 1)
    assert score.max_error_s == 7200.0
    assert score.within_share == pytest.approx(1 / 3)
    assert milestone_misses(truth, detected) == [
        Miss("s", "arrived_destination", 1, 7200.0),
        Miss("s", "delivered", 1, None),
    ]


def test_score_alarms_detects_planted_incidents_and_counts_unexplained_ones() -> None:
    planted = [
        Alarm("tamper", "s1", None, 10_000.0),
        Alarm("silence", "s2", "d2", 50_000.0),
        Alarm("breach", "s3", None, 10_000.0),
    ]
    detected = [
        Alarm("tamper", "s1", "d1", 10_300.0),
        Alarm("silence", "s2", "d2", 20_000.0),  # stamped at the last reading: still it
        Alarm("silence", "s2", "d9", 60_000.0),  # a healthy tracker: false
        Alarm("breach", "s3", None, 1_000.0),  # long before the failure: not the incident
        Alarm("tamper", "s4", "d4", 5_000.0),  # nothing planted there: false
    ]
    score = score_alarms(planted, detected)
    assert score.detected == {"breach": 0, "shock": 0, "tamper": 1, "silence": 1, "deviation": 0}
    assert score.false == {"breach": 0, "shock": 0, "tamper": 1, "silence": 1, "deviation": 0}
    assert score.planted["tamper"] == 1
    assert [(a.kind, a.shipment_id) for a in false_alarms(planted, detected)] == [
        ("silence", "s2"),
        ("tamper", "s4"),
    ]


def test_claim_tiers_and_scores() -> None:
    assert tier_for([30, 120, 360], 29.9) is None
    assert tier_for([30, 120, 360], 120) == 1
    assert tier_for([30, 120, 360], 1000) == 2
    expected = [ClaimKey("s1", TriggerKind.TEMPERATURE, 2), ClaimKey("s2", TriggerKind.TAMPER, 0)]
    raised = [
        ClaimKey("s1", TriggerKind.TEMPERATURE, 1),  # raised, wrong tier
        ClaimKey("s2", TriggerKind.TAMPER, 0),
        ClaimKey("s3", TriggerKind.TAMPER, 0),  # false
    ]
    score = score_claims(expected, raised, paid=2)
    assert (score.expected, score.raised, score.matched, score.right_tier) == (2, 3, 2, 1)
    assert (score.paid, score.false) == (2, 1)


def test_minutes_out_of_band_takes_the_longest_stretch_of_one_tracker() -> None:
    def r(seq: int, minutes: float, c: float) -> TrackerReading:
        ts = datetime.fromtimestamp(T0 + minutes * 60, UTC)
        return TrackerReading(device_id="dev-a", seq=seq, ts=ts, temperature_c=c)

    readings = [r(0, 0, 5), r(1, 15, 9), r(2, 30, 9), r(3, 45, 5), r(4, 60, 10), r(5, 75, 11)]
    assert minutes_out_of_band(readings, 2.0, 8.0, T0) == 30.0  # 15 -> back in at 45
    assert minutes_out_of_band(readings, 2.0, 8.0, T0 + 50 * 60) == 15.0  # 60 -> 75, still out
    assert minutes_out_of_band(readings, None, None, T0) == 0.0


def test_reference_interest_accrues_the_end_of_day_principal() -> None:
    facility = demo_facility("fac-t", ["s"])  # 8 %, ACT/365F, USD
    day1 = datetime(2026, 3, 1, 12, tzinfo=UTC).timestamp()
    day3 = datetime(2026, 3, 3, 23, tzinfo=UTC).timestamp()
    horizon = datetime.combine(date(2026, 3, 5), datetime.min.time(), UTC)
    flows = [(day1, Decimal("36500")), (day3, Decimal("-36500"))]
    # 1 and 2 March at 36,500 x 8 % / 365 = 8.00 a day; repaid before the end of 3 March.
    assert reference_interest(flows, facility, horizon) == Decimal("16.00")
    assert reference_interest([], facility, horizon) == Decimal(0)


def test_a_simulated_fleet_publishes_and_replays_the_same_way_every_time() -> None:
    config = fleet_config("tracker-dies", 3, 2)
    first, second = simulate(config), simulate(config)
    assert [(m.index, m.published_at, m.reading, m.status) for m in first.messages] == [
        (m.index, m.published_at, m.reading, m.status) for m in second.messages
    ]
    assert any(m.is_will for m in first.messages)
    readings = [m for m in first.messages if m.reading is not None]
    assert all(m.event_at <= m.published_at for m in readings)
    assert len(first.manifest.shipments) == len(first.plan.shipments)
    cache: Cache = {}
    delivered = ORDERS["slow"](first.messages, 3)
    once = replay(first, delivered)
    cached = replay(first, delivered, cache)
    again = replay(first, delivered, cache)
    assert list(once.events) == list(cached.events) == list(again.events)
    assert [e.id for e in once.finance] == [e.id for e in again.finance]
    assert once.events


def _finance(kind: type[BaseModel], **fields: Any) -> FinanceEvent:
    """A finance event with only the fields the comparisons read (no ledger, no FX)."""
    data: dict[str, Any] = {"data": kind.model_construct(**fields)}
    return FinanceEvent.model_construct(**data)


def test_tranches_released_before_the_goods_moved_are_counted_with_their_lead() -> None:
    left = datetime(2026, 3, 1, 12, tzinfo=UTC)
    events = [
        _finance(
            DrawdownExecuted,
            shipment_id="s1",
            milestone=Milestone.DEPARTED_ORIGIN,
            at=left - timedelta(hours=3),
            amount=Money(amount=Decimal("100"), currency="USD"),
        ),
        _finance(
            DrawdownExecuted,
            shipment_id="s2",
            milestone=Milestone.DEPARTED_ORIGIN,
            at=left + timedelta(minutes=5),
            amount=Money(amount=Decimal("50"), currency="USD"),
        ),
        _finance(
            DrawdownRejected,
            shipment_id="s2",
            milestone=Milestone.ARRIVED_DESTINATION,
            code=ResultCode.CARGO_IMPAIRED,
        ),
    ]
    departures = {"s1": left.timestamp(), "s2": left.timestamp()}
    score = score_tranches(events, departures, expected=4)
    assert (score.expected, score.released, score.before_departure) == (4, 2, 1)
    assert score.max_lead_h == 3.0
    assert score.rejected == {"arrived_destination:cargo_impaired": 1}
    truth = {("s1", Milestone.DEPARTED_ORIGIN): left.timestamp()}
    flows = principal_flows(events, truth)  # s1's tranche moved to the true departure
    assert flows == [
        (left.timestamp(), Decimal("100")),
        ((left + timedelta(minutes=5)).timestamp(), Decimal("50")),
    ]


def test_expected_tranches_follow_the_schedule_and_the_true_milestones() -> None:
    facility = demo_facility("fac-t", ["s1", "s2"])  # departure and arrival tranches
    truth = [
        Stamp("s1", Milestone.DEPARTED_ORIGIN, 0, 1.0),
        Stamp("s1", Milestone.ARRIVED_DESTINATION, 2, 2.0),
        Stamp("s1", Milestone.DELIVERED, 2, 3.0),
        Stamp("s2", Milestone.DEPARTED_ORIGIN, 0, 1.0),
        Stamp("s3", Milestone.DEPARTED_ORIGIN, 0, 1.0),  # not pledged
    ]
    assert expected_tranches(facility, truth) == 3


def test_a_scenario_run_gives_one_row_per_order_as_a_table_and_json() -> None:
    rows = run_scenario("theft", 3, 1, ["late", "ideal"])
    assert [r.order for r in rows] == ["ideal", "late"]
    assert all(r.milestones.truth > 0 and r.tranches.expected == 2 for r in rows)
    assert rows[0].alarms.planted["tamper"] == 1  # the planted theft, whatever was detected
    text = table(rows)
    assert text.count("theft") >= 4  # two figure lines, two alarm lines
    doc = json.loads(json.dumps([r.as_json() for r in rows]))
    assert Decimal(doc[0]["interest_difference"]) == (
        rows[0].interest_booked - rows[0].interest_reference
    )
