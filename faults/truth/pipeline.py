"""``tradelane bench truth --pipeline``: the scenario-truth suite through the real pipeline.

For each scenario and delivery order the fleet is simulated (:mod:`faults.truth.stream`) under
ids of this run, its terms are published to the registries (a credit line per fleet pledging
every shipment, a policy per shipment, the bookings, FX rates), and a bridge and a worker are
started as child processes (:mod:`devtools.children`, the fault suite's argv). The order
(:mod:`faults.truth.orders`) is then published over MQTT as the ``tradelane-gateway`` principal
(readings, statuses, last wills, each stamped with its processing time, which the bridge takes
as the receive time: ``--replay-clock``) and on ``shipments.registry`` (booking updates),
segment by segment as :mod:`faults.truth.feed` cuts it, each segment once the pipeline has
taken the one before: every message forwarded by the bridge, and the worker's consumer groups
committed past the partitions' ends as of then, once per hop inside the worker. A day
tick on ``finance.commands`` closes the run's days as the replay's final tick does. What the
worker wrote for the fleet (``shipments.events``, ``finance.events``, ``insurance.claims``) is
read back and scored with :mod:`faults.truth.compare` exactly as the pure replay is, and compared
with the pure replay of the same order and of the ideal order (:mod:`faults.truth.differences`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from devices.plan import plan_fleet
from devtools.children import Child, bridge, worker
from faults.followers import Follower
from faults.truth.differences import differences
from faults.truth.feed import Path as FeedPath
from faults.truth.feed import colocating_prefix, path_of, segments, siblings
from faults.truth.orders import ORDERS, Delivery
from faults.truth.replay import (
    FX_SEED,
    Cache,
    Outputs,
    Terms,
    finance_causes,
    replay,
    terms_for,
    utc,
)
from faults.truth.scoring import Row, reference, score, table
from faults.truth.stream import Fleet, Message, fleet_config, simulate
from finance.fx_feed import simulated_rates
from finance.fx_publisher import publish_rates
from finance.rebuild import read_topic
from ingest.bridge import RECEIVED_AT_PROPERTY
from streams.app import pledge_group, shipment_topic
from streams.hotpath import BOOKING
from tradelane.contracts import ClaimEvent, FinanceCommand, FxRate, ShipmentEvent
from tradelane.contracts.finance import DayTick, FinanceEvent, finance_command_type
from tradelane.principals import MQTT_GATEWAY as GATEWAY
from tradelane.settings import KafkaSettings, MqttSettings
from tradelane.topics import (
    FINANCE_COMMANDS,
    FINANCE_EVENTS,
    FINANCE_FACILITIES,
    FX_RATES,
    INSURANCE_CLAIMS,
    INSURANCE_POLICIES,
    KAFKA_TOPICS,
    SHIPMENTS_EVENTS,
    SHIPMENTS_REGISTRY,
    TRACKER_READINGS,
    TRACKER_STATUS,
)
from transport import kafka as clients
from transport.admin import ensure_topics
from transport.mqtt import forget_session, make_client

SEGMENT_TIMEOUT_S = 120.0
"""How long the pipeline may take a segment before the run says so and goes on."""
BOOKING_TIMEOUT_S = 30.0
"""How long the worker may take to route a booking update to its shipment's partition."""
SHIPMENT_TOPIC_SUFFIX = shipment_topic("")
"""The worker's internal topic of a shipment's inputs ends with this (``<app id>-by-shipment``)."""
SOURCE = "/tradelane/bench/truth"
GROUP_WAIT_S = 900.0
"""How long the run's worker waits for another worker group on the cluster to stop (one group
runs at a time, see docs/reliability.md): a test or bench of someone else's may hold it."""


@dataclass(frozen=True, slots=True)
class Case:
    """One (scenario, order): its fleet under this run's ids, the deliveries and the terms."""

    scenario: str
    order: str
    fleet: Fleet
    deliveries: list[Delivery]
    terms: Terms
    causes: dict[int, str]
    """Publish index → shipment of the messages whose step feeds the credit line."""

    @property
    def key(self) -> str:
        return f"{self.scenario}/{self.order}"

    @property
    def facility_id(self) -> str:
        return self.terms.facility.facility_id


