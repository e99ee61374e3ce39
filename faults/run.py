"""One fault run on the real services (the shell around the pure parts of :mod:`faults`).

1. Plan the fleets (one per scenario, one tracker per shipment) and publish their terms first:
   each shipment pledged to a credit line of its own and insured, bookings and an FX rate, so
   the worker knows all of it before the first reading.
2. Start a bridge and a worker on ids of this run, then the fleets (malformed payloads mixed
   in); while they publish, inject the planned faults at their moments.
3. When the fleets are done: wait until every acknowledged reading is on ``tracker.readings``,
   run the oracle over those readings, and wait until the worker has produced every expected
   outcome and committed all its input.
4. Check, then (when the profile says so) rewind the worker's group to the run's first offsets,
   reprocess, and check again that no ledger entry and no claim changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import subprocess
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from devices.config import FleetConfig
from devices.delivery_faults import FaultKnobs
from devices.fleet import run_fleet
from devices.manifest import Manifest
from devices.plan import FleetPlan, plan_fleet, with_customs
from devtools.children import Child, ChildFailedError, bridge, rival_worker, worker
from devtools.provisioning import provision_local_fleet
from devtools.services.kafka_cluster import KafkaCluster
from faults import checks
from faults.cluster import child_env
from faults.followers import Follower, group_lag, rewind_group
from faults.oracle import Drawdown, Inputs, Outcomes, expected
from faults.profiles import Profile
from faults.schedule import Fault, Injection, plan
from finance.demo_terms import demo_facility, demo_policy
from finance.fx_feed import simulated_rates
from finance.fx_publisher import publish_rates
from finance.ledger_store import LedgerStore
from streams.app import pledge_group
from tradelane.contracts import (
    ClaimEvent,
    Facility,
    FxRate,
    IngestedReading,
    Policy,
    ShipmentBooking,
    ShipmentEvent,
    read_dead_letter,
)
from tradelane.contracts.deadletter import DeadLetterReason
from tradelane.contracts.finance import DrawdownExecuted, FinanceEvent
from tradelane.settings import KafkaSettings, MqttSettings, ServicesSettings
from tradelane.topics import (
    FINANCE_EVENTS,
    FINANCE_FACILITIES,
    FX_RATES,
    INSURANCE_CLAIMS,
    INSURANCE_POLICIES,
    KAFKA_TOPICS,
    SHIPMENTS_EVENTS,
    SHIPMENTS_REGISTRY,
    TRACKER_DEADLETTER,
    TRACKER_READINGS,
)
from transport import kafka as clients
from transport.admin import ensure_topics
from transport.mqtt import forget_session

MALFORMED_REASONS = {
    DeadLetterReason.MALFORMED_JSON,
    DeadLetterReason.SCHEMA_VIOLATION,
    DeadLetterReason.OUT_OF_RANGE,
    DeadLetterReason.DEVICE_MISMATCH,
    DeadLetterReason.UNSUPPORTED_FORMAT,
}
Progress = Callable[[str], None]


@dataclass
class Result:
    injections: list[Injection]
    checks: list[checks.Check]
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


@dataclass
class _Run:
    """The moving parts of one run."""

    kafka: KafkaSettings
    mqtt: MqttSettings
    logs: Path
    run_id: str
    progress: Progress
    bridge: Child
    workers: list[Child]
    crashes: list[str] = field(default_factory=list)
    spawned: int = 0
    broker_down_s: list[float] = field(default_factory=list)
    rival_exits: list[int | None] = field(default_factory=list)
    """Exit statuses of the workers of another group started mid-run (3: refused)."""
    every_child: list[Child] = field(default_factory=list)
    """Every process this run started, so an interrupted run leaves none behind."""
    background: list[asyncio.Task[None]] = field(default_factory=list)
    """The fault injector and the crash watch, cancelled on the way out."""
    cluster: KafkaCluster | None = None
    """The run's own Kafka cluster, whose nodes the broker faults stop and kill."""
    broker_faults: int = 0
    """Broker faults so far: the next one strikes node ``broker_faults % nodes``."""

    def adopt(self, child: Child) -> Child:
        """``child``, pointed at the run's cluster when it has one, and remembered."""
        if self.cluster is not None:
            child.env.update(child_env(self.cluster))
        self.every_child.append(child)
        return child

    def new_worker(self) -> Child:
        self.spawned += 1
        return self.adopt(worker(self.app_id, self.logs, self.spawned))

    @property
    def app_id(self) -> str:
        return f"tradelane-streams-faults-{self.run_id}"

    def note_crashes(self) -> None:
        for child in [self.bridge, *self.workers]:
            code = child.crashed()
            if code is not None:
                self.crashes.append(f"{child.name} exit {code}")
                self.progress(
                    f"  ! {child.name} ended on its own (exit {code}):\n{child.tail(1500)}"
                )
                child.told_to_stop = True  # reported once


