"""The simulator's shell: plan, publish bookings, connect, drive the engine by the wall clock.

:func:`run_fleet` is the one entry point for the CLI, the benchmark and ``tradelane demo``. It
owns all I/O: the wall clock (mapped to simulated time by :class:`FleetClock`), the MQTT
publisher, the optional Kafka booking producer and the progress callback. Everything it
publishes comes from the pure :class:`FleetEngine`.

The loop advances the engine to "now" in chunks and hands the messages to the publisher, but
only while the publisher's backlog is below a high-water mark: if the broker cannot keep up,
simulated time lags behind the clock (reported as ``lag_s``) instead of memory growing without
bound. Timestamps are simulated times either way, so the readings do not change.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from devices.bookings import BookingPublisher
from devices.config import ConnectionMode, FleetConfig
from devices.engine import FleetClock, FleetEngine
from devices.manifest import AckLedger, Manifest, build_manifest, iso
from devices.metrics import SimulatorMetrics
from devices.plan import FleetPlan, plan_fleet, utc, with_customs
from devices.publisher import FleetPublisher, Provision
from tradelane.settings import KafkaSettings, MqttSettings

CHUNK = 256
"""Messages produced per engine step before yielding to the event loop (socket I/O)."""


@dataclass(frozen=True, slots=True)
class FleetProgress:
    """A snapshot for the progress line (``tradelane simulate``) or the demo's display."""

    elapsed_s: float
    sim_time: datetime
    trackers: int
    alive: int
    online: int
    readings_generated: int
    """Readings measured so far (sent, buffered in devices, in flight, or lost)."""
    readings_sent: int
    """Readings PUBACKed by the broker so far."""
    readings_per_s: float
    buffered: int
    backlog: int
    lag_s: float
    duplicates_sent: int
    malformed_sent: int


@dataclass(frozen=True, slots=True, repr=False)
class FleetReport:
    """What a run did: the manifest plus wall-clock and CPU figures."""

    manifest: Manifest
    wall_s: float
    cpu_s: float
    readings_per_s: float
    bookings_sent: int
    """Bookings published before the first reading."""
    booking_updates_sent: int
    """Whole bookings published again when a shipment cleared customs."""

    def __repr__(self) -> str:
        # asyncio may repr the task holding this report (Python 3.11 does, on exit from
        # asyncio.run); the manifest's full repr would take seconds for 10,000 trackers.
        t = self.manifest.totals
        return (
            f"FleetReport(trackers={t.trackers}, readings_sent={t.readings_sent}, "
            f"wall_s={self.wall_s:.1f})"
        )


ProgressCallback = Callable[[FleetProgress], None]


def run_info(config: FleetConfig, mqtt_settings: MqttSettings) -> dict[str, Any]:
    """The config as JSON-able data (enough to replay the run) plus where it went."""
    info: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = dataclasses.asdict(value)
        elif f.name == "device_secret":
            value = None if value is None else "(set)"
        elif hasattr(value, "value"):
            value = value.value
        info[f.name] = value
    info["id_prefix"] = config.id_prefix
    info["mqtt_url"] = mqtt_settings.url
    return info


@dataclass(slots=True)
class _Run:
    """What one :func:`run_fleet` drives, shared by its steps."""

    config: FleetConfig
    engine: FleetEngine
    ledger: AckLedger
    publisher: FleetPublisher
    bookings: BookingPublisher | None
    initial_bookings: int
    """Bookings published before the first reading."""
    background: list[asyncio.Task[int]] = field(default_factory=list)
    """Booking updates still being published (awaited before the publishers close)."""