def plan_case(scenario: str, order: str, seed: int, trackers: int, run_id: str) -> Case:
    """The fleet of ``bench truth`` under a prefix of this run that puts each shipment's
    trackers on one partition of ``tracker.readings`` (see :mod:`faults.truth.feed`)."""
    base = replace(
        fleet_config(scenario, seed, trackers), prefix=f"{scenario[:3]}{order[:2]}{run_id}"
    )
    prefix = colocating_prefix(base, siblings(plan_fleet(base)), TRACKER_READINGS.partitions)
    fleet = simulate(replace(base, prefix=prefix))
    deliveries = ORDERS[order](fleet.messages, seed)
    terms = terms_for(fleet, f"fac-{prefix}")
    cache: Cache = {}
    replay(fleet, deliveries, cache, terms)
    return Case(scenario, order, fleet, deliveries, terms, finance_causes(cache))


def plan_cases(
    scenarios: Sequence[str], orders: Sequence[str], seed: int, trackers: int, run_id: str
) -> list[Case]:
    """Every (scenario, order), planned in parallel processes (the CPUs, at most 2)."""
    pairs = [(s, o) for s in scenarios for o in orders]
    workers = min(2, os.cpu_count() or 1, len(pairs))
    if workers <= 1:
        return [plan_case(s, o, seed, trackers, run_id) for s, o in pairs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(plan_case, s, o, seed, trackers, run_id) for s, o in pairs]
        return [f.result() for f in futures]


def with_fx(case: Case, fx: tuple[FxRate, ...]) -> Case:
    return replace(case, terms=replace(case.terms, fx=fx))


# --- what the pipeline wrote --------------------------------------------------------------------


@dataclass
class Observed:
    """This run's records on the followed topics, by case, parsed as they arrive."""

    devices: dict[str, str]
    shipments: dict[str, str]
    facilities: dict[str, str]
    forwarded: Counter[str] = field(default_factory=Counter)
    events: dict[str, dict[str, ShipmentEvent]] = field(default_factory=lambda: defaultdict(dict))
    claims: dict[str, list[ClaimEvent]] = field(default_factory=lambda: defaultdict(list))
    finance: dict[str, list[FinanceEvent]] = field(default_factory=lambda: defaultdict(list))
    parsed: Counter[str] = field(default_factory=Counter)
    routed_bookings: Counter[str] = field(default_factory=Counter)
    """Booking records the worker routed to a shipment's partition, per shipment."""

    def take(self, topic: str, records: list[Any]) -> None:
        """Parse the records of ``topic`` not parsed yet (``records`` only grows)."""
        for r in records[self.parsed[topic] :]:
            key = r.key.decode(errors="replace") if r.key is not None else ""
            if topic in (TRACKER_READINGS.name, TRACKER_STATUS.name):
                if key in self.devices:
                    self.forwarded[self.devices[key]] += 1
            elif topic == SHIPMENTS_EVENTS.name and key in self.shipments:
                e = ShipmentEvent.model_validate_json(r.value)
                self.events[self.shipments[key]].setdefault(e.id, e)
            elif topic == FINANCE_EVENTS.name and key in self.facilities:
                self.finance[self.facilities[key]].append(FinanceEvent.model_validate_json(r.value))
            elif topic.endswith(SHIPMENT_TOPIC_SUFFIX):
                if key in self.shipments and (r.value or b"")[:1] == BOOKING:
                    self.routed_bookings[key] += 1
            elif topic == INSURANCE_CLAIMS.name:
                c = ClaimEvent.model_validate_json(r.value)
                if c.data.shipment_id in self.shipments:
                    self.claims[self.shipments[c.data.shipment_id]].append(c)
        self.parsed[topic] = len(records)

    def outputs(self, case: Case) -> Outputs:
        """The case's outputs in the replay's shape (the horizon is the replay's)."""
        out = Outputs(case.terms.facility)
        out.events = dict(self.events[case.key])
        out.claims = list(self.claims[case.key])
        out.finance = list(self.finance[case.key])
        if case.fleet.messages:
            out.horizon = utc(max(m.event_at for m in case.fleet.messages))
        return out