@dataclass
class _Setup:
    """What a run planned, published and started following before its pipeline came up."""

    profile: Profile
    plans: list[FleetPlan]
    bookings: dict[str, ShipmentBooking]
    facilities: dict[str, Facility]
    policies: dict[str, list[Policy]]
    followers: dict[str, Follower]
    began_ms: int


@dataclass
class _Published:
    """What the fleets did: their manifests and what the broker acknowledged."""

    manifests: list[Manifest]
    acked: set[tuple[str, int]]
    malformed: int
    devices: dict[str, str]
    """device id -> its shipment id"""
    t0: float
    published_s: float


async def run(
    profile: Profile,
    seed: int,
    logs: Path,
    progress: Progress = print,
    kafka: KafkaSettings | None = None,
    mqtt: MqttSettings | None = None,
    cluster: KafkaCluster | None = None,
) -> Result:
    """Run ``profile`` with ``seed`` against the local services (Kafka: ``cluster``, a cluster
    of the run's own, when given): publish the fleets while the faults are injected, wait for
    the pipeline, then check what came out against the oracle. Every process, task and
    follower it started is stopped on the way out."""
    kafka = cluster.kafka if cluster is not None else (kafka or KafkaSettings())
    mqtt = mqtt or MqttSettings()
    await asyncio.to_thread(logs.mkdir, parents=True, exist_ok=True)
    run_id = f"s{seed}{secrets.token_hex(3)}"
    client_id = f"faults-{run_id}"
    state = _Run(kafka, mqtt, logs, run_id, progress, bridge(client_id, logs), [], cluster=cluster)
    state.adopt(state.bridge)
    injections = plan(profile, seed)
    setup = await _set_up(state, profile, seed, len(injections))
    figures: dict[str, Any] = {"profile": profile.name, "seed": seed, "run_id": run_id}
    figures["kafka_brokers"] = 1 if cluster is None else len(cluster.nodes)
    try:
        await _start_pipeline(state)
        published = await _publish(state, setup, injections, figures)
        return Result(injections, await _judge(state, setup, published, figures), figures)
    finally:
        await _tear_down(state, setup.followers, client_id)


async def _set_up(state: _Run, profile: Profile, seed: int, faults: int) -> _Setup:
    """Topics, fleet plans, credit lines and policies; then follow the topics checked later
    from now on (this run's records only)."""
    kafka = state.kafka
    began_ms = int(time.time() * 1000)
    await ensure_topics(kafka, KAFKA_TOPICS)
    plans = await _plan_fleets(profile, seed, state.run_id)
    bookings = {s.shipment_id: s.booking for p in plans for s in p.shipments}
    facilities, policies = await _publish_terms(kafka, list(bookings.values()))
    state.progress(
        f"run {state.run_id}: {len(bookings)} shipments in {len(plans)} fleets, each pledged to "
        f"its own credit line and insured; {faults} faults planned; logs in {state.logs}"
    )
    followers = {
        t.name: Follower(kafka, t.name)
        for t in (
            TRACKER_READINGS,
            TRACKER_DEADLETTER,
            SHIPMENTS_EVENTS,
            FINANCE_EVENTS,
            INSURANCE_CLAIMS,
        )
    }
    for f in followers.values():
        await f.start(began_ms)
    return _Setup(profile, plans, bookings, facilities, policies, followers, began_ms)


async def _start_pipeline(state: _Run) -> None:
    """The bridge and a first worker, both ready before a fleet publishes."""
    first = state.new_worker()
    state.workers.append(first)
    for child in (first, state.bridge):
        child.start()
    for child in (first, state.bridge):
        await child.ready()
    state.progress("bridge and worker up; fleets publishing")


