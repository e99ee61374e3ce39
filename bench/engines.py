"""``tradelane bench engines``: the pledge and insurance engines' per-event cost, no services.

For each facility size N it builds one credit line pledging N shipments (demo terms, half the
cargo in EUR against a USD line), books them, lets them depart (a drawdown each) and, for the
insurance engine, gives every shipment a policy and a temperature breach history with
evidence (a state of ~60 kB per shipment, what a reefer in trouble carries). Then it feeds
shipment events round robin over the shipments - shocks, breach progress with growing
evidence, ETA changes, battery, data quality, silence and resumption, transshipment milestones,
event time one minute apart (so days close and interest accrues) - through
:class:`finance.shell.PledgeShell` and :class:`finance.shell.InsuranceShell`: exactly the
agents' per-message code (parse, registry sync, engine, output and state serialisation, table
write) with a dict for the faust table and no Kafka. It prints events/s and µs/event per
engine and N.
"""

from __future__ import annotations

import gc
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.ingest import machine, percentile
from bench.worker import bench_booking
from finance import pledge_engine
from finance.demo_terms import demo_facility, demo_policy
from finance.facility_state import dump_state
from finance.insurance import apply as insure
from finance.insurance.state import InsuranceState
from finance.shell import EVENT, InsuranceShell, PledgeShell
from tradelane.contracts import (
    BatteryLow,
    BreachKind,
    BreachProgress,
    BreachRule,
    DataQualityChanged,
    EtaChanged,
    Evidence,
    FxRate,
    Milestone,
    MilestoneReached,
    Money,
    QualityGrade,
    ReadingRef,
    ShipmentBooking,
    ShipmentEvent,
    ShipmentEventData,
    ShipmentStatus,
    ShockDetected,
    TrackerResumed,
    TrackerSilent,
    shipment_event_type,
)
from tradelane.ids import derive_id

FACILITY = "bench-facility"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
EVIDENCE_MAX = 200
"""Readings an event cites at most (the stream rules' ``evidence_max_readings``)."""
HISTORY_READINGS = 200
"""Minutes (and readings cited) of each of a shipment's two earlier breach episodes."""
KINDS = (
    "shock",
    "breach",
    "eta",
    "shock",
    "battery",
    "breach",
    "quality",
    "silent",
    "resumed",
    "milestone",
)
"""The event mix, one kind per round of the shipments."""


def _id(n: int) -> str:
    return f"bench-shp-{n:05d}"


def _device(shipment: str) -> str:
    return f"trk-{shipment}"


def _evidence(device: str, first: datetime, count: int) -> Evidence:
    refs = [
        ReadingRef(device_id=device, seq=i, ts=first + timedelta(minutes=i), hdop=0.9)
        for i in range(count)
    ]
    return Evidence(
        readings=refs,
        digest=derive_id("bench-digest", device, first.isoformat(), count).ljust(64, "0"),
        count=count,
        first_ts=first,
        last_ts=refs[-1].ts if refs else None,
        minimum=8.5,
        maximum=11.0,
        mean=9.4,
    )


def _event(shipment: str, data: ShipmentEventData, when: datetime, n: int) -> ShipmentEvent:
    return ShipmentEvent(
        id=derive_id("bench-event", shipment, data.kind, n),
        source="/tradelane/streams",
        type=shipment_event_type(data.kind),
        subject=shipment,
        time=when,
        data=data,
    )


def _booking(shipment: str, n: int) -> ShipmentBooking:
    booking = bench_booking(shipment, _device(shipment), T0, days=30, value_usd="40000")
    if n % 2:  # half the cargo is invoiced in EUR: the line converts it
        cargo = booking.cargo.model_copy(
            update={"value": Money(amount=Decimal("40000"), currency="EUR")}
        )
        booking = booking.model_copy(update={"cargo": cargo})
    return booking


def _breach(shipment: str, started: datetime, minutes: int, at: datetime) -> BreachProgress:
    return BreachProgress(
        breach=BreachKind.TEMPERATURE_HIGH,
        rule=BreachRule.CONSECUTIVE,
        started_at=started,
        at=at,
        duration_s=minutes * 60,
        peak=11.0,
        evidence=_evidence(_device(shipment), started, min(minutes, EVIDENCE_MAX)),
    )


@dataclass
class Workload:
    """Registries as the worker would hold them, and the routed messages to feed."""

    shipments: list[str]
    facility: Any
    bookings: dict[str, ShipmentBooking]
    policies: dict[str, Any]
    fx: FxRate
    messages: list[tuple[str, bytes]] = field(default_factory=list)
    """(shipment id, routed value) in feeding order."""


