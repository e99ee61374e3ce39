"""The hot path's pure parts: the partitioned store coalesces writes, and a batch applied by
:class:`streams.hotpath.HotPath` gives exactly the events the pure core gives one input at a
time, whatever the batch sizes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

import streams.core
from streams.hotpath import READING, HotPath
from streams.registries import Registries
from streams.store import Store
from tests.samples import booking
from tradelane.contracts import Gps, IngestedReading, ShipmentEvent, TrackerReading
from tradelane.topics import SHIPMENTS_EVENTS

T0 = datetime(2026, 11, 20, tzinfo=UTC)


def _raw(value: bytes) -> bytes:
    return value


def test_a_store_writes_each_changed_key_once_per_drain() -> None:
    store: Store[bytes] = Store(_raw, _raw)
    store.load(3, [(b"a", b"1"), (b"b", b"2"), (b"b", None)])
    assert store.get(3, b"a") == b"1"
    assert store.get(3, b"b") is None  # a tombstone
    store.put(3, b"a", b"x")
    store.put(3, b"a", b"y")
    store.put(3, b"c", b"z")
    assert sorted(store.drain()) == [(3, b"a", b"y"), (3, b"c", b"z")]
    assert list(store.drain()) == []


def test_a_store_forgets_a_failed_batch_and_dropped_partitions() -> None:
    store: Store[bytes] = Store(_raw, _raw)
    store.load(1, [(b"a", b"1")])
    store.load(2, [(b"b", b"2")])
    assert store.get(1, b"a") == b"1"
    store.put(1, b"a", b"half-updated")
    assert store.discard_changes() == {1}
    assert 1 not in store  # recovered from its changelog before it is used again
    assert 2 in store
    store.drop({2})
    assert 2 not in store


def voyage(device: str, n: int) -> list[IngestedReading]:
    out = []
    for seq in range(n):
        lat, lon = (31.23, 121.47) if seq < 2 else (31.1 - seq * 0.02, 121.6 + seq * 0.02)
        r = TrackerReading(
            device_id=device,
            seq=seq,
            ts=T0 + timedelta(minutes=30 * seq),
            gps=Gps(lat=lat, lon=lon, speed_kmh=30),
            temperature_c=12.0 if seq % 7 == 3 else 5.0,
            shock_g=20.0 if seq % 11 == 5 else 0.5,
            battery_pct=90,
        )
        out.append(IngestedReading(reading=r, received_at=r.ts, mqtt_topic="t"))
    return out


def offline(shipment: str, device: str, readings: list[IngestedReading]) -> list[str]:
    state = streams.core.new_state(shipment)
    events = streams.core.apply_in_place(state, booking(shipment, [device]))
    for item in readings:
        events += streams.core.apply_in_place(state, item)
    return [e.id for e in events if not _is_booking_event(e)]


def _is_booking_event(event: ShipmentEvent) -> bool:
    return event.data.kind == "booked"


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=10))
def test_batches_give_the_events_of_one_input_at_a_time(cuts: list[int]) -> None:
    shipment, device = "shp-batch", "trk-batch"
    readings = voyage(device, 40)
    registries = Registries()
    registries.learn(booking(shipment, [device]))
    hot = HotPath(registries, "by-shipment", ("c-ship", "c-ins"), None)
    hot.shipments.load(0, [])
    hot.insurance.load(0, [])
    records = [(0, shipment.encode(), READING + r.model_dump_json().encode()) for r in readings]
    produced: list[str] = []
    changelog_writes = 0
    start, i = 0, 0
    while start < len(records):
        size = cuts[i % len(cuts)]
        for topic, _key, value, _p in hot.apply_batch(records[start : start + size]):
            if topic == SHIPMENTS_EVENTS.name:
                produced.append(ShipmentEvent.model_validate_json(value).id)
            else:
                changelog_writes += 1
        start, i = start + size, i + 1
    wanted = offline(shipment, device, readings)
    assert [e for e in produced if e in set(wanted)] == wanted
    assert changelog_writes == i  # one state record per batch, however many readings


def test_an_insured_shipment_is_fed_a_registry_record_that_arrives_mid_voyage() -> None:
    """The hot path skips the per-record registry check while nothing was learned since the
    shipment was last fed; a record learned later (a new policy) must still reach it."""
    from tests.unit.finance.insurance.builders import facility, policy

    shipment, device = "shp-fed", "trk-fed"
    registries = Registries()
    registries.learn(booking(shipment, [device]))
    registries.learn(facility([shipment]))
    registries.learn(policy(policy_id="pol-a", shipment=shipment))
    hot = HotPath(registries, "by-shipment", ("c-ship", "c-ins"), "finance-in")
    hot.shipments.load(0, [])
    hot.insurance.load(0, [])
    readings = voyage(device, 6)

    def apply(item: IngestedReading) -> None:
        hot.apply_batch([(0, shipment.encode(), READING + item.model_dump_json().encode())])

    for reading in readings[:4]:  # the departure (reading 2) feeds the insurance state
        apply(reading)
    assert hot.memo.is_current(shipment, registries.generation)
    registries.learn(policy(policy_id="pol-b", shipment=shipment))
    assert not hot.memo.is_current(shipment, registries.generation)
    apply(readings[4])
    apply(readings[5])  # a shock: an event for the insurance state, fed the new policy first
    state = hot.insurance.get(0, shipment.encode())
    assert state is not None
    assert "pol-b" in state.model_dump_json()
    assert hot.memo.is_current(shipment, registries.generation)


def test_a_shipment_insurance_state_holds_its_own_pledge_not_the_whole_credit_line() -> None:
    from tests.unit.finance.insurance.builders import facility, policy

    shipment, device = "shp-own", "trk-own"
    others = [f"shp-other-{i}" for i in range(50)]
    registries = Registries()
    registries.learn(booking(shipment, [device]))
    registries.learn(facility([*others, shipment]))
    registries.learn(policy(policy_id="pol-own", shipment=shipment))
    hot = HotPath(registries, "by-shipment", ("c-ship", "c-ins"), "finance-in")
    hot.shipments.load(0, [])
    hot.insurance.load(0, [])
    for reading in voyage(device, 4):  # the departure feeds the insurance state its priors
        hot.apply_batch([(0, shipment.encode(), READING + reading.model_dump_json().encode())])
    state = hot.insurance.get(0, shipment.encode())
    assert state is not None
    assert list(state.pledges) == [shipment]
    assert state.pledges[shipment].facility_id == "fac-1"