Mark = dict[tuple[str, TopicPartition], int]
"""(consumer group, partition) → the offset it must have committed."""
HOPS = 3
"""Kafka hops inside the worker: the shipment loop's input to its routing topic, to the pledge
loop's routing topic, to the outputs. A mark reached once per hop covers what the records
before the first mark caused."""


class LagProbe:
    """How far the worker's consumer groups have committed, through clients kept open for the
    whole run."""

    def __init__(self, kafka: KafkaSettings, app_id: str) -> None:
        self.groups = (app_id, pledge_group(app_id))
        self.admin = clients.admin(kafka)
        self.consumer = clients.consumer(kafka)

    async def start(self) -> None:
        await self.admin.start()
        await self.consumer.start()

    async def stop(self) -> None:
        await self.consumer.stop()
        await self.admin.close()

    async def _committed(self) -> dict[tuple[str, TopicPartition], int] | None:
        """Each group's committed offsets (None until both have committed)."""
        out: dict[tuple[str, TopicPartition], int] = {}
        for group in self.groups:
            committed = await self.admin.list_consumer_group_offsets(group)
            if not committed:
                return None
            out.update(((group, tp), max(meta.offset, 0)) for tp, meta in committed.items())
        return out

    async def mark(self) -> Mark | None:
        """The end of every partition the groups read, now: what they must commit past."""
        committed = await self._committed()
        if committed is None:
            return None
        ends = await self.consumer.end_offsets(list({tp for _, tp in committed}))
        return {(group, tp): ends[tp] for group, tp in committed}

    async def reached(self, mark: Mark) -> bool:
        """Whether the groups have committed up to ``mark`` (records written since do not
        count: the topics are shared, another run's traffic must not hold this one up)."""
        committed = await self._committed()
        return committed is not None and all(committed.get(k, 0) >= end for k, end in mark.items())


class Publisher:
    """One MQTT connection as the gateway principal; QoS 1, in order."""

    def __init__(self, settings: MqttSettings, client_id: str) -> None:
        self.settings = settings.as_principal(GATEWAY)
        self.client = make_client(self.settings, client_id)
        self.client.max_inflight_messages_set(200)
        self._connected = threading.Event()
        self.client.on_connect = lambda *_args: self._connected.set()

    def connect(self) -> None:
        self.client.connect(self.settings.host, self.settings.port)
        self.client.loop_start()
        if not self._connected.wait(30):
            raise RuntimeError("the MQTT broker did not accept the gateway's connection")

    def publish(self, items: list[tuple[str, bytes, float]], timeout_s: float = 60.0) -> None:
        """Publish in order, each message stamped with its processing time (the bridge takes
        it as the receive time, ``--replay-clock``), and return once the broker acknowledged
        every message."""
        infos = []
        for topic, payload, processed_at in items:
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.UserProperty = (RECEIVED_AT_PROPERTY, utc(processed_at).isoformat())
            infos.append(self.client.publish(topic, payload, qos=1, properties=props))
        for info in infos:
            info.wait_for_publish(timeout_s)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def mqtt_message(delivery: Delivery) -> tuple[str, bytes, float]:
    """What the tracker published (its reading, or its status: a last will has no ``ts``) and
    when the order processes it."""
    processed_at, msg = delivery
    body = msg.reading if msg.reading is not None else msg.status
    assert body is not None
    return msg.topic, body.model_dump_json().encode(), processed_at


# --- one run ------------------------------------------------------------------------------------