def workload(n: int, count: int) -> Workload:
    """``n`` pledged, insured, departed shipments and ``count`` events over them."""
    ids = [_id(i) for i in range(n)]
    bookings = {s: _booking(s, i) for i, s in enumerate(ids)}
    policies = {s: demo_policy(s, bookings[s].cargo.value) for s in ids}
    fx = FxRate(base="EUR", quote="USD", rate=Decimal("1.0850"), as_of=T0)
    load = Workload(ids, demo_facility(FACILITY, ids), bookings, policies, fx)
    start = T0 + timedelta(days=1)
    for k in range(count):
        shipment = ids[k % n]
        rnd = k // n
        kind = KINDS[(k + rnd) % len(KINDS)]  # every window of ten events has every kind
        when = start + timedelta(minutes=k)
        device = _device(shipment)
        eta = T0 + timedelta(days=30, hours=rnd % 5)
        data: ShipmentEventData
        if kind == "shock":
            g = 3.0 if rnd % 4 else 12.5
            data = ShockDetected(
                device_id=device,
                at=when,
                g=g,
                limit_g=10.0,
                evidence=_evidence(device, when, 1),
            )
        elif kind == "breach":
            episode_start = start + timedelta(days=1)
            data = _breach(shipment, episode_start, 10 * (rnd + 1), when)
        elif kind == "eta":
            data = EtaChanged(
                at=when, eta=eta, previous_eta=None, planned_arrival=T0 + timedelta(days=30)
            )
        elif kind == "battery":
            data = BatteryLow(device_id=device, at=when, battery_pct=14.0)
        elif kind == "quality":
            data = DataQualityChanged(
                device_id=device,
                at=when,
                grade=QualityGrade.DEGRADED,
                previous=QualityGrade.GOOD,
                reasons=["few GNSS fixes"],
                fix_ratio=0.4,
                clock_ahead_s=0,
            )
        elif kind == "silent":
            data = TrackerSilent(
                device_id=device,
                last_seen=when - timedelta(minutes=30),
                at=when,
                judged_by="event_time",
            )
        elif kind == "resumed":
            data = TrackerResumed(device_id=device, at=when, silent_s=1800)
        else:
            data = MilestoneReached(
                milestone=Milestone.ARRIVED_TRANSSHIPMENT,
                at=when,
                status=ShipmentStatus.AT_TRANSSHIPMENT,
                in_spec=True,
            )
        event = _event(shipment, data, when, k)
        load.messages.append((shipment, EVENT + event.model_dump_json().encode()))
    return load


def _departure(shipment: str) -> ShipmentEvent:
    data = MilestoneReached(
        milestone=Milestone.DEPARTED_ORIGIN,
        at=T0 + timedelta(hours=1),
        status=ShipmentStatus.IN_TRANSIT,
        in_spec=True,
    )
    return _event(shipment, data, T0 + timedelta(hours=1), -1)


def facility_table(load: Workload) -> dict[bytes, bytes]:
    """The facility's table after terms, FX, bookings and every departure (drawdowns)."""
    state = pledge_engine.new_state(FACILITY)
    for item in [load.facility, load.fx, *load.bookings.values()]:
        state, _ = pledge_engine.apply(state, item)
    for shipment in load.shipments:
        state, _ = pledge_engine.apply(state, _departure(shipment))
    return {FACILITY.encode(): dump_state(state).encode()}


def insurance_table(load: Workload) -> dict[bytes, bytes]:
    """Every shipment's insurance state: policy, booking, pledge, departure and two earlier
    breach episodes with their evidence (claims raised and paid)."""
    table: dict[bytes, bytes] = {}
    for shipment in load.shipments:
        state = InsuranceState()
        history: list[Any] = [
            load.policies[shipment],
            load.bookings[shipment],
            load.facility,
            _departure(shipment),
        ]
        for day in (2, 4):
            started = T0 + timedelta(hours=day * 5)
            at = started + timedelta(minutes=HISTORY_READINGS)
            history.append(
                _event(shipment, _breach(shipment, started, HISTORY_READINGS, at), at, -day)
            )
        for item in history:
            state, _ = insure(state, item)
        table[shipment.encode()] = state.model_dump_json().encode()
    return table


class CountingTable(dict[bytes, bytes]):
    """A dict for the faust table that counts the bytes written (changelog traffic)."""

    written = 0

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.written += len(key) + len(value)
        super().__setitem__(key, value)