async def _publish(
    state: _Run, setup: _Setup, injections: list[Injection], figures: dict[str, Any]
) -> _Published:
    """Run every fleet to its end while the faults are injected and crashes watched."""
    stop = asyncio.Event()
    t0 = time.monotonic()
    fleets = [
        asyncio.create_task(
            run_fleet(
                p.config, state.mqtt, state.kafka, stop, plan=p, provision=provision_local_fleet
            )
        )
        for p in setup.plans
    ]
    injector = asyncio.create_task(_inject(state, injections, t0))
    watcher = asyncio.create_task(_watch(state))
    state.background += [injector, watcher]
    try:
        reports = await asyncio.gather(*fleets)
        published_s = time.monotonic() - t0
        await injector
    finally:
        stop.set()
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    manifests = [r.manifest for r in reports]
    acked = _acked(manifests)
    malformed = sum(m.totals.malformed_sent for m in manifests)
    figures |= {
        "readings_acked": len(acked),
        "malformed_acked": malformed,
        "publish_s": round(published_s, 1),
        "readings_per_s": round(len(acked) / published_s, 1),
    }
    state.progress(
        f"fleets done: {len(acked):,} readings and {malformed:,} malformed payloads "
        f"acknowledged in {published_s:.0f} s; waiting for the pipeline"
    )
    devices = {d.device_id: d.shipment_id for m in manifests for d in m.devices}
    return _Published(manifests, acked, malformed, devices, t0, published_s)


async def _judge(
    state: _Run, setup: _Setup, pub: _Published, figures: dict[str, Any]
) -> list[checks.Check]:
    """Wait for the readings and the outcomes, then check them against the oracle."""
    profile, followers = setup.profile, setup.followers
    readings = await _readings_arrive(
        state, followers[TRACKER_READINGS.name], pub.devices, pub.acked, profile
    )
    seen = {(r.reading.device_id, r.reading.seq) for rs in readings.values() for r in rs}
    copies = sum(len(rs) for rs in readings.values()) - len(seen)
    oracle = await _oracle(state, setup, pub.manifests, readings)
    observed, drawdown_records, complete, took = await _outcomes_arrive(
        state,
        followers,
        oracle,
        set(setup.bookings),
        set(setup.facilities),
        profile,
        pub.t0 + pub.published_s,
    )
    figures["drain_s"] = None if took is None else round(took, 1)
    figures["broker_down_s"] = state.broker_down_s
    figures["worker_processes"] = state.spawned
    dead, bad_reasons = _dead_letters(followers[TRACKER_DEADLETTER.name].records, pub.devices)
    verified = await _verify(state.kafka, setup.facilities)
    result = [
        checks.readings(pub.acked, seen, copies),
        checks.dead_letters(pub.malformed, dead, bad_reasons),
        *checks.effects(oracle, observed, drawdown_records),
        checks.ledgers(verified),
        checks.resumed(profile.broker_restarts + profile.broker_kills, complete, took),
    ]
    if profile.group_reset:
        result.append(
            await _reset_and_reprocess(
                state, followers, setup.facilities, observed, setup.began_ms, profile
            )
        )
    state.note_crashes()
    result.append(checks.crashes(state.crashes))
    if profile.rival_groups:
        result.append(checks.rival_groups(state.rival_exits))
    result.append(checks.shipment_events(oracle, observed))
    await asyncio.to_thread(_write_diff, state.logs / "shipment-events-diff.json", oracle, observed)
    return result


async def _oracle(
    state: _Run,
    setup: _Setup,
    manifests: list[Manifest],
    readings: dict[str, list[IngestedReading]],
) -> Outcomes:
    """What the pipeline should have produced from what it was fed (inputs kept in the logs)."""
    fx = await _fx_rates(state.kafka)
    inputs = Inputs(
        bookings=setup.bookings,
        updates={
            s.shipment_id: with_customs(s.booking, s.voyage.customs_cleared_at)
            for p in setup.plans
            for s in p.shipments
            if _cleared_in_run(s.voyage.customs_cleared_at, manifests)
        },
        readings=readings,
        facilities=setup.facilities,
        policies=setup.policies,
        fx=fx,
    )
    oracle = await asyncio.to_thread(expected, inputs)
    await asyncio.to_thread(_write_inputs, state.logs / "oracle-inputs.json", inputs)
    state.progress(
        f"oracle: {len(oracle.shipment_events):,} shipment events, "
        f"{len(oracle.drawdowns)} drawdowns, {len(oracle.claims)} claim events"
    )
    return oracle