async def run_fleet(
    config: FleetConfig,
    mqtt_settings: MqttSettings,
    kafka_settings: KafkaSettings | None,
    stop: asyncio.Event,
    progress: ProgressCallback | None = None,
    *,
    mqtt5: bool = True,
    progress_interval_s: float = 1.0,
    drain_timeout_s: float = 15.0,
    plan: FleetPlan | None = None,
    freeze_gc: bool = False,
    provision: Provision | None = None,
    metrics: SimulatorMetrics | None = None,
) -> FleetReport:
    """Simulate ``config``'s fleet until ``stop`` is set, ``duration_s`` wall seconds have
    passed, ``until`` is reached in simulated time, or every tracker has been retired or died.

    Bookings go to ``shipments.registry`` first when ``kafka_settings`` is given (``None``
    skips Kafka entirely). On the way out it delivers what is in flight (up to
    ``drain_timeout_s``), announces every running tracker ``offline`` and disconnects cleanly.

    ``freeze_gc`` moves everything alive after planning into the garbage collector's permanent
    generation (``gc.freeze()``): the plan of 10,000 trackers is millions of long-lived objects
    that every full collection would otherwise walk again, stalling the loop for a good part of
    a second every few seconds. It is process-wide, so only entry points that own the process
    (the CLI, the benchmark) turn it on.

    ``provision`` lets the broker accept the fleet's devices when the settings name no login
    (the local services' keyring); without it, such a fleet connects with no password.
    ``metrics`` reads the run's ack ledger, engine and publisher when scraped.
    """
    loop = asyncio.get_running_loop()
    cpu0 = time.process_time()
    wall0 = time.monotonic()
    if plan is None:
        plan = await loop.run_in_executor(None, plan_fleet, config)
    if freeze_gc:
        gc.collect()
        gc.freeze()
    engine = FleetEngine(plan)
    ledger = AckLedger(len(plan.devices))
    bookings, initial_bookings = await _open_bookings(config, kafka_settings, plan)
    publisher = FleetPublisher(
        config, mqtt_settings, engine.trackers, ledger.on_ack, mqtt5=mqtt5, provision=provision
    )
    run = _Run(config, engine, ledger, publisher, bookings, initial_bookings)
    if metrics is not None:
        metrics.watch(ledger, engine, publisher)
    clock_ref: list[FleetClock] = []

    def sim_now() -> float:
        return clock_ref[0].sim_at(loop.time() - t0) if clock_ref else config.start_ts

    t0 = loop.time()
    try:
        await publisher.start(sim_now)
        t0 = loop.time()
        clock = FleetClock(config.start_ts, config.speedup, time.time(), config.realtime_cap)
        clock_ref.append(clock)
        await _pump(run, clock, t0, stop, progress, progress_interval_s)
        await _wind_down(run, drain_timeout_s)
    finally:
        await publisher.close()
        if bookings is not None:
            await bookings.stop()
    wall = loop.time() - t0
    setup_s = t0 - wall0 if t0 > wall0 else 0.0
    return _report(run, plan, mqtt_settings, wall, setup_s, cpu0)


async def _open_bookings(
    config: FleetConfig, kafka_settings: KafkaSettings | None, plan: FleetPlan
) -> tuple[BookingPublisher | None, int]:
    """Start the booking publisher and send every booking, before the first reading (so the
    stream processors know each shipment when its readings arrive); none without Kafka."""
    if kafka_settings is None:
        return None, 0
    bookings = BookingPublisher(kafka_settings, client_id=f"{config.id_prefix}-bookings")
    await bookings.start()
    return bookings, await bookings.publish(s.booking for s in plan.shipments)


async def _pump(
    run: _Run,
    clock: FleetClock,
    t0: float,
    stop: asyncio.Event,
    progress: ProgressCallback | None,
    progress_interval_s: float,
) -> None:
    """Advance the engine with the clock and hand its messages to the publisher, holding back
    while the publisher's backlog is over its high-water mark, until a stop condition."""
    loop = asyncio.get_running_loop()
    config, engine, ledger, publisher = run.config, run.engine, run.ledger, run.publisher
    until_ts = config.until.timestamp() if config.until is not None else None
    high_water = max(5000, 4 * sum(c.window for c in publisher.connections))
    last_tick, last_sent = t0, 0
    while not stop.is_set():
        elapsed = loop.time() - t0
        if config.duration_s is not None and elapsed >= config.duration_s:
            break
        target = clock.sim_at(elapsed)
        if until_ts is not None:
            target = min(target, until_ts)
        room = high_water - publisher.backlog
        if room > 0:
            msgs = engine.advance(target, limit=min(room, CHUNK))
            if msgs:
                ledger.count_submitted(msgs)
                publisher.submit(msgs)
        if run.bookings is not None:
            _publish_cleared(run, run.bookings)
        now = loop.time()
        if progress is not None and now - last_tick >= progress_interval_s:
            rate = (ledger.readings_acked - last_sent) / (now - last_tick)
            last_tick, last_sent = now, ledger.readings_acked
            progress(_snapshot(engine, publisher, ledger, now - t0, target, rate))
        due = engine.next_due()
        if due is None or (until_ts is not None and engine.now >= until_ts and due > until_ts):
            break
        if due > target:  # caught up: sleep until the next tracker is due (or a tick)
            wake = clock.elapsed_for(due) - (loop.time() - t0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(max(wake, 0.001), 0.05))
        elif room <= 0:
            await asyncio.sleep(0.001)  # let acks come in
        else:
            await asyncio.sleep(0)