@dataclass
class Run:
    """The moving parts of one pipeline run."""

    kafka: KafkaSettings
    observed: Observed
    followers: dict[str, Follower]
    lag: LagProbe
    publisher: Publisher
    children: list[Child]
    producer: Any
    notes: list[str] = field(default_factory=list)

    async def poll(self) -> None:
        """Whatever arrived on the followed topics, parsed."""
        for name, follower in self.followers.items():
            await follower.poll(20)
            self.observed.take(name, follower.records)
        for child in self.children:
            code = child.crashed()
            if code is not None:
                raise RuntimeError(f"{child.name} ended on its own (exit {code}):\n{child.tail()}")

    async def taken(self, case: Case, forwarded: int, timeout_s: float = SEGMENT_TIMEOUT_S) -> bool:
        """Wait until the bridge forwarded ``forwarded`` of the case's MQTT messages and the
        worker has processed them and what they caused (a deadline, not a sleep)."""
        deadline = time.monotonic() + timeout_s
        mark: Mark | None = None
        hops = 0
        while time.monotonic() < deadline:
            await self.poll()
            if self.observed.forwarded[case.key] < forwarded:
                continue
            if mark is None:
                mark = await self.lag.mark()
            elif await self.lag.reached(mark):
                hops += 1
                if hops == HOPS:
                    return True
                mark = await self.lag.mark()
        self.notes.append(f"{case.key}: the pipeline had not taken a segment in {timeout_s:.0f} s")
        return False

    async def settled(self, case: Case, timeout_s: float = SEGMENT_TIMEOUT_S) -> None:
        """Everything taken, then the case's outputs unchanged over three polls in a row."""
        deadline = time.monotonic() + timeout_s
        if not await self.taken(case, 0, timeout_s):
            return
        quiet, last = 0, -1
        while quiet < 3 and time.monotonic() < deadline:
            await self.poll()
            o = self.observed
            size = len(o.events[case.key]) + len(o.claims[case.key]) + len(o.finance[case.key])
            quiet = quiet + 1 if size == last else 0
            last = size
        if quiet < 3:
            self.notes.append(f"{case.key}: outputs still changing after {timeout_s:.0f} s")


async def feed(run: Run, case: Case) -> None:
    """Publish ``case``'s deliveries segment by segment, then close its days."""
    forwarded = 0
    for segment in segments(case.deliveries, case.causes):
        if path_of(segment[0]) is FeedPath.REGISTRY:
            await _booking_update(run, case, segment[0][1])
            continue
        await asyncio.to_thread(run.publisher.publish, [mqtt_message(d) for d in segment])
        forwarded += len(segment)
        await run.taken(case, forwarded)
    horizon = max(m.event_at for m in case.fleet.messages)
    tick = DayTick(facility_id=case.facility_id, at=utc(horizon))
    command = FinanceCommand(
        id=f"truth-tick-{case.facility_id}-{int(horizon)}",
        source=SOURCE,
        type=finance_command_type(tick.kind),
        subject=case.facility_id,
        time=tick.at,
        data=tick,
    )
    await run.producer.send_and_wait(
        FINANCE_COMMANDS.name, command.model_dump_json().encode(), key=case.facility_id.encode()
    )
    await run.settled(case)


async def _booking_update(run: Run, case: Case, msg: Message) -> None:
    """A booking republished at customs clearance; the next segment waits until the worker
    has routed it to the shipment's partition (ahead of the readings that follow it)."""
    assert msg.booking is not None
    routed = run.observed.routed_bookings[msg.shipment_id]
    await run.producer.send_and_wait(
        SHIPMENTS_REGISTRY.name,
        msg.booking.model_dump_json().encode(),
        key=msg.shipment_id.encode(),
    )
    deadline = time.monotonic() + BOOKING_TIMEOUT_S
    while run.observed.routed_bookings[msg.shipment_id] <= routed:
        if time.monotonic() > deadline:
            run.notes.append(f"{case.key}: booking update of {msg.shipment_id} not routed")
            return
        await run.poll()


async def publish_fx(kafka: KafkaSettings) -> tuple[FxRate, ...]:
    """The simulated opening rates, stamped now so that they are the latest a worker holds,
    and the rates every worker then holds (the latest per pair on ``fx.rates``)."""
    rates = simulated_rates(FX_SEED, datetime.now(UTC).replace(microsecond=0), count=1)
    await publish_rates(kafka, rates)
    held: dict[str, FxRate] = {}
    for record in await read_topic(kafka, FX_RATES.name, [f"{r.base}/{r.quote}" for r in rates]):
        with contextlib.suppress(ValueError):
            rate = FxRate.model_validate_json(record.value or b"")
            key = f"{rate.base}/{rate.quote}"
            if key not in held or rate.as_of >= held[key].as_of:
                held[key] = rate
    return tuple(held[k] for k in sorted(held))