async def _tear_down(state: _Run, followers: dict[str, Follower], client_id: str) -> None:
    """Stop the tasks, every process the run started, the followers; forget the session."""
    for task in state.background:
        task.cancel()
    await asyncio.gather(*state.background, return_exceptions=True)
    for child in state.every_child:
        await child.stop()
    for f in followers.values():
        await f.stop()
    with contextlib.suppress(Exception):
        forget_session(state.mqtt, client_id)


def _write_inputs(path: Path, inputs: Inputs) -> None:
    """What the oracle was given, so a failed run can be replayed offline."""
    doc = {
        "bookings": {k: b.model_dump(mode="json") for k, b in inputs.bookings.items()},
        "updates": {k: b.model_dump(mode="json") for k, b in inputs.updates.items()},
        "readings": {
            k: [r.model_dump(mode="json") for r in rs] for k, rs in inputs.readings.items()
        },
        "facilities": {k: f.model_dump(mode="json") for k, f in inputs.facilities.items()},
        "policies": {
            k: [p.model_dump(mode="json") for p in ps] for k, ps in inputs.policies.items()
        },
        "fx": [r.model_dump(mode="json") for r in inputs.fx],
    }
    path.write_text(json.dumps(doc) + "\n")


def _write_diff(path: Path, oracle: Outcomes, observed: Outcomes) -> None:
    """The shipment events that differ from the oracle's, for a person to read."""
    want, got = oracle.shipment_events, observed.shipment_events
    doc = {
        "missing": [json.loads(want[i]) for i in sorted(set(want) - set(got))],
        "unknown": [json.loads(got[i]) for i in sorted(set(got) - set(want))],
        "differ": [
            {"expected": json.loads(want[i]), "observed": json.loads(got[i])}
            for i in sorted(set(want) & set(got))
            if want[i] != got[i]
        ],
    }
    path.write_text(json.dumps(doc, indent=1) + "\n")


# --- setting up ---------------------------------------------------------------------------------


async def _plan_fleets(profile: Profile, seed: int, run_id: str) -> list[FleetPlan]:
    span = profile.publish_s * profile.speedup
    start = (datetime.now(UTC) - timedelta(seconds=span)).replace(microsecond=0)
    configs = [
        FleetConfig(
            start=start,
            trackers=profile.trackers_per_scenario,
            scenario=scenario,
            seed=seed + i,
            speedup=profile.speedup,
            duration_s=profile.publish_s,
            interval_s=profile.interval_s,
            alarm_interval_s=max(60, profile.interval_s // 3),
            incident_share=0.5,
            max_trackers_per_shipment=1,
            prefix=f"{scenario[:3]}{run_id}",
            status_messages=False,
            faults=FaultKnobs(malformed_rate=profile.malformed_rate),
        )
        for i, scenario in enumerate(profile.scenarios)
    ]
    return list(await asyncio.gather(*(asyncio.to_thread(plan_fleet, c) for c in configs)))


async def _publish_terms(
    kafka: KafkaSettings, bookings: list[ShipmentBooking]
) -> tuple[dict[str, Facility], dict[str, list[Policy]]]:
    """A credit line per shipment (so which shipments' events a facility saw first cannot change
    what it lends: the oracle compares identities), a policy per shipment, bookings, FX."""
    facilities = {
        f"fac-{b.shipment_id}": demo_facility(f"fac-{b.shipment_id}", [b.shipment_id])
        for b in bookings
    }
    policies = {
        b.shipment_id: [demo_policy(b.shipment_id, b.cargo.value, b.shipper)] for b in bookings
    }
    start = min(b.booked_at for b in bookings)
    await publish_rates(kafka, simulated_rates(7, start, count=1))
    producer = clients.producer(kafka)
    await producer.start()
    try:
        for f in facilities.values():
            await producer.send(
                FINANCE_FACILITIES.name, f.model_dump_json().encode(), key=f.facility_id.encode()
            )
        for ps in policies.values():
            for p in ps:
                await producer.send(
                    INSURANCE_POLICIES.name, p.model_dump_json().encode(), key=p.policy_id.encode()
                )
        for b in bookings:
            await producer.send(
                SHIPMENTS_REGISTRY.name, b.model_dump_json().encode(), key=b.shipment_id.encode()
            )
        await producer.flush()
    finally:
        await producer.stop()
    return facilities, policies


# --- faults -------------------------------------------------------------------------------------


async def _inject(state: _Run, injections: list[Injection], t0: float) -> None:
    holds: list[asyncio.Task[None]] = []
    scaling: asyncio.Task[None] | None = None
    outage: asyncio.Task[None] | None = None  # a cluster node down: never two at once
    for inj in injections:
        delay = t0 + inj.at_s - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)  # the fault's planned moment (a schedule, not a sync)
        state.progress(f"  [{time.monotonic() - t0:6.1f} s] {inj.fault.value}")
        if inj.fault is Fault.BRIDGE_KILL:
            state.bridge.kill()
            holds.append(asyncio.create_task(_restart_later(state, state.bridge, inj.hold_s)))
        elif inj.fault is Fault.WORKER_KILL:
            victim = state.workers[0]
            victim.kill()
            fresh = state.new_worker()
            state.workers[0] = fresh
            holds.append(asyncio.create_task(_restart_later(state, fresh, inj.hold_s)))
        elif inj.fault is Fault.SCALE_UP:
            if scaling is not None:  # the group goes 1 -> 2 -> 1, never to three
                await scaling
            extra = state.new_worker()
            state.workers.append(extra)
            scaling = asyncio.create_task(_scale_cycle(state, extra, inj.hold_s))
            holds.append(scaling)
        elif inj.fault is Fault.RIVAL_GROUP:
            holds.append(asyncio.create_task(_rival_group(state)))
        elif state.cluster is not None:
            if outage is not None:
                await outage
            outage = asyncio.create_task(_node_outage(state, inj))
            holds.append(outage)
        else:
            await _restart_broker(state)
    try:
        await asyncio.gather(*holds)
    finally:  # an interrupted run must not start processes after its clean-up
        for hold in holds:
            hold.cancel()


