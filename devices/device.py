"""One simulated tracker: measures at its reporting times, buffers out of coverage, dies or is
retired, and hands its messages to delivery faults.

A :class:`Tracker` is a deterministic state machine driven only by the times it is stepped at
(its own schedule) and its own random streams, so its readings are a pure function of
(seed, simulated time), whatever the wall clock or the other trackers do. It never does I/O:
:meth:`Tracker.wake` appends :class:`Outgoing` items for the publisher.

Store-and-forward follows real trackers: out of coverage each reading is logged with its
measurement time and sequence number; when coverage returns the log is flushed oldest first,
before the current reading. A full log drops its oldest entry (counted). A tracker that dies
loses its log.
"""

from __future__ import annotations

import math
import random
from collections import deque
from datetime import UTC, datetime

from devices.config import FleetConfig
from devices.delivery_faults import DeliveryFaults
from devices.messages import Kind, Outgoing
from devices.plan import DeviceSpec, SimShipment, sub_seed
from devices.sensors import (
    ambient_c,
    ambient_rh,
    background_shock_g,
    battery_after,
    cargo_target_c,
    door_exchange,
    door_light_lux,
    gps_fix_lost,
    gps_heading,
    gps_noise,
    gps_quality,
    gps_speed,
    handling_shock_g,
    humidity_target,
    relax,
    reported_humidity,
    reported_shock,
    reported_temperature,
)
from devices.voyage import MOVING, Context, TrackPoint
from tradelane.contracts import Gps, TrackerReading
from tradelane.topics import readings_topic, status_topic

_INF = math.inf
HUMIDITY_TAU_S = 2 * 3600.0
ALARM_SHOCK_G = 8.0
COLD_DOCK_MARGIN_C = 1.0
"""Air at a cold dock or inspection bay, above the reefer's setpoint."""