@dataclass
class Figure:
    engine: str
    shipments: int
    events: int
    seconds: float
    events_per_s: float
    us_per_event: float
    """Mean; a step that changes the borrowing base lists every shipment, so it is O(N)."""
    p50_us: float
    p99_us: float
    state_bytes: int
    """Size of one state in the table after the run (the facility, or one shipment's)."""
    written_per_event: float
    """Bytes written to the table (and so to its changelog) per event, on average."""
    loadavg_1m: float


@dataclass
class EngineFigures:
    figures: list[Figure]
    machine: dict[str, object] = field(default_factory=machine)

    def text(self) -> str:
        lines = [
            f"{'engine':<10}{'shipments':>10}{'events':>8}{'events/s':>11}{'µs/event':>11}"
            f"{'p50 µs':>9}{'p99 µs':>9}"
            f"{'state kB':>10}{'written kB/ev':>15}{'load 1m':>9}"
        ]
        for f in self.figures:
            lines.append(
                f"{f.engine:<10}{f.shipments:>10,}{f.events:>8,}{f.events_per_s:>11,.0f}"
                f"{f.us_per_event:>11,.0f}{f.p50_us:>9,.0f}{f.p99_us:>9,.0f}"
                f"{f.state_bytes / 1000:>10,.1f}"
                f"{f.written_per_event / 1000:>15,.2f}{f.loadavg_1m:>9.2f}"
            )
        lines.append(f"machine: {self.machine}")
        return "\n".join(lines)


def _time(
    messages: list[tuple[str, bytes]], handle: Callable[[str, bytes], object], seconds: float
) -> tuple[list[float], float]:
    """Feed messages until they run out or ``seconds`` passed; (each event's seconds, total)."""
    gc.collect()
    each: list[float] = []
    clock = time.perf_counter
    start = clock()
    deadline = start + seconds
    for shipment, value in messages:
        began = clock()
        handle(shipment, value)
        ended = clock()
        each.append(ended - began)
        if ended > deadline:
            break
    return each, clock() - start


def measure(n: int, seconds: float, events: int) -> list[Figure]:
    """Both engines on a facility of ``n`` shipments, for up to ``seconds`` each."""
    load = workload(n, events)
    figures: list[Figure] = []

    pledge, facilities = PledgeShell(), CountingTable(facility_table(load))
    key = FACILITY.encode()

    def pledge_sync(_item: pledge_engine.EngineInput) -> list[Any]:
        return []  # the registries' records are known already: a warm worker's sync

    def feed_pledge(_shipment: str, value: bytes) -> None:
        pledge.handle(facilities, key, value, pledge_sync)

    pledge.warm(facilities, key)  # a worker that has run a while holds its states parsed
    facilities.written = 0
    each, took = _time(load.messages, feed_pledge, seconds)
    size = sum(len(k) + len(v) for k, v in facilities.items())
    figures.append(_figure("pledge", n, each, took, size, facilities.written))

    insurance, policies = InsuranceShell(), CountingTable(insurance_table(load))

    def feed_insurance(shipment: str, value: bytes) -> None:
        insurance.handle(policies, shipment.encode(), value, list)

    for shipment in load.shipments:
        insurance.warm(policies, shipment.encode())
    policies.written = 0
    each, took = _time(load.messages, feed_insurance, seconds)
    sizes = sorted(len(v) for v in policies.values())
    median = sizes[len(sizes) // 2]
    figures.append(_figure("insurance", n, each, took, median, policies.written))
    return figures


def _figure(engine: str, n: int, each: list[float], took: float, size: int, written: int) -> Figure:
    done = len(each)
    return Figure(
        p50_us=round(percentile(each, 0.5) * 1e6, 1),
        p99_us=round(percentile(each, 0.99) * 1e6, 1),
        engine=engine,
        shipments=n,
        events=done,
        seconds=round(took, 3),
        events_per_s=round(done / took, 1),
        us_per_event=round(took / done * 1e6, 1),
        state_bytes=size,
        written_per_event=round(written / done, 1),
        loadavg_1m=round(os.getloadavg()[0], 2),
    )


def bench_engines(
    sizes: list[int], seconds: float, events: int, json_path: Path | None
) -> EngineFigures:
    """Measure every size, print the table, write the JSON when asked."""
    figures: list[Figure] = []
    for n in sizes:
        print(f"bench engines: {n:,} shipments ...", flush=True)
        figures += measure(n, seconds, max(events, n))
    result = EngineFigures(figures)
    print(result.text())
    if json_path is not None:
        json_path.write_text(json.dumps(asdict(result), indent=2) + "\n")
    return result
