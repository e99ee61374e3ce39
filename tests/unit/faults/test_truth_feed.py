"""How the pipeline leg of the truth suite feeds an order (segments, partition-sharing ids) and
how it reads the difference between two runs' outputs: pure functions on hand-made values."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from faults.truth.differences import differences, interest, milestones, tranches
from faults.truth.feed import (
    DAY_S,
    Path,
    colocated,
    colocating_prefix,
    partition_of,
    path_of,
    segments,
)
from faults.truth.orders import Delivery
from faults.truth.replay import Outputs
from faults.truth.stream import Message, MessageKind, fleet_config
from finance.demo_terms import demo_facility
from tradelane.contracts import (
    DeviceState,
    DeviceStatus,
    Milestone,
    MilestoneReached,
    Money,
    ShipmentEvent,
    ShipmentStatus,
    TrackerReading,
)
from tradelane.contracts.finance import FinanceEvent, InterestAccrued

T0 = datetime(2026, 3, 1, tzinfo=UTC).timestamp()


def reading(index: int, shipment: str, at: float) -> Delivery:
    r = TrackerReading(device_id=f"d-{shipment}", seq=index, ts=datetime.fromtimestamp(at, UTC))
    msg = Message(index, MessageKind.READING, at, shipment, r.device_id, "t", reading=r)
    return at, msg


def will(index: int, shipment: str, at: float) -> Delivery:
    status = DeviceStatus(device_id=f"d-{shipment}", state=DeviceState.OFFLINE)
    msg = Message(index, MessageKind.STATUS, at, shipment, status.device_id, "s", status=status)
    return at, msg


def booking_update(index: int, shipment: str, at: float) -> Delivery:
    msg = Message(index, MessageKind.BOOKING, at, shipment, None, "shipments.registry")
    return at, msg


def indices(parts: list[list[Delivery]]) -> list[list[int]]:
    return [[m.index for _, m in part] for part in parts]


def test_segments_keep_the_order_and_cut_where_the_path_changes() -> None:
    order = [
        reading(0, "a", T0),
        reading(1, "b", T0 + 60),
        will(2, "a", T0 + 120),
        reading(3, "b", T0 + 180),
        booking_update(4, "b", T0 + 240),
        booking_update(5, "a", T0 + 240),
        reading(6, "a", T0 + 300),
    ]
    parts = segments(order)
    assert [i for part in indices(parts) for i in part] == list(range(7))
    assert indices(parts) == [[0, 1], [2], [3], [4], [5], [6]]
    assert [path_of(p[0]) for p in parts] == [
        Path.READINGS,
        Path.STATUS,
        Path.READINGS,
        Path.REGISTRY,
        Path.REGISTRY,
        Path.READINGS,
    ]


def test_segments_end_at_midnight_of_processing_time() -> None:
    midnight = (T0 // DAY_S + 1) * DAY_S
    order = [
        reading(0, "a", midnight - 1),
        reading(1, "a", midnight),
        reading(2, "a", midnight + 5),
    ]
    assert indices(segments(order)) == [[0], [1, 2]]


def test_a_segment_holds_the_causes_of_one_shipment() -> None:
    order = [reading(i, "ab"[i % 2], T0 + i) for i in range(8)]
    causes = {1: "b", 3: "b", 4: "a", 6: "a", 7: "b"}
    parts = indices(segments(order, causes))
    assert parts == [[0, 1, 2, 3], [4, 5, 6], [7]]
    for part in parts:
        assert len({causes[i] for i in part if i in causes}) <= 1
    assert indices(segments(order)) == [list(range(8))]  # no causes: one segment


def test_partition_of_is_kafkas_default_partitioner() -> None:
    # murmur2 of the key, as Kafka's (and aiokafka's) default partitioner computes it
    assert partition_of("abc", 12) == (479470107 & 0x7FFFFFFF) % 12
    assert {partition_of(f"k{i}", 12) for i in range(200)} == set(range(12))


def test_the_prefix_puts_each_shipments_trackers_on_one_partition() -> None:
    config = replace(fleet_config("nominal", 1, 6), prefix="nomidx1")
    groups = [[0, 1], [2, 3], [4, 5]]
    prefix = colocating_prefix(config, groups, 12)
    chosen = replace(config, prefix=prefix)
    assert prefix.startswith("nomidx1")
    assert colocated(chosen, groups, 12)
    for group in groups:
        assert len({partition_of(chosen.device_id(i), 12) for i in group}) == 1
    assert colocating_prefix(config, [], 12) == "nomidx1"  # nothing to place: unchanged


def event(shipment: str, milestone: Milestone, at: float, leg: int = 0) -> ShipmentEvent:
    data = MilestoneReached(
        milestone=milestone,
        at=datetime.fromtimestamp(at, UTC),
        leg_index=leg,
        status=ShipmentStatus.IN_TRANSIT,
        in_spec=True,
    )
    return ShipmentEvent(
        id=f"{shipment}-{milestone.value}-{at}",
        source="/t",
        type="tradelane.shipment.milestone_reached.v1",
        subject=shipment,
        time=data.at,
        data=data,
    )


def accrued(day: int, amount: str) -> FinanceEvent:
    at = datetime.fromtimestamp(T0 + day * DAY_S, UTC)
    data = InterestAccrued(
        facility_id="fac",
        day=at.date(),
        principal=Money(amount=Decimal(1000), currency="USD"),
        annual_rate=Decimal("0.08"),
        day_count="ACT/360",
        amount=Money(amount=Decimal(amount), currency="USD"),
        interest_due_after=Money(amount=Decimal(amount), currency="USD"),
        at=at,
        ledger_seq=day,
        ledger_hash="0" * 64,
    )
    return FinanceEvent(
        id=f"i{day}",
        source="/t",
        type="tradelane.finance.interest_accrued.v1",
        subject="fac",
        time=at,
        data=data,
    )


def outputs(events: list[ShipmentEvent], finance: list[FinanceEvent]) -> Outputs:
    out = Outputs(demo_facility("fac", ["s1"]))
    out.events = {e.id: e for e in events}
    out.finance = finance
    return out


def test_equal_outputs_have_no_differences() -> None:
    a = outputs([event("s1", Milestone.DEPARTED_ORIGIN, T0)], [accrued(1, "1.50")])
    b = outputs([event("s1", Milestone.DEPARTED_ORIGIN, T0)], [accrued(1, "1.50")])
    assert differences(a, b) == []


def test_a_milestone_moved_missing_or_added_is_named() -> None:
    want = outputs(
        [event("s1", Milestone.DEPARTED_ORIGIN, T0), event("s1", Milestone.DELIVERED, T0 + 9e4)],
        [],
    )
    got = outputs(
        [
            event("s1", Milestone.DEPARTED_ORIGIN, T0 + 600),
            event("s1", Milestone.ARRIVED_DESTINATION, T0 + 8e4),
        ],
        [],
    )
    lines = milestones(want, got)
    assert len(lines) == 3
    assert any("departed_origin" in line and "+10.0 min" in line for line in lines)
    assert any("delivered" in line and "missing" in line for line in lines)
    assert any("arrived_destination" in line and "only in the pipeline" in line for line in lines)


def test_interest_names_the_total_and_the_days_that_differ() -> None:
    want = outputs([], [accrued(1, "1.50"), accrued(2, "1.50")])
    got = outputs([], [accrued(1, "1.50"), accrued(2, "1.60")])
    (line,) = interest(want, got)
    assert "3.10 vs replay 3.00 (+0.10)" in line
    assert "2026-03-03 1.60 vs 1.50" in line
    assert tranches(want, got) == []