async def _restart_later(state: _Run, child: Child, hold_s: float) -> None:
    await asyncio.sleep(hold_s)  # how long the process stays dead (the fault's own duration)
    if child.running:  # an earlier fault's restart brought it back meanwhile
        return
    for _ in range(2):  # a start that fails is a crash; restart once more, as a supervisor would
        child.start()
        try:
            await child.ready()
            return
        except ChildFailedError as exc:
            if child.told_to_stop:  # killed by the next fault while it was starting
                return
            state.crashes.append(f"{child.name} failed to start")
            child.told_to_stop = True
            state.progress(f"  ! {exc}")


async def _scale_cycle(state: _Run, extra: Child, hold_s: float) -> None:
    extra.start()
    try:
        await extra.ready()
    except ChildFailedError as exc:
        if extra.told_to_stop:
            state.workers.remove(extra)
            return
        state.crashes.append(f"{extra.name} failed to start")
        extra.told_to_stop = True
        state.progress(f"  ! {exc}")
    else:
        await asyncio.sleep(hold_s)  # how long the group stays at two workers
        await extra.stop()
    state.workers.remove(extra)


async def _rival_group(state: _Run) -> None:
    """Start a worker of another app id on the run's cluster and wait for it to refuse."""
    rival = state.adopt(
        rival_worker(f"{state.app_id}-rival", state.logs, len(state.rival_exits) + 1)
    )
    rival.start()
    exit_code = await _exit_of(rival, RIVAL_WAIT_S)
    state.rival_exits.append(exit_code)
    state.progress(f"  rival worker group: exit {exit_code}")


RIVAL_WAIT_S = 120.0
"""How long a rival worker may take to refuse (it waits 5 s for the group to stop, and its
start waits out a restarting broker)."""


async def _exit_of(child: Child, timeout_s: float) -> int | None:
    """``child``'s exit status once it ends on its own; stopped (and that status) if it is
    still running after ``timeout_s``."""
    if child.proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            await asyncio.to_thread(child.proc.wait, timeout_s)
    return await child.stop()


async def _restart_broker(state: _Run) -> None:
    from devtools.services.kafka import Kafka

    service = Kafka(ServicesSettings())
    if not (await asyncio.to_thread(service.status)).running:
        state.progress("  broker restart skipped: Kafka is not run by `tradelane services`")
        return
    began = time.monotonic()
    await asyncio.to_thread(service.down)
    await asyncio.to_thread(service.up)
    state.broker_down_s.append(round(time.monotonic() - began, 1))
    state.progress(f"  broker back after {state.broker_down_s[-1]:.1f} s")