async def publish_terms(producer: Any, cases: list[Case]) -> None:
    """Each case's credit line, policies and bookings, before the worker starts."""
    for case in cases:
        f = case.terms.facility
        await producer.send(
            FINANCE_FACILITIES.name, f.model_dump_json().encode(), key=f.facility_id.encode()
        )
        for p in case.terms.policies.values():
            await producer.send(
                INSURANCE_POLICIES.name, p.model_dump_json().encode(), key=p.policy_id.encode()
            )
        for b in case.fleet.bookings:
            await producer.send(
                SHIPMENTS_REGISTRY.name, b.model_dump_json().encode(), key=b.shipment_id.encode()
            )
    await producer.flush()


FOLLOWED = (TRACKER_READINGS, TRACKER_STATUS, SHIPMENTS_EVENTS, FINANCE_EVENTS, INSURANCE_CLAIMS)


def observed_for(cases: list[Case]) -> Observed:
    """An empty :class:`Observed` that knows which ids belong to which case."""
    devices, shipments, facilities = {}, {}, {}
    for case in cases:
        for d in case.fleet.manifest.devices:
            devices[d.device_id] = case.key
        for b in case.fleet.bookings:
            shipments[b.shipment_id] = case.key
        facilities[case.facility_id] = case.key
    return Observed(devices, shipments, facilities)


async def run_cases(
    cases: list[Case],
    run_id: str,
    logs: Path,
    kafka: KafkaSettings,
    mqtt: MqttSettings,
    progress: Callable[[str], None] = print,
) -> tuple[dict[str, Outputs], list[str]]:
    """Feed every case through one bridge and one worker of this run; what each produced."""
    app_id = f"tradelane-streams-truth-{run_id}"
    client_id = f"truth-{run_id}"
    await asyncio.to_thread(logs.mkdir, parents=True, exist_ok=True)
    await ensure_topics(kafka, KAFKA_TOPICS)
    began_ms = int(time.time() * 1000)
    producer = clients.producer(kafka)
    await producer.start()
    children = [
        bridge(client_id, logs, "--replay-clock"),
        worker(app_id, logs, 1, "worker", "--other-group-wait", str(int(GROUP_WAIT_S))),
    ]
    followers = {t.name: Follower(kafka, t.name) for t in FOLLOWED}
    publisher = Publisher(mqtt, f"{client_id}-gw")
    lag = LagProbe(kafka, app_id)
    run = Run(kafka, observed_for(cases), followers, lag, publisher, children, producer)
    try:
        await publish_terms(producer, cases)
        for f in followers.values():
            await f.start(began_ms)
        await lag.start()
        for child in children:
            child.start()
        for child in children:
            await child.ready(GROUP_WAIT_S + 90)
        routed = Follower(kafka, shipment_topic(app_id))  # the worker made it when it started
        followers[routed.topic] = routed
        await routed.start(began_ms)
        await asyncio.to_thread(publisher.connect)
        progress(f"run {run_id}: bridge and worker up ({app_id}); logs in {logs}")
        for case in cases:
            began = time.monotonic()
            await feed(run, case)
            progress(
                f"  {case.key}: {len(case.deliveries):,} messages through the pipeline in "
                f"{time.monotonic() - began:.1f} s"
            )
        return {c.key: run.observed.outputs(c) for c in cases}, run.notes
    finally:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(publisher.close)
        for child in children:
            await child.stop()
        for f in followers.values():
            with contextlib.suppress(Exception):
                await f.stop()
        with contextlib.suppress(Exception):
            await lag.stop()
        await producer.stop()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(forget_session, mqtt, client_id)


