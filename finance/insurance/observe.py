"""Fold shipment events into :class:`ShipmentObservations`.

Every fold keeps the maximum (or the first) of what it saw, never the latest, so the result
does not depend on duplicates or on the order Kafka redelivers events in. The folds know
nothing about policies: which observation pays is decided in :mod:`.triggers`.
"""

from __future__ import annotations

from tradelane.contracts import (
    BreachEnded,
    BreachKind,
    BreachProgress,
    BreachRule,
    DelayPredicted,
    DeviationEnded,
    DeviationStarted,
    EtaChanged,
    Evidence,
    Milestone,
    MilestoneReached,
    ShipmentBooking,
    ShipmentEventData,
    ShockDetected,
    TamperDetected,
)

from .state import SHOCK_SIGHTINGS, Observation, ShipmentObservations

TEMPERATURE_BREACHES = frozenset({BreachKind.TEMPERATURE_HIGH, BreachKind.TEMPERATURE_LOW})


def temperature_key(
    breach: BreachKind, rule: BreachRule, started_at: str, device: str | None = None
) -> str:
    """Consecutive episodes are told apart by their start and tracker; the cumulative total is
    one per breach kind and tracker for the whole trip. ``device`` is the one tracker an
    event's evidence cites (the streams keep excursions per tracker); None for an event citing
    several (written before that), which keeps its former key."""
    own = "" if device is None else f"/{device}"
    if rule is BreachRule.CUMULATIVE:
        return f"{breach}/cumulative{own}"
    return f"{breach}/consecutive/{started_at}{own}"


def _one_device(evidence: Evidence | None) -> str | None:
    devices = set() if evidence is None else {r.device_id for r in evidence.readings}
    return devices.pop() if len(devices) == 1 else None


def observe(
    obs: ShipmentObservations, event_id: str, event: ShipmentEventData
) -> ShipmentObservations:
    """Return ``obs`` updated with ``event`` (the same object when nothing changed)."""
    obs = _note_devices(obs, event)
    match event:
        case BreachProgress() | BreachEnded() if event.breach in TEMPERATURE_BREACHES:
            at = event.at if isinstance(event, BreachProgress) else event.ended_at
            key = temperature_key(
                event.breach, event.rule, event.started_at.isoformat(), _one_device(event.evidence)
            )
            seen = Observation(
                measure=float(event.duration_s),
                at=at,
                event_id=event_id,
                evidence=event.evidence,
                started_at=event.started_at,
                rule=event.rule,
            )
            return _keep_max(obs, "temperature", key, seen)
        case ShockDetected():
            seen = Observation(
                measure=event.g, at=event.at, event_id=event_id, evidence=event.evidence
            )
            obs = _keep_strongest(obs, f"{event.device_id}/{event.at.isoformat()}", seen)
            return _keep_max(obs, "shocks", event.device_id, seen)
        case TamperDetected():
            if event.device_id in obs.tampers:
                return obs
            seen = Observation(measure=1.0, at=event.at, event_id=event_id, evidence=event.evidence)
            return obs.model_copy(update={"tampers": {**obs.tampers, event.device_id: seen}})
        case DeviationStarted() | DeviationEnded():
            started = event.at if isinstance(event, DeviationStarted) else event.started_at
            km = event.distance_km if isinstance(event, DeviationStarted) else event.max_distance_km
            at = event.at if isinstance(event, DeviationStarted) else event.ended_at
            seen = Observation(
                measure=km, at=at, event_id=event_id, evidence=event.evidence, started_at=started
            )
            return _keep_max(obs, "deviations", started.isoformat(), seen)
        case MilestoneReached() if event.milestone is Milestone.ARRIVED_DESTINATION:
            if obs.arrival is not None and obs.arrival.at <= event.at:
                return obs
            seen = Observation(measure=1.0, at=event.at, event_id=event_id, evidence=event.evidence)
            return obs.model_copy(update={"arrival": seen})
        case EtaChanged() | DelayPredicted():
            # The latest plan quoted wins whatever order the quotes arrive in; a later plan
            # also means a shorter delay, the reading that favours nobody's guess.
            held = obs.planned_arrival_seen
            if held is not None and held >= event.planned_arrival:
                return obs
            return obs.model_copy(update={"planned_arrival_seen": event.planned_arrival})
        case _:
            return obs


def observe_booking(obs: ShipmentObservations, booking: ShipmentBooking) -> ShipmentObservations:
    """The booking fixes the trackers (the quorum's base) and the planned arrival (the delay's
    origin): contractual facts, which win over anything quoted by events."""
    return obs.model_copy(
        update={
            "trackers": sorted(booking.trackers),
            "planned_arrival_booked": booking.legs[-1].planned_arrival,
        }
    )


def _keep_max(
    obs: ShipmentObservations,
    field: str,
    key: str,
    seen: Observation,
) -> ShipmentObservations:
    table: dict[str, Observation] = getattr(obs, field)
    held = table.get(key)
    if held is not None and held.measure >= seen.measure:
        return obs
    return obs.model_copy(update={field: {**table, key: seen}})


def _keep_strongest(obs: ShipmentObservations, key: str, seen: Observation) -> ShipmentObservations:
    """Add a shock sighting, keeping the strongest :data:`SHOCK_SIGHTINGS` (by g, then key: the
    same set whatever order the events came in)."""
    table = obs.shock_sightings
    held = table.get(key)
    if held is not None and held.measure >= seen.measure:
        return obs
    kept = {**table, key: seen}
    if len(kept) > SHOCK_SIGHTINGS:
        weakest = min(kept, key=lambda k: (kept[k].measure, k))
        if weakest == key:
            return obs
        del kept[weakest]
    return obs.model_copy(update={"shock_sightings": kept})


def _note_devices(obs: ShipmentObservations, event: ShipmentEventData) -> ShipmentObservations:
    devices: set[str] = set()
    device_id = getattr(event, "device_id", None)
    if isinstance(device_id, str):
        devices.add(device_id)
    evidence = getattr(event, "evidence", None)
    if isinstance(evidence, Evidence):
        devices.update(ref.device_id for ref in evidence.readings)
    if devices <= set(obs.devices_seen):
        return obs
    return obs.model_copy(update={"devices_seen": sorted(devices | set(obs.devices_seen))})