async def _node_outage(state: _Run, inj: Injection) -> None:
    """A node of the run's cluster, in turn, SIGKILLed (``broker_kill``) or stopped
    (``broker_restart``), then started again ``hold_s`` later and waited for."""
    cluster = state.cluster
    assert cluster is not None  # only a run with a cluster of its own has node outages
    index = state.broker_faults % len(cluster.nodes)
    state.broker_faults += 1
    node = cluster.nodes[index]
    began = time.monotonic()
    if inj.fault is Fault.BROKER_KILL:
        await asyncio.to_thread(cluster.kill_node, index)
    else:
        await asyncio.to_thread(node.down)
    state.progress(f"  {node.label} down ({inj.fault.value}); back in {inj.hold_s:.1f} s")
    await asyncio.sleep(inj.hold_s)  # how long the node stays down (the fault's own duration)
    await asyncio.to_thread(cluster.start_node, index)
    state.broker_down_s.append(round(time.monotonic() - began, 1))
    state.progress(f"  {node.label} back after {state.broker_down_s[-1]:.1f} s")


async def _watch(state: _Run) -> None:
    while True:
        state.note_crashes()
        await asyncio.sleep(1.0)  # a crash watch, not a synchronisation


# --- waiting for the pipeline -------------------------------------------------------------------


def _acked(manifests: list[Manifest]) -> set[tuple[str, int]]:
    out: set[tuple[str, int]] = set()
    for m in manifests:
        for d in m.devices:
            for lo, hi in d.sent_seq_ranges:
                out.update((d.device_id, s) for s in range(lo, hi + 1))
    return out


def _cleared_in_run(cleared_at: float, manifests: list[Manifest]) -> bool:
    ends = [
        datetime.fromisoformat(m.run["sim_end"].replace("Z", "+00:00")).timestamp()
        for m in manifests
    ]
    return cleared_at <= max(ends)


async def _readings_arrive(
    state: _Run,
    follower: Follower,
    devices: dict[str, str],
    acked: set[tuple[str, int]],
    profile: Profile,
) -> dict[str, list[IngestedReading]]:
    """This run's readings on ``tracker.readings`` per shipment, in partition order, once every
    acknowledged one is there (or the drain deadline passed)."""
    deadline = time.monotonic() + profile.drain_timeout_s
    parsed = 0
    by_shipment: dict[str, list[IngestedReading]] = defaultdict(list)
    seen: set[tuple[str, int]] = set()
    while True:
        await follower.poll()
        for record in follower.records[parsed:]:
            if record.key is None or record.key.decode() not in devices:
                continue
            item = IngestedReading.model_validate_json(record.value)
            by_shipment[devices[item.reading.device_id]].append(item)
            seen.add((item.reading.device_id, item.reading.seq))
        parsed = len(follower.records)
        if acked <= seen or time.monotonic() > deadline:
            return dict(by_shipment)
        state.note_crashes()


async def _fx_rates(kafka: KafkaSettings) -> list[FxRate]:
    from finance.rebuild import read_topic

    out = []
    for record in await read_topic(kafka, FX_RATES.name):
        with contextlib.suppress(ValidationError, TypeError):
            out.append(FxRate.model_validate_json(record.value or b""))
    return out


def _observe(
    followers: dict[str, Follower], shipments: set[str], facilities: set[str]
) -> tuple[Outcomes, list[Drawdown]]:
    out = Outcomes()
    for r in followers[SHIPMENTS_EVENTS.name].records:
        if r.key is not None and r.key.decode() in shipments:
            e = ShipmentEvent.model_validate_json(r.value)
            out.shipment_events[e.id] = e.model_dump_json()
    records = []
    for r in followers[FINANCE_EVENTS.name].records:
        if r.key is not None and r.key.decode() in facilities:
            f = FinanceEvent.model_validate_json(r.value)
            if isinstance(f.data, DrawdownExecuted):
                d = Drawdown(f.data.facility_id, f.data.shipment_id, f.data.milestone.value)
                out.drawdowns[f.data.drawdown_id] = d
                records.append(d)
    for r in followers[INSURANCE_CLAIMS.name].records:
        c = ClaimEvent.model_validate_json(r.value)
        if c.data.shipment_id in shipments:
            out.claims[c.id] = c.data.kind
    return out, records