# --- scoring and the report ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Compared:
    """One case: the pipeline's row, the pure replay's row, and how the outputs differ."""

    pipeline: Row
    replay: Row
    vs_replay: list[str]
    """Differences from the pure replay of the same order."""
    vs_ideal: list[str]
    """Differences from the pure replay of the ideal order."""
    replayed: Outputs
    """The pure replay's outputs for the same order."""

    def as_json(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline.as_json(),
            "replay": self.replay.as_json(),
            "vs_replay": self.vs_replay,
            "vs_ideal": self.vs_ideal,
        }


def compare_case(case: Case, got: Outputs, seed: int) -> Compared:
    """Score the pipeline's outputs as the pure replay's are scored, and diff them."""
    ideal = replay(case.fleet, ORDERS["ideal"](case.fleet.messages, seed), terms=case.terms)
    same = ideal if case.order == "ideal" else replay(case.fleet, case.deliveries, terms=case.terms)
    ref = reference(case.fleet, case.terms)
    return Compared(
        pipeline=score(ref, case.scenario, case.order, got, ideal),
        replay=score(ref, case.scenario, case.order, same, ideal),
        vs_replay=differences(same, got),
        vs_ideal=differences(ideal, got),
        replayed=same,
    )


def verdict(diffs: list[str]) -> str:
    return "identical" if not diffs else f"{len(diffs)} differences"


def report(results: list[Compared], limit: int = 12) -> str:
    """The pure replay's table, the pipeline's table, and the differences per case."""
    lines = ["pure replay (same ids and terms):", table([r.replay for r in results]), ""]
    lines += ["pipeline (MQTT -> bridge -> Kafka -> worker):", table([r.pipeline for r in results])]
    lines.append("")
    for r in results:
        where = f"{r.pipeline.scenario}/{r.pipeline.order}"
        for name, diffs in (
            ("replay of the same order", r.vs_replay),
            ("ideal replay", r.vs_ideal),
        ):
            lines.append(f"{where}: pipeline vs {name}: {verdict(diffs)}")
            lines += [f"    {d}" for d in diffs[:limit]]
            if len(diffs) > limit:
                lines.append(f"    ... {len(diffs) - limit} more (--json has them all)")
    return "\n".join(lines)


def bench_truth_pipeline(
    scenarios: Sequence[str],
    seed: int,
    trackers: int,
    orders: Sequence[str],
    logs: Path,
    json_path: Path | None = None,
    interleave: bool = False,
) -> list[Compared]:
    """Plan, run through the pipeline, score, print; write the figures as JSON when asked.
    ``interleave``: no cut between different shipments' causes (the worker's batches decide
    which reaches the credit line first, as partition scheduling does in production)."""
    kafka, mqtt = KafkaSettings(), MqttSettings()
    print(
        f"bench truth --pipeline: scenarios {', '.join(scenarios)}; orders {', '.join(orders)}; "
        f"seed {seed}, {trackers} trackers (real MQTT, bridge, Kafka, worker) ...",
        flush=True,
    )
    began = time.perf_counter()
    run_id = secrets.token_hex(3)
    cases = plan_cases(scenarios, orders, seed, trackers, run_id)
    fx = asyncio.run(publish_fx(kafka))
    cases = [with_fx(c, fx) for c in cases]
    if interleave:
        cases = [replace(c, causes={}) for c in cases]
    outputs, notes = asyncio.run(run_cases(cases, run_id, logs, kafka, mqtt))
    results = [compare_case(c, outputs[c.key], seed) for c in cases]
    seconds = time.perf_counter() - began
    print(report(results))
    for note in notes:
        print(f"note: {note}")
    same = sum(1 for r in results if not r.vs_replay)
    print(
        f"\n{len(results)} runs in {seconds:.1f} s, {same} identical to the pure replay of their "
        f"order (load average {os.getloadavg()[0]:.2f})"
    )
    if json_path is not None:
        doc = {
            "bench": "truth-pipeline",
            "seed": seed,
            "trackers": trackers,
            "scenarios": list(scenarios),
            "orders": list(orders),
            "interleave": interleave,
            "seconds": round(seconds, 1),
            "loadavg_1m": round(os.getloadavg()[0], 2),
            "notes": notes,
            "cases": [r.as_json() for r in results],
        }
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"figures written to {json_path}")
    return results
