"""What shipment events say about a pledged cargo: progress, condition, tracker health.

Every update here is *monotone or keyed*, which is what makes redelivery and out-of-order
arrival harmless without remembering event ids:

* milestones keep their first time; the collateral status follows the furthest one reached;
* severities only grow (a breach that lasted 3 h stays a 3 h breach after it ends);
* breach and deviation episodes are keyed by kind and start time: a late ``BreachStarted``
  for an episode already ended does not reopen it;
* each tracker keeps its latest health evidence by event time: a silence counts from the
  tracker's last reading (``last_seen``), a resume from the reading that ended it, so a resume
  always clears the silence it ends, whenever and by whichever tracker the silence was judged;
* the ETA is the latest estimate's (by the time it was made, then the later ETA);
* only the latest tamper time is kept: the cargo counts as tampered with if it is at or after
  departure (opening doors while loading at the origin is not an impairment).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from finance.facility_state import ShipmentCollateral
from tradelane.contracts import (
    BreachEnded,
    BreachProgress,
    BreachStarted,
    DelayPredicted,
    DeviationEnded,
    DeviationStarted,
    EtaChanged,
    ShipmentBooking,
    ShipmentEventData,
    ShockDetected,
    TamperDetected,
    TrackerResumed,
    TrackerSilent,
)
from tradelane.contracts.events import Milestone, MilestoneReached
from tradelane.contracts.registries import ImpairmentKind

SEVERITY_QUANTUM = Decimal("0.000001")


def as_severity(value: float | int) -> Decimal:
    """A sensor-derived number as a Decimal severity (6 places); floats stop here."""
    return Decimal(repr(value) if isinstance(value, float) else value).quantize(SEVERITY_QUANTUM)


def minutes(seconds: int) -> Decimal:
    return (Decimal(seconds) / 60).quantize(SEVERITY_QUANTUM)


def learn_booking(shipment: ShipmentCollateral, booking: ShipmentBooking) -> None:
    """Cargo value and the planned milestone times (for the funding calendar)."""
    shipment.cargo_value = booking.cargo.value
    legs = booking.legs
    planned: dict[Milestone, datetime] = {Milestone.DEPARTED_ORIGIN: legs[0].planned_departure}
    if len(legs) > 1:
        planned[Milestone.ARRIVED_TRANSSHIPMENT] = legs[0].planned_arrival
        planned[Milestone.DEPARTED_TRANSSHIPMENT] = legs[1].planned_departure
    planned[Milestone.ARRIVED_DESTINATION] = legs[-1].planned_arrival
    if booking.customs_cleared_at is not None:
        planned[Milestone.CUSTOMS_CLEARED] = booking.customs_cleared_at
    shipment.planned = planned


def _worsen(shipment: ShipmentCollateral, kind: ImpairmentKind, severity: Decimal) -> None:
    shipment.severity[kind] = max(shipment.severity.get(kind, severity), severity)


def _open(shipment: ShipmentCollateral, key: str) -> None:
    if key not in shipment.closed_conditions and key not in shipment.open_conditions:
        shipment.open_conditions.append(key)


def _close(shipment: ShipmentCollateral, key: str) -> None:
    if key in shipment.open_conditions:
        shipment.open_conditions.remove(key)
    if key not in shipment.closed_conditions:
        shipment.closed_conditions.append(key)


def _verdict(shipment: ShipmentCollateral, device: str, at: datetime, silent: bool) -> None:
    latest = shipment.tracker_verdicts.get(device)
    if latest is None or at > latest[0]:
        shipment.tracker_verdicts[device] = (at, silent)


def note_shipment_event(shipment: ShipmentCollateral, data: ShipmentEventData) -> None:
    """Fold one shipment event into the shipment's collateral record."""
    match data:
        case MilestoneReached():
            first = shipment.reached.get(data.milestone)
            if first is None or data.at < first:  # the earliest report of a milestone decides
                shipment.reached[data.milestone] = data.at
                shipment.in_spec[data.milestone] = data.in_spec
        case BreachStarted():
            _open(shipment, f"{data.breach}:{data.rule}:{data.started_at.isoformat()}")
            _worsen(shipment, ImpairmentKind(data.breach.value), Decimal(data.minutes))
        case BreachProgress():
            _open(shipment, f"{data.breach}:{data.rule}:{data.started_at.isoformat()}")
            _worsen(shipment, ImpairmentKind(data.breach.value), minutes(data.duration_s))
        case BreachEnded():
            _close(shipment, f"{data.breach}:{data.rule}:{data.started_at.isoformat()}")
            _worsen(shipment, ImpairmentKind(data.breach.value), minutes(data.duration_s))
        case ShockDetected():
            _worsen(shipment, ImpairmentKind.SHOCK, as_severity(data.g))
        case TamperDetected():
            if shipment.latest_tamper is None or data.at > shipment.latest_tamper:
                shipment.latest_tamper = data.at
        case DeviationStarted():
            _open(shipment, f"deviation:{data.at.isoformat()}")
            _worsen(shipment, ImpairmentKind.DEVIATION, as_severity(data.distance_km))
        case DeviationEnded():
            _close(shipment, f"deviation:{data.started_at.isoformat()}")
            _worsen(shipment, ImpairmentKind.DEVIATION, as_severity(data.max_distance_km))
        case TrackerSilent():
            _verdict(shipment, data.device_id, data.last_seen, silent=True)
        case TrackerResumed():
            _verdict(shipment, data.device_id, data.at, silent=False)
        case EtaChanged() | DelayPredicted():
            # The latest estimate decides; of two made at the same time, the later ETA (so
            # a redelivered estimate cannot take the ETA back from its twin).
            held = shipment.eta_at, shipment.eta
            if held[0] is None or held[1] is None or (data.at, data.eta) > held:
                shipment.eta, shipment.eta_at = data.eta, data.at
        case _:
            pass  # battery levels do not change the collateral


def impaired(shipment: ShipmentCollateral, milestone: Milestone) -> bool:
    """Cargo a tranche must not be released against: out of spec at the milestone, with a
    breach or deviation still open, or tampered with."""
    return (
        not shipment.in_spec.get(milestone, True)
        or bool(shipment.open_conditions)
        or shipment.tampered
    )
