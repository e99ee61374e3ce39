"""Planning a fleet: shipments, their routes and cargo, their trackers, and the scenario's
incidents. Pure: the same :class:`FleetConfig` always yields the same plan.

Every random choice draws from a stream derived from (seed, purpose, index), never from a
shared generator, so one shipment's draws do not depend on how many draws another made, and
adding trackers to a fleet leaves the existing shipments as they were.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime

from devices.cargo import CONSIGNEES, PROFILES, SETPOINT_C, SHIPPERS, currency_for, draw_cargo
from devices.config import Departures, FleetConfig
from devices.places import PLACES, facilities_in, gateway
from devices.scenarios import (
    SCENARIOS,
    Incident,
    IncidentKind,
    choose_affected,
    eligible,
    plan_tweaks,
    timed_incident,
)
from devices.sealanes import node_pos
from devices.voyage import (
    DAY,
    HOUR,
    Hop,
    Tweaks,
    Voyage,
    air_eligible,
    build_voyage,
    hub_candidates,
    plan_hops,
    planned_span,
    sea_eligible,
)
from tradelane.contracts import Leg, PlaceKind, ProfileKind, ShipmentBooking, TransportMode

LANES: tuple[tuple[str, str, float], ...] = (
    ("east-asia", "europe-north", 30.0),
    ("east-asia", "na-west", 20.0),
    ("east-asia", "na-east", 8.0),
    ("southeast-asia", "europe-north", 8.0),
    ("south-asia", "europe-north", 5.0),
    ("europe-north", "na-east", 7.0),
    ("east-asia", "southeast-asia", 6.0),
    ("east-asia", "middle-east", 4.0),
    ("latam", "europe-north", 4.0),
    ("east-asia", "mediterranean", 3.0),
    ("africa", "southeast-asia", 2.0),
    ("mediterranean", "na-east", 3.0),
)
"""Trade lanes by region with relative volume (roughly today's container trade shares)."""


def sub_seed(seed: int, *parts: str | int) -> int:
    """A 64-bit seed for one purpose, derived from the fleet seed (stable across Pythons)."""
    text = "\x1f".join(["tradelane-sim", str(seed), *(str(p) for p in parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def rng_for(seed: int, *parts: str | int) -> random.Random:
    return random.Random(sub_seed(seed, *parts))  # noqa: S311 - simulation, not secrets


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """One tracker: identity, reporting behaviour and fate."""

    index: int
    device_id: str
    shipment: int
    seed: int
    first_report: float
    interval_s: int
    alarm_interval_s: int
    battery0: float
    drain_per_report: float
    death_at: float | None
    retire_at: float
    skew_s: float


@dataclass(frozen=True, slots=True)
class SimShipment:
    index: int
    shipment_id: str
    booking: ShipmentBooking
    voyage: Voyage
    mode: TransportMode
    profile: ProfileKind
    setpoint_c: float | None
    reefer_failure_at: float | None
    below_deck: frozenset[int]
    """Hop indices where the container rides below deck (no GPS fix)."""
    devices: tuple[int, ...]
    incidents: tuple[Incident, ...]


@dataclass(frozen=True, slots=True)
class FleetPlan:
    config: FleetConfig
    shipments: tuple[SimShipment, ...]
    devices: tuple[DeviceSpec, ...]

    @property
    def incidents(self) -> list[Incident]:
        return [i for s in self.shipments for i in s.incidents]


@dataclass(frozen=True, slots=True)
class _Draft:
    index: int
    mode: TransportMode
    profile: ProfileKind
    hops: list[Hop]
    trackers: int
    origin: str
    destination: str


def _sea_facilities(region: str) -> list[str]:
    return [f for f in facilities_in(region) if sea_eligible(f)]


def _air_facilities(region: str) -> list[str]:
    return [f for f in facilities_in(region) if air_eligible(f)]


def _weighted(
    rng: random.Random, items: list[tuple[str, float]] | tuple[tuple[str, float], ...]
) -> str:
    total = sum(w for _, w in items)
    x = rng.uniform(0, total)
    for item, w in items:
        x -= w
        if x <= 0:
            return item
    return items[-1][0]


def _draft(config: FleetConfig, index: int, trackers: int) -> _Draft:
    scenario = SCENARIOS[config.scenario]
    rng = rng_for(config.seed, "shipment", index)
    profile = ProfileKind(_weighted(rng, [(p.value, w) for p, w in scenario.profile_weights]))
    air = rng.random() < scenario.air_share and profile is not ProfileKind.FROZEN
    mode = TransportMode.AIR if air else TransportMode.SEA
    pick = _air_facilities if air else _sea_facilities
    kind = PlaceKind.AIRPORT if air else PlaceKind.SEAPORT
    for _ in range(50):
        o_region, d_region = _weighted(rng, [(f"{o}|{d}", w) for o, d, w in LANES]).split("|")
        origins, dests = pick(o_region), pick(d_region)
        if not origins or not dests:
            continue
        origin, dest = rng.choice(origins), rng.choice(dests)
        if gateway(origin, kind) != gateway(dest, kind):
            break
    else:  # pragma: no cover - the lane table always has sea facilities
        raise RuntimeError("could not draw a lane")
    a, b = gateway(origin, kind), gateway(dest, kind)
    avoid: frozenset[str] = frozenset()
    if mode is TransportMode.SEA and rng.random() < 0.25:
        direct = plan_hops(mode, origin, dest)
        if node_pos("suez-s") in direct[1].waypoints:
            avoid = frozenset({"suez", "panama"})  # Red Sea diversion: round the Cape
    hubs = hub_candidates(mode, a, b, avoid)
    hub = rng.choice(hubs) if hubs and rng.random() < 0.5 else None
    hops = plan_hops(mode, origin, dest, hub, avoid)
    return _Draft(index, mode, profile, hops, trackers, origin, dest)


def _allocate(config: FleetConfig) -> list[int]:
    """Trackers per shipment: mostly one, sometimes two (reefers and valuables)."""
    rng = rng_for(config.seed, "allocation")
    counts: list[int] = []
    left = config.trackers
    while left > 0:
        k = 2 if config.max_trackers_per_shipment > 1 and rng.random() < 0.25 else 1
        k = min(k, left)
        counts.append(k)
        left -= k
    return counts


def plan_fleet(config: FleetConfig) -> FleetPlan:
    """Shipments, trackers and incidents for ``config`` (pure and deterministic).

    Every step draws from its own stream (:func:`rng_for` by purpose and index), so a
    shipment's plan does not depend on the order the others are planned in.
    """
    if config.scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {config.scenario!r}; known: {', '.join(SCENARIOS)}")
    drafts = [_draft(config, i, k) for i, k in enumerate(_allocate(config))]
    kind = SCENARIOS[config.scenario].incident
    affected = _affected(config, kind, drafts)
    shipments: list[SimShipment] = []
    devices: list[DeviceSpec] = []
    for draft in drafts:
        incident = kind if draft.index in affected else None
        shipment, specs = _shipment(config, draft, incident, len(devices))
        shipments.append(shipment)
        devices.extend(specs)
    return FleetPlan(config=config, shipments=tuple(shipments), devices=tuple(devices))


def _affected(config: FleetConfig, kind: IncidentKind | None, drafts: list[_Draft]) -> set[int]:
    """Indices of the shipments the scenario's incident happens to (none without one)."""
    if kind is None:
        return set()
    candidates = [d.index for d in drafts if eligible(kind, d.mode, d.profile)]
    return choose_affected(
        kind, candidates, config.incident_share, rng_for(config.seed, "incidents", kind.value)
    )


def _departure(config: FleetConfig, hops: list[Hop], rng: random.Random) -> float:
    """When the shipment leaves its origin: spread over its voyage (a fleet already under
    way at the start) or within 12 hours of the start; whole seconds."""
    start = config.start_ts
    if config.departures is Departures.SPREAD:
        span = planned_span(hops)
        departure = start - rng.uniform(0.0, 0.85) * span + rng.uniform(0.0, 12 * HOUR)
    else:
        departure = start + rng.uniform(0.0, 12 * HOUR)
    return float(round(departure))


def _shipment(
    config: FleetConfig, draft: _Draft, incident: IncidentKind | None, first_device: int
) -> tuple[SimShipment, list[DeviceSpec]]:
    """One shipment from its draft: voyage, incident, booking and its trackers' specs
    (numbered from ``first_device``)."""
    rng = rng_for(config.seed, "voyage", draft.index)
    departure = _departure(config, draft.hops, rng)
    incident_rng = rng_for(config.seed, "incident", draft.index)
    tweaks = Tweaks()
    if incident is not None:
        tweaks = plan_tweaks(incident, draft.hops, incident_rng)
    voyage = build_voyage(draft.hops, departure, rng, tweaks, config.coverage_km)
    device_indices = list(range(first_device, first_device + draft.trackers))
    incidents: list[Incident] = []
    if incident is not None:
        incidents.append(
            timed_incident(incident, draft.index, voyage, device_indices, tweaks, incident_rng)
        )
    reefer_failure = next((i.at for i in incidents if i.kind is IncidentKind.REEFER_FAILURE), None)
    death = {i.device: i.at for i in incidents if i.kind is IncidentKind.TRACKER_DEATH}
    below_deck = frozenset(
        h
        for h, hop in enumerate(draft.hops)
        if hop.mode is TransportMode.SEA and rng.random() < 0.4
    )
    specs = [
        _device_spec(config, d, draft.index, voyage.track.end, death.get(d)) for d in device_indices
    ]
    booking = _booking(
        config,
        draft,
        voyage,
        [config.device_id(d) for d in device_indices],
        rng_for(config.seed, "booking", draft.index),
    )
    shipment = SimShipment(
        index=draft.index,
        shipment_id=config.shipment_id(draft.index),
        booking=booking,
        voyage=voyage,
        mode=draft.mode,
        profile=draft.profile,
        setpoint_c=SETPOINT_C.get(draft.profile),
        reefer_failure_at=reefer_failure,
        below_deck=below_deck,
        devices=tuple(device_indices),
        incidents=tuple(incidents),
    )
    return shipment, specs


def _device_spec(
    config: FleetConfig, d: int, shipment: int, retire_at: float, death_at: float | None
) -> DeviceSpec:
    """Tracker ``d``: first report, battery, drain (fast enough to die at ``death_at``),
    clock skew; retired with its shipment's track."""
    start = config.start_ts
    drng = rng_for(config.seed, "device", d)
    first = start + drng.uniform(0.0, config.interval_s)
    battery0 = round(drng.uniform(70.0, 100.0), 1)
    drain = drng.uniform(0.008, 0.014)
    if death_at is not None and death_at > first:
        reports = max(1.0, (death_at - first) / config.interval_s)
        drain = max(drain, (battery0 - 2.0) / reports)
    skew = 0.0
    if config.faults.clock_skew_s:
        skew = rng_for(config.seed, "skew", d).uniform(
            -config.faults.clock_skew_s, config.faults.clock_skew_s
        )
    return DeviceSpec(
        index=d,
        device_id=config.device_id(d),
        shipment=shipment,
        seed=sub_seed(config.seed, "sensors", d),
        first_report=float(round(first)),
        interval_s=config.interval_s,
        alarm_interval_s=config.alarm_interval_s,
        battery0=battery0,
        drain_per_report=drain,
        death_at=death_at,
        retire_at=retire_at,
        skew_s=round(skew, 3),
    )


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _booking(
    config: FleetConfig, draft: _Draft, voyage: Voyage, trackers: list[str], rng: random.Random
) -> ShipmentBooking:
    origin, dest = PLACES[draft.origin], PLACES[draft.destination]
    currency = currency_for(dest.place.locode)
    cargo = draw_cargo(rng, draft.profile, currency, draft.mode is TransportMode.AIR)
    legs = [
        Leg(
            mode=leg.mode,
            origin=PLACES[leg.origin].place,
            destination=PLACES[leg.destination].place,
            planned_departure=utc(leg.departure),
            planned_arrival=utc(leg.arrival),
            waypoints=[(round(lat, 4), round(lon, 4)) for lat, lon in leg.waypoints],
        )
        for leg in voyage.legs
    ]
    booked_at = voyage.legs[0].departure - rng.uniform(1.0, 5.0) * DAY
    return ShipmentBooking(
        shipment_id=config.shipment_id(draft.index),
        shipper=rng.choice(SHIPPERS[origin.region]),
        consignee=rng.choice(CONSIGNEES[dest.region]),
        origin=origin.place,
        destination=dest.place,
        legs=legs,
        cargo=cargo,
        condition=PROFILES[draft.profile],
        trackers=trackers,
        booked_at=utc(float(round(booked_at))),
    )


def with_customs(booking: ShipmentBooking, cleared_at: float) -> ShipmentBooking:
    """The booking update the registry gets when the shipment clears customs."""
    return booking.model_copy(update={"customs_cleared_at": utc(float(round(cleared_at)))})