class Tracker:
    """A tracker's state between reports."""

    __slots__ = (
        "_below_deck",
        "_doors",
        "_gap_i",
        "_gaps",
        "_handling",
        "_handling_i",
        "_shock_max",
        "_temp_band",
        "alive",
        "battery",
        "buffer",
        "buffer_limit",
        "cargo_c",
        "died_at",
        "dropped",
        "faults",
        "generated",
        "index",
        "last_t",
        "lost",
        "next_t",
        "reefer_failure_at",
        "retired_at",
        "rh",
        "rng",
        "seq",
        "setpoint",
        "spec",
        "status_topic",
        "tamper",
        "topic",
        "track",
    )

    def __init__(self, spec: DeviceSpec, shipment: SimShipment, config: FleetConfig) -> None:
        self.spec = spec
        self.index = spec.index
        self.track = shipment.voyage.track
        self.topic = readings_topic(spec.device_id)
        self.status_topic = status_topic(spec.device_id)
        self.rng = random.Random(spec.seed)  # noqa: S311 - simulation, not secrets
        fault_rng = random.Random(sub_seed(config.seed, "faults", spec.index))  # noqa: S311
        self.faults = DeliveryFaults(config.faults, fault_rng)
        self.setpoint = shipment.setpoint_c
        self.reefer_failure_at = shipment.reefer_failure_at
        cond = shipment.booking.condition
        self._temp_band = (
            cond.temp_min_c if cond.temp_min_c is not None else -_INF,
            cond.temp_max_c if cond.temp_max_c is not None else _INF,
        )
        self._shock_max = cond.shock_max_g if cond.shock_max_g is not None else ALARM_SHOCK_G
        self._handling = shipment.voyage.handling
        self._handling_i = 0
        self._doors = shipment.voyage.doors
        self._gaps = shipment.voyage.gaps
        self._gap_i = 0
        self._below_deck = shipment.below_deck
        self.buffer: deque[Outgoing] = deque()
        self.buffer_limit = config.buffer_limit
        self.seq = 0
        self.last_t: float | None = None
        self.cargo_c: float | None = None
        self.rh: float | None = None
        self.battery = spec.battery0
        self.tamper = False
        self.alive = True
        self.generated = 0
        self.dropped = 0
        self.lost = 0
        self.died_at: float | None = None
        self.retired_at: float | None = None
        self.next_t: float | None = self._next_event(spec.first_report)

    def _next_event(self, report_t: float) -> float:
        death = self.spec.death_at if self.spec.death_at is not None else _INF
        return min(report_t, death, self.spec.retire_at)

    # --- the step -------------------------------------------------------------------------

    def wake(self, t: float, out: list[Outgoing]) -> None:
        """Act at simulated time ``t`` (== ``next_t``): die, retire, or measure and report."""
        spec = self.spec
        if spec.death_at is not None and t >= spec.death_at:
            self.lost += len(self.buffer) + self.faults.drop_all()
            self.buffer.clear()
            self.alive = False
            self.died_at = t
            self.next_t = None
            out.append(Outgoing(Kind.DIED, self.index, -1, self.status_topic, b""))
            return
        if t >= spec.retire_at:
            self._flush(out)
            self.faults.release_all(out)
            self.alive = False
            self.retired_at = t
            self.next_t = None
            out.append(Outgoing(Kind.RETIRED, self.index, -1, self.status_topic, b""))
            return
        reading, alarm = self.measure(t)
        msg = Outgoing(
            Kind.READING, self.index, reading.seq, self.topic, reading.model_dump_json().encode()
        )
        if self._in_gap(t):
            self.buffer.append(msg)
            if len(self.buffer) > self.buffer_limit:
                self.buffer.popleft()
                self.dropped += 1
        else:
            self._flush(out)
            self.faults.deliver(msg, out)
        interval = spec.alarm_interval_s if alarm else spec.interval_s
        interval = min(interval, spec.interval_s)
        step = max(1.0, round(interval * (1.0 + self.rng.uniform(-0.01, 0.01))))
        self.next_t = self._next_event(t + step)

    def _flush(self, out: list[Outgoing]) -> None:
        while self.buffer:
            self.faults.deliver(self.buffer.popleft(), out)

    def _in_gap(self, t: float) -> bool:
        gaps = self._gaps
        i = self._gap_i
        while i < len(gaps) and gaps[i][1] < t:
            i += 1
        self._gap_i = i
        return i < len(gaps) and gaps[i][0] <= t

    # --- the measurement ------------------------------------------------------------------

    def measure(self, t: float) -> tuple[TrackerReading, bool]:
        """One reading at ``t`` (advancing the sensor state), and whether an alarm is active.

        The steps draw from the tracker's one random stream in a fixed order (doors, cargo
        temperature, humidity, shock, GPS): reordering them would change every later reading.
        """
        spec = self.spec
        pt = self.track.at(t)
        prev = self.last_t if self.last_t is not None else t - spec.interval_s
        self.last_t = t
        failed = self.reefer_failure_at is not None and t >= self.reefer_failure_at
        reefer_ok = self.setpoint is not None and not failed
        open_s, door_lux, authorised = self._doors_between(prev, t, pt.pos, pt.context)
        temperature = self._temperature(t, t - prev, pt, reefer_ok, open_s, authorised)
        humidity = self._humidity(t - prev, pt, reefer_ok, open_s)
        shock = reported_shock(self._peak_shock_g(prev, t, pt.context))
        self.battery = battery_after(self.battery, spec.drain_per_report)
        reading = TrackerReading(
            device_id=spec.device_id,
            seq=self.seq,
            ts=datetime.fromtimestamp(int(t + spec.skew_s), UTC),
            gps=self._gps(pt),
            temperature_c=temperature,
            humidity_pct=humidity,
            shock_g=shock,
            light_lux=door_lux,
            tamper=self.tamper,
            battery_pct=round(self.battery, 1),
        )
        self.seq += 1
        self.generated += 1
        lo, hi = self._temp_band
        alarm = self.tamper or not lo <= temperature <= hi or shock > self._shock_max
        return reading, alarm

    def _temperature(
        self,
        t: float,
        dt: float,
        pt: TrackPoint,
        reefer_ok: bool,
        open_s: float,
        authorised: bool,
    ) -> float:
        """Advance the cargo temperature over ``dt`` and return what the probe reports."""
        outside = ambient_c(pt.pos, t)
        # Reefers are opened for loading, inspection and unloading at cold docks and inspection
        # bays, so planned openings let in chilled air; a break-in lets in the weather.
        door_air = (
            self.setpoint + COLD_DOCK_MARGIN_C
            if self.setpoint is not None and authorised
            else outside
        )
        target, tau = cargo_target_c(self.setpoint, reefer_ok, outside, pt.context)
        if self.cargo_c is None:
            self.cargo_c = target + self.rng.gauss(0.0, 0.3)
        self.cargo_c = door_exchange(relax(self.cargo_c, target, dt, tau), door_air, open_s)
        return reported_temperature(self.cargo_c, t, reefer_ok, self.rng)

    def _humidity(self, dt: float, pt: TrackPoint, reefer_ok: bool, open_s: float) -> float:
        """Advance the relative humidity over ``dt`` and return what the sensor reports."""
        rh_out = ambient_rh(pt.pos, pt.context)
        rh_target = humidity_target(self.setpoint, reefer_ok, rh_out, pt.context)
        if self.rh is None:
            self.rh = rh_target
        self.rh = door_exchange(relax(self.rh, rh_target, dt, HUMIDITY_TAU_S), rh_out, open_s)
        return reported_humidity(self.rh, self.rng)

    def _peak_shock_g(self, prev: float, t: float, context: Context) -> float:
        """The strongest shock in (prev, t]: background vibration or a planned handling event."""
        rng = self.rng
        g = background_shock_g(context, rng)
        events = self._handling
        i = self._handling_i
        while i < len(events) and events[i].t <= t:
            if events[i].t > prev:
                g = max(g, handling_shock_g(events[i].g_min, events[i].g_max, rng))
            i += 1
        self._handling_i = i
        return g

    def _gps(self, pt: TrackPoint) -> Gps | None:
        """A GPS fix at ``pt``, or None when the fix is lost (in flight, below deck ...)."""
        rng = self.rng
        if gps_fix_lost(pt.context, pt.hop in self._below_deck, rng):
            return None
        sats, hdop, fix = gps_quality(pt.context, rng)
        lat, lon = gps_noise(pt.pos, hdop, rng)
        moving = pt.context in MOVING and pt.speed_kmh > 0
        return Gps(
            lat=lat,
            lon=lon,
            speed_kmh=gps_speed(pt.speed_kmh, rng),
            heading_deg=gps_heading(pt.heading_deg, moving, rng),
            fix=fix,
            hdop=hdop,
            satellites=sats,
        )

    def _doors_between(
        self, prev: float, t: float, pos: tuple[float, float], context: Context
    ) -> tuple[float, float, bool]:
        """Seconds the doors were open in (prev, t], the peak light seen (latched), and
        whether every opening in the window was authorised."""
        open_s = 0.0
        lux = 0.0
        authorised = True
        for door in self._doors:
            if door.start > t:
                break
            overlap = min(door.end, t) - max(door.start, prev)
            if overlap <= 0:
                continue
            open_s += overlap
            lux = max(
                lux,
                door_light_lux(pos, max(door.start, prev), context is Context.FACILITY, self.rng),
            )
            if not door.authorised:
                self.tamper = True
                authorised = False
        return open_s, lux, authorised

    @property
    def buffered(self) -> int:
        return len(self.buffer)

    def status_payload(self, online: bool, ts: float | None) -> bytes:
        """The retained status message (``ts`` None for the last will, set at connect time)."""
        from tradelane.contracts import DeviceState, DeviceStatus

        status = DeviceStatus(
            device_id=self.spec.device_id,
            state=DeviceState.ONLINE if online else DeviceState.OFFLINE,
            ts=datetime.fromtimestamp(int(ts), UTC) if ts is not None else None,
            reporting_interval_s=self.spec.interval_s,
        )
        return status.model_dump_json().encode()