def _publish_cleared(run: _Run, bookings: BookingPublisher) -> None:
    """Publish again, in the background, the bookings of shipments that cleared customs."""
    cleared = run.engine.customs_cleared(run.engine.now)
    if cleared:
        run.background.append(
            asyncio.create_task(
                bookings.publish(
                    with_customs(s.booking, s.voyage.customs_cleared_at) for s in cleared
                )
            )
        )


async def _wind_down(run: _Run, drain_timeout_s: float) -> None:
    """Release what delivery faults still hold, deliver what is in flight, say goodbye."""
    sim_end = run.engine.now
    finale = run.engine.finish()
    run.ledger.count_submitted(finale)
    run.publisher.submit(finale)
    await run.publisher.drain(drain_timeout_s)
    await run.publisher.say_goodbye(sim_end)
    if run.background:
        await asyncio.gather(*run.background)


def _report(
    run: _Run,
    plan: FleetPlan,
    mqtt_settings: MqttSettings,
    wall: float,
    setup_s: float,
    cpu0: float,
) -> FleetReport:
    """The run's manifest (with each tracker's MQTT client id) and its figures (CPU time
    counted from ``cpu0`` up to now, building the manifest included)."""
    config, engine, ledger, bookings = run.config, run.engine, run.ledger, run.bookings
    updates = bookings.sent - run.initial_bookings if bookings else 0
    info = run_info(config, mqtt_settings)
    info.update(
        sim_start=iso(config.start_ts),
        sim_end=iso(engine.now),
        wall_s=round(wall, 3),
        setup_s=round(setup_s, 3),
        bookings_sent=run.initial_bookings,
        booking_updates_sent=updates,
    )
    client_ids = [c.client_id for c in run.publisher.connections]
    route = (
        [client_ids[i] for i in range(len(engine.trackers))]
        if config.connection_mode is ConnectionMode.PER_DEVICE
        else [client_ids[i % len(client_ids)] for i in range(len(engine.trackers))]
    )
    manifest = build_manifest(plan, engine, ledger, info, route)
    return FleetReport(
        manifest=manifest,
        wall_s=wall,
        cpu_s=time.process_time() - cpu0,
        readings_per_s=ledger.readings_acked / wall if wall > 0 else 0.0,
        bookings_sent=run.initial_bookings,
        booking_updates_sent=updates,
    )


def _snapshot(
    engine: FleetEngine,
    publisher: FleetPublisher,
    ledger: AckLedger,
    elapsed: float,
    target: float,
    rate: float,
) -> FleetProgress:
    trackers = engine.trackers
    alive = [t.index for t in trackers if t.alive]
    online = sum(1 for i in alive if publisher.device_online(i))
    return FleetProgress(
        elapsed_s=elapsed,
        sim_time=utc(engine.now),
        trackers=len(trackers),
        alive=len(alive),
        online=online,
        readings_generated=sum(t.generated for t in trackers),
        readings_sent=ledger.readings_acked,
        readings_per_s=rate,
        buffered=engine.buffered,
        backlog=publisher.backlog,
        lag_s=max(0.0, target - engine.now),
        duplicates_sent=ledger.duplicates_acked,
        malformed_sent=ledger.malformed_acked,
    )
