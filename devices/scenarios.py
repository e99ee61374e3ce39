"""Named, seeded scenarios and the incidents they plant in a fleet.

A scenario decides the fleet's cargo mix and which incident a share of its shipments suffers:

==================  =========================================================================
``nominal``          Nothing goes wrong beyond everyday handling, door openings and coverage gaps.
``reefer-failure``   A reefer unit dies at sea; the cargo drifts towards ambient temperature.
``rough-handling``   Crane/forklift shocks of 8-30 g at one or two port calls.
``theft``            On the last road leg the truck leaves the corridor, stops 3-8 h somewhere
                     outside every safe zone, the doors are opened (light + tamper), then it
                     goes on to the destination.
``port-delay``       Congestion adds 3-9 days at the transshipment hub or the import port.
``tracker-dies``     One tracker of the shipment dies mid-voyage, battery draining to ~2 % first;
                     its connection drops without DISCONNECT, so the broker sends its last will.
==================  =========================================================================

Which shipments are affected, and when, is drawn from the fleet seed, and every incident is
listed (with times and places) in the manifest, so a test can assert what the pipeline should
have detected. Incidents that change the route (delays, detours, rough handling) are applied
while building the actual timeline; the booking keeps the plan.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum

from devices.voyage import Detour, Hop, StopRole, Tweaks, Voyage, detour_point
from tradelane.contracts import ProfileKind, TransportMode


class IncidentKind(StrEnum):
    REEFER_FAILURE = "reefer_failure"
    ROUGH_HANDLING = "rough_handling"
    THEFT = "theft"
    PORT_DELAY = "port_delay"
    TRACKER_DEATH = "tracker_death"


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    incident: IncidentKind | None
    profile_weights: tuple[tuple[ProfileKind, float], ...]
    air_share: float


_MIX = (
    (ProfileKind.AMBIENT, 0.4),
    (ProfileKind.CHILLED, 0.25),
    (ProfileKind.FROZEN, 0.15),
    (ProfileKind.FRAGILE, 0.2),
)

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "nominal", "everyday voyages: handling, door openings, coverage gaps", None, _MIX, 0.15
        ),
        Scenario(
            "reefer-failure",
            "reefer units fail at sea; cargo warms towards ambient",
            IncidentKind.REEFER_FAILURE,
            (
                (ProfileKind.CHILLED, 0.5),
                (ProfileKind.FROZEN, 0.35),
                (ProfileKind.AMBIENT, 0.1),
                (ProfileKind.FRAGILE, 0.05),
            ),
            0.05,
        ),
        Scenario(
            "rough-handling",
            "8-30 g shocks at port calls, mostly fragile cargo",
            IncidentKind.ROUGH_HANDLING,
            ((ProfileKind.FRAGILE, 0.6), (ProfileKind.AMBIENT, 0.3), (ProfileKind.CHILLED, 0.1)),
            0.1,
        ),
        Scenario(
            "theft",
            "route deviation, stop outside safe zones, doors opened (tamper)",
            IncidentKind.THEFT,
            (
                (ProfileKind.AMBIENT, 0.6),
                (ProfileKind.FRAGILE, 0.2),
                (ProfileKind.CHILLED, 0.1),
                (ProfileKind.FROZEN, 0.1),
            ),
            0.1,
        ),
        Scenario(
            "port-delay",
            "3-9 days of congestion at the hub or import port",
            IncidentKind.PORT_DELAY,
            _MIX,
            0.0,
        ),
        Scenario(
            "tracker-dies",
            "a tracker's battery runs out mid-voyage (last will fires)",
            IncidentKind.TRACKER_DEATH,
            _MIX,
            0.15,
        ),
    )
}


@dataclass(frozen=True, slots=True)
class Incident:
    """What happened to which shipment (and tracker), when and where; times are POSIX s."""

    kind: IncidentKind
    shipment: int
    at: float
    device: int | None = None
    until: float | None = None
    place: str | None = None
    detail: dict[str, float | str] = field(default_factory=dict)


def eligible(kind: IncidentKind, mode: TransportMode, profile: ProfileKind) -> bool:
    if kind is IncidentKind.REEFER_FAILURE:
        return mode is TransportMode.SEA and profile in (ProfileKind.CHILLED, ProfileKind.FROZEN)
    if kind is IncidentKind.PORT_DELAY:
        return mode is TransportMode.SEA
    return True


def choose_affected(
    kind: IncidentKind, candidates: list[int], share: float, rng: random.Random
) -> set[int]:
    """A deterministic subset: ``share`` of the candidates, at least one if any qualify."""
    if not candidates or share <= 0:
        return set()
    count = max(1, round(share * len(candidates)))
    return set(rng.sample(candidates, min(count, len(candidates))))


def _port_stops(hops: list[Hop]) -> list[int]:
    """Stop indices at ports/airports (stop k is where hop k-1 ends)."""
    return list(range(1, len(hops)))


def plan_tweaks(kind: IncidentKind, hops: list[Hop], rng: random.Random) -> Tweaks:
    """Route-changing incidents, decided before the actual timeline is built."""
    if kind is IncidentKind.PORT_DELAY:
        # The hub if there is one, else the import port (stop len(hops) - 1).
        stop = 2 if len(hops) > 3 else len(hops) - 1
        return Tweaks(extra_dwell_h={stop: rng.uniform(72.0, 216.0)})
    if kind is IncidentKind.THEFT:
        last = len(hops) - 1
        return Tweaks(
            detour=Detour(
                hop=last,
                point=detour_point(hops[last], rng),
                leave_fraction=rng.uniform(0.4, 0.7),
                stop_hours=rng.uniform(3.0, 8.0),
            )
        )
    if kind is IncidentKind.ROUGH_HANDLING:
        ports = _port_stops(hops)
        chosen = rng.sample(ports, min(len(ports), rng.randint(1, 2)))
        return Tweaks(rough_stops=frozenset(chosen))
    return Tweaks()


def timed_incident(
    kind: IncidentKind,
    shipment: int,
    voyage: Voyage,
    devices: list[int],
    tweaks: Tweaks,
    rng: random.Random,
) -> Incident:
    """The incident record, with the times the voyage gives it."""
    stops = voyage.stops
    if kind is IncidentKind.REEFER_FAILURE:
        window = voyage.sea_window()
        assert window is not None, "reefer failures are only planted on sea shipments"
        at = window[0] + rng.uniform(0.1, 0.6) * (window[1] - window[0])
        return Incident(kind, shipment, at, detail={"cause": "compressor failure"})
    if kind is IncidentKind.TRACKER_DEATH:
        begin, end = stops[0].depart, voyage.delivered_at
        at = begin + rng.uniform(0.25, 0.65) * (end - begin)
        return Incident(
            kind, shipment, at, device=devices[0], detail={"cause": "battery exhausted"}
        )
    if kind is IncidentKind.PORT_DELAY:
        ((stop_index, hours),) = tweaks.extra_dwell_h.items()
        visit = [s for s in stops if s.role is not StopRole.UNPLANNED][stop_index]
        return Incident(
            kind,
            shipment,
            visit.arrive,
            until=visit.depart,
            place=visit.place,
            detail={"extra_hours": round(hours, 2), "stop": visit.role.value},
        )
    if kind is IncidentKind.THEFT:
        stop = next(s for s in stops if s.role is StopRole.UNPLANNED)
        door = next(d for d in voyage.doors if not d.authorised)
        return Incident(
            kind,
            shipment,
            stop.arrive,
            until=stop.depart,
            detail={
                "stop_lat": round(stop.pos[0], 5),
                "stop_lon": round(stop.pos[1], 5),
                "tamper_at": door.start,
                "stop_hours": round((stop.depart - stop.arrive) / 3600.0, 2),
            },
        )
    # ROUGH_HANDLING: the rough handling events themselves.
    rough = [e for e in voyage.handling if e.g_min >= 8.0]
    first = rough[0]
    return Incident(
        kind,
        shipment,
        first.t,
        place=first.place,
        detail={
            "events": float(len(rough)),
            "places": ",".join(sorted({e.place or "?" for e in rough})),
        },
    )