async def _outcomes_arrive(
    state: _Run,
    followers: dict[str, Follower],
    oracle: Outcomes,
    shipments: set[str],
    facilities: set[str],
    profile: Profile,
    published_at: float,
) -> tuple[Outcomes, list[Drawdown], bool, float | None]:
    """Wait until the expected outcomes are out and the worker has committed all its input."""
    deadline = time.monotonic() + profile.drain_timeout_s
    complete_at: float | None = None
    while time.monotonic() < deadline:
        for f in followers.values():
            await f.poll(100)
        observed, records = _observe(followers, shipments, facilities)
        if (
            complete_at is None
            and set(oracle.drawdowns) <= set(observed.drawdowns)
            and set(oracle.claims) <= set(observed.claims)
        ):
            complete_at = time.monotonic()
        if complete_at is not None:
            lag = await _worker_lag(state)
            if lag and not any(lag.values()):
                for f in followers.values():
                    await f.drain()
                observed, records = _observe(followers, shipments, facilities)
                return observed, records, True, complete_at - published_at
        state.note_crashes()
    observed, records = _observe(followers, shipments, facilities)
    return observed, records, False, None


def _dead_letters(records: list[Any], devices: dict[str, str]) -> tuple[int, dict[str, int]]:
    count, bad = 0, defaultdict[str, int](int)
    for r in records:
        letter = read_dead_letter(r.value)
        if letter.mqtt_topic is None or not _device_ids(letter.mqtt_topic, devices):
            continue
        count += 1
        if letter.reason not in MALFORMED_REASONS:
            bad[letter.reason.value] += 1
    return count, dict(bad)


def _device_ids(topic: str, devices: dict[str, str]) -> list[str]:
    parts = topic.split("/")
    return [p for p in parts if p in devices]


async def _verify(
    kafka: KafkaSettings, facilities: dict[str, Facility]
) -> dict[str, tuple[bool, int, str]]:
    store = LedgerStore(kafka)
    out = {}
    for facility_id in sorted(facilities):
        result = await store.verify(facility_id)
        out[facility_id] = (result.ok, result.entries, str(result) if not result.ok else "")
    return out


async def _ledger_snapshot(
    kafka: KafkaSettings, facilities: dict[str, Facility]
) -> dict[str, set[tuple[int, str]]]:
    store = LedgerStore(kafka)
    out = {}
    for facility_id in sorted(facilities):
        stored = await store.read(facility_id)
        out[facility_id] = {(e.seq, e.hash) for e in stored.entries}
    return out


def _worker_groups(state: _Run) -> tuple[str, str]:
    """A worker's two consumer groups: the shipment loop's and the pledge loop's."""
    return state.app_id, pledge_group(state.app_id)


async def _worker_lag(state: _Run) -> dict[str, int]:
    """Per topic, what the worker's groups have not committed yet."""
    lag: dict[str, int] = {}
    for group in _worker_groups(state):
        for topic, n in (await group_lag(state.kafka, group)).items():
            lag[topic] = lag.get(topic, 0) + n
    return lag


async def _reset_and_reprocess(
    state: _Run,
    followers: dict[str, Follower],
    facilities: dict[str, Facility],
    observed: Outcomes,
    began_ms: int,
    profile: Profile,
) -> checks.Check:
    progress = state.progress
    before = await _ledger_snapshot(state.kafka, facilities)
    claims_before = set(observed.claims)
    for child in list(state.workers):
        await child.stop()
    state.workers.clear()
    reread = 0
    for group in _worker_groups(state):
        reread += await rewind_group(state.kafka, group, began_ms, state.app_id)
    progress(
        f"groups of {state.app_id} rewound to the run's first offsets: "
        f"{reread:,} records to re-read"
    )
    again = state.new_worker()
    state.workers.append(again)
    again.start()
    await again.ready()
    deadline = time.monotonic() + profile.drain_timeout_s
    while time.monotonic() < deadline:
        lag = await _worker_lag(state)
        if lag and not any(lag.values()):
            break
        state.note_crashes()
        await asyncio.sleep(1.0)  # polling the group's lag under a deadline
    for f in followers.values():
        await f.drain()
    shipments = {s for f in facilities.values() for s in f.pledged_shipments}
    after_observed, _ = _observe(followers, shipments, set(facilities))
    after = await _ledger_snapshot(state.kafka, facilities)
    verified = await _verify(state.kafka, facilities)
    return checks.reprocessed(
        before,
        after,
        claims_before,
        set(after_observed.claims),
        all(ok for ok, _, _ in verified.values()),
        reread,
    )
