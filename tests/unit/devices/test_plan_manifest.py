"""Fleet planning (bookings, ids, determinism), the sent-sequence ranges, the manifest, and
the ``simulate`` command line."""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cli.main import build_parser
from devices.config import FleetConfig
from devices.delivery_faults import FaultKnobs
from devices.engine import FleetEngine
from devices.manifest import AckLedger, Manifest, SeqRanges, build_manifest, expand
from devices.messages import Kind
from devices.plan import plan_fleet
from tradelane.contracts import ProfileKind, ShipmentBooking
from tradelane.credentials import device_password

from .conftest import START, config, plan, run_engine


def test_bookings_follow_the_contract_and_list_their_trackers() -> None:
    fleet = plan(seed=2, trackers=30)
    assert sum(len(s.devices) for s in fleet.shipments) == 30
    seen: set[str] = set()
    for ship in fleet.shipments:
        booking = ShipmentBooking.model_validate_json(ship.booking.model_dump_json())
        assert booking == ship.booking
        assert booking.shipment_id == ship.shipment_id
        assert booking.trackers == [fleet.devices[d].device_id for d in ship.devices]
        assert isinstance(booking.cargo.value.amount, Decimal)
        assert booking.cargo.value.amount > 0
        assert len(booking.cargo.hs_code) >= 6
        if booking.condition.kind is ProfileKind.CHILLED:
            assert (booking.condition.temp_min_c, booking.condition.temp_max_c) == (2.0, 8.0)
        if booking.condition.kind is ProfileKind.FROZEN:
            assert booking.condition.temp_max_c == -18.0
        seen |= set(booking.trackers)
    assert len(seen) == 30


def test_planning_is_deterministic_and_seed_dependent() -> None:
    a = plan_fleet(config(seed=5, trackers=15))
    b = plan_fleet(config(seed=5, trackers=15))
    c = plan_fleet(config(seed=6, trackers=15))
    dump = [s.booking.model_dump_json() for s in a.shipments]
    assert dump == [s.booking.model_dump_json() for s in b.shipments]
    assert dump != [s.booking.model_dump_json() for s in c.shipments]


def test_ids_carry_the_prefix() -> None:
    fleet = plan(seed=5, trackers=3, prefix="acme-test")
    assert [d.device_id for d in fleet.devices] == [f"acme-test-t0000{i}" for i in range(3)]
    assert fleet.shipments[0].shipment_id == "acme-test-shp00000"
    with pytest.raises(ValueError, match="prefix"):
        FleetConfig(start=START, prefix="bad/prefix")


@pytest.mark.parametrize(
    "scenario",
    ["nominal", "reefer-failure", "rough-handling", "theft", "port-delay", "tracker-dies"],
)
def test_every_scenario_plans_and_plants_its_incident(scenario: str) -> None:
    fleet = plan(seed=8, trackers=12, scenario=scenario)
    if scenario == "nominal":
        assert not fleet.incidents
    else:
        assert fleet.incidents
        assert {i.kind.value for i in fleet.incidents} == {
            scenario.replace("-", "_").replace("tracker_dies", "tracker_death")
        }


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="within"):
        FaultKnobs(duplicate_rate=1.5)
    with pytest.raises(ValueError, match="speedup"):
        FleetConfig(start=START, speedup=0)
    with pytest.raises(ValueError, match="unknown scenario"):
        plan_fleet(config(scenario="alien-abduction"))


@given(st.lists(st.integers(min_value=0, max_value=300), max_size=200))
def test_seq_ranges_behave_like_a_set(values: list[int]) -> None:
    ranges = SeqRanges()
    model: set[int] = set()
    for v in values:
        assert ranges.add(v) == (v not in model)
        model.add(v)
    assert set(ranges) == model == expand(ranges.ranges())
    assert len(ranges) == len(model)
    pairs = ranges.ranges()
    for (_, hi), (lo, _) in itertools.pairwise(pairs):
        assert lo > hi + 1  # disjoint and not adjacent: maximally merged
    assert all(v in ranges for v in model)


def test_manifest_accounts_for_every_reading(tmp_path: Path) -> None:
    fleet = plan(seed=12, trackers=6, faults=FaultKnobs(malformed_rate=0.05))
    engine = FleetEngine(fleet)
    ledger = AckLedger(len(fleet.devices))
    msgs = run_engine(engine, 20)
    for m in msgs:  # pretend the broker acked everything that was published
        if m.kind in (Kind.READING, Kind.DUPLICATE, Kind.MALFORMED, Kind.STATUS):
            ledger.on_ack(m, True)
    manifest = build_manifest(fleet, engine, ledger, {"seed": 12}, [])
    t = manifest.totals
    assert t.readings_generated == t.readings_sent + t.readings_buffered_at_end + (
        t.readings_unacked + t.readings_dropped_buffer_full + t.readings_lost_on_death
    )
    assert t.readings_unacked == 0
    assert t.malformed_sent > 0
    path = tmp_path / "manifest.json"
    manifest.write(path)
    loaded = Manifest.model_validate(json.loads(path.read_text()))
    assert loaded.totals == t
    for record in loaded.devices:
        assert len(expand(record.sent_seq_ranges)) == record.sent


def test_device_passwords_are_stable_and_distinct() -> None:
    assert device_password("k", "a") == device_password("k", "a")
    assert device_password("k", "a") != device_password("k", "b") != device_password("j", "b")


def test_simulate_is_a_subcommand() -> None:
    args = build_parser().parse_args(
        [
            "simulate",
            "--trackers",
            "5",
            "--scenario",
            "theft",
            "--seed",
            "3",
            "--speedup",
            "43200",
            "--duration",
            "60",
            "--mqtt-url",
            "mqtt://127.0.0.1:1883",
        ]
    )
    assert (args.trackers, args.scenario, args.seed, args.speedup) == (5, "theft", 3, 43200.0)
    assert callable(args.handler)
