"""Small builders for insurance tests: readings with their evidence, shipment events, policies.

Every reading built is kept in :data:`STORE`, standing in for ``tracker.readings``: a test can
re-fetch what a claim cites and recompute its digest, as an insurer would.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel

from tests.samples import booking
from tradelane.contracts import (
    BreachKind,
    BreachProgress,
    BreachRule,
    ClaimDecision,
    ClaimEvent,
    DataQualityGate,
    Decision,
    DeviationStarted,
    Evidence,
    Facility,
    FixQuality,
    Milestone,
    MilestoneReached,
    Money,
    PayoutTier,
    Policy,
    ReadingRef,
    ShipmentBooking,
    ShipmentEvent,
    ShipmentStatus,
    ShockDetected,
    TamperDetected,
    TrackerReading,
    Trigger,
    TriggerKind,
)
from tradelane.contracts.events import ShipmentEventData
from tradelane.evidence import digest
from tradelane.ids import derive_id

T0 = datetime(2026, 11, 21, tzinfo=UTC)
PLANNED_ARRIVAL = datetime(2026, 12, 22, tzinfo=UTC)
SHIPMENT = "shp-1"
TRACKERS = ("trk-a", "trk-b")
STORE: dict[tuple[str, int], TrackerReading] = {}

TEMPERATURE_TIERS = ((30, "0.1"), (120, "0.5"), (360, "1"))
"""The issue's example: 30 min -> 10 %, 2 h -> 50 %, 6 h -> 100 %."""


def readings(
    device: str, start_min: float, minutes: float, step_min: float = 5
) -> list[TrackerReading]:
    """Readings every ``step_min`` from ``start_min`` spanning ``minutes`` (both ends).

    ``seq`` follows event time and the temperature follows ``seq``, so the same (device, seq)
    is the same reading whichever test builds it: the store stays a faithful stand-in.
    """
    out = []
    for i in range(int(minutes // step_min) + 1):
        at = start_min + i * step_min
        seq = round(at * 60)
        r = TrackerReading(
            device_id=device,
            seq=seq,
            ts=T0 + timedelta(seconds=seq),
            temperature_c=12.0 + (seq // 300) % 3 * 0.5,
        )
        STORE[(r.device_id, r.seq)] = r
        out.append(r)
    return out


def evidence(
    rs: Sequence[TrackerReading], fix: FixQuality | None = None, hdop: float | None = None
) -> Evidence:
    """Evidence as the streams side builds it: refs in canonical order, digest, stats."""
    ordered = sorted(rs, key=lambda r: (r.ts, r.device_id, r.seq))
    temps = [r.temperature_c for r in ordered if r.temperature_c is not None]
    return Evidence(
        readings=[
            ReadingRef(device_id=r.device_id, seq=r.seq, ts=r.ts, fix=fix, hdop=hdop)
            for r in ordered
        ],
        digest=digest(ordered),
        count=len(ordered),
        first_ts=ordered[0].ts if ordered else None,
        last_ts=ordered[-1].ts if ordered else None,
        minimum=min(temps) if temps else None,
        maximum=max(temps) if temps else None,
        mean=sum(temps) / len(temps) if temps else None,
    )


def event(data: ShipmentEventData, shipment: str = SHIPMENT) -> ShipmentEvent:
    """An envelope whose id is derived from its content, as the streams side derives it from
    the cause: the same event twice has the same id."""
    payload: BaseModel = data
    at = getattr(data, "at", None) or getattr(data, "ended_at", T0)
    return ShipmentEvent(
        id=derive_id("test-event", shipment, payload.model_dump_json()),
        source="/tradelane/streams",
        type=f"tradelane.shipment.{data.kind}.v1",
        subject=shipment,
        time=at,
        data=data,
    )


def breach(
    minutes: float,
    devices: Sequence[str] = TRACKERS,
    start_min: float = 0,
    rule: BreachRule = BreachRule.CONSECUTIVE,
    kind: BreachKind = BreachKind.TEMPERATURE_HIGH,
    step_min: float = 5,
    fix: FixQuality | None = None,
) -> ShipmentEvent:
    """A BreachProgress after ``minutes`` out of band, proven by every device in ``devices``."""
    rs = [r for d in devices for r in readings(d, start_min, minutes, step_min)]
    return event(
        BreachProgress(
            breach=kind,
            rule=rule,
            started_at=T0 + timedelta(minutes=start_min),
            at=T0 + timedelta(minutes=start_min + minutes),
            duration_s=int(minutes * 60),
            peak=13.0,
            evidence=evidence(rs, fix=fix),
        )
    )


def cumulative(
    episodes: Sequence[tuple[float, float]], devices: Sequence[str] = TRACKERS
) -> ShipmentEvent:
    """A cumulative BreachProgress over episodes (start minute, length), readings only in them."""
    rs = [r for d in devices for start, length in episodes for r in readings(d, start, length)]
    end = max(start + length for start, length in episodes)
    return event(
        BreachProgress(
            breach=BreachKind.TEMPERATURE_HIGH,
            rule=BreachRule.CUMULATIVE,
            started_at=T0 + timedelta(minutes=episodes[0][0]),
            at=T0 + timedelta(minutes=end),
            duration_s=int(sum(length for _, length in episodes) * 60),
            peak=13.0,
            evidence=evidence(rs),
        )
    )


def shock(g: float, device: str = "trk-a", at_min: float = 60) -> ShipmentEvent:
    rs = readings(device, at_min, 0)
    return event(
        ShockDetected(
            device_id=device,
            at=T0 + timedelta(minutes=at_min),
            g=g,
            limit_g=5,
            evidence=evidence(rs),
        )
    )


def tamper(device: str = "trk-a", at_min: float = 90) -> ShipmentEvent:
    rs = readings(device, at_min, 0)
    return event(
        TamperDetected(
            device_id=device,
            at=T0 + timedelta(minutes=at_min),
            light_lux=400,
            evidence=evidence(rs),
        )
    )


def deviation(
    km: float,
    devices: Sequence[str] = TRACKERS,
    start_min: float = 600,
    fix: FixQuality | None = None,
) -> ShipmentEvent:
    rs = [r for d in devices for r in readings(d, start_min - 30, 30)]
    return event(
        DeviationStarted(
            at=T0 + timedelta(minutes=start_min),
            distance_km=km,
            limit_km=40,
            evidence=evidence(rs, fix=fix),
        )
    )


def arrived(
    hours_late: float, devices: Sequence[str] = TRACKERS, with_evidence: bool = True
) -> ShipmentEvent:
    at = PLANNED_ARRIVAL + timedelta(hours=hours_late)
    minute = (at - T0).total_seconds() / 60
    rs = [r for d in devices for r in readings(d, minute - 10, 10)]
    return event(
        MilestoneReached(
            milestone=Milestone.ARRIVED_DESTINATION,
            at=at,
            status=ShipmentStatus.ARRIVED,
            in_spec=True,
            evidence=evidence(rs) if with_evidence else None,
        )
    )


def trigger(
    kind: TriggerKind,
    tiers: Sequence[tuple[float, str]] = TEMPERATURE_TIERS,
    **extra: object,
) -> Trigger:
    return Trigger.model_validate(
        {
            "kind": kind,
            "tiers": [PayoutTier(threshold=t, share=Decimal(s)) for t, s in tiers],
            **extra,
        }
    )


def policy(
    *triggers: Trigger,
    policy_id: str = "pol-1",
    sum_insured: str = "100000",
    deductible: str = "1000",
    currency: str = "USD",
    loss_payee: str | None = None,
    gate: DataQualityGate | None = None,
    shipment: str = SHIPMENT,
) -> Policy:
    return Policy(
        policy_id=policy_id,
        insurer_id="ins-1",
        insured_id="shipper-1",
        shipment_id=shipment,
        sum_insured=Money(amount=Decimal(sum_insured), currency=currency),
        deductible=Money(amount=Decimal(deductible), currency=currency),
        loss_payee=loss_payee,
        triggers=list(triggers) or [trigger(TriggerKind.TEMPERATURE)],
        gate=gate or DataQualityGate(),
    )


def shipment_booking(trackers: Sequence[str] = TRACKERS) -> ShipmentBooking:
    return booking(SHIPMENT, list(trackers))


def facility(shipments: Sequence[str] = (SHIPMENT,)) -> Facility:
    return Facility(
        facility_id="fac-1",
        bank_id="bank-1",
        borrower_id="shipper-1",
        limit=Money(amount=Decimal("500000"), currency="USD"),
        advance_rates={},
        concentration_limit=Decimal("0.5"),
        pledged_shipments=list(shipments),
    )


def decide(
    claim: ClaimEvent,
    decision: Decision = Decision.APPROVE,
    command_id: str = "cmd-1",
    insurer_id: str = "ins-1",
    share: Decimal | None = None,
) -> ClaimDecision:
    data = claim.data
    return ClaimDecision(
        command_id=command_id,
        decision=decision,
        claim_id=data.claim_id,
        policy_id=data.policy_id,
        shipment_id=data.shipment_id,
        insurer_id=insurer_id,
        share=data.share if share is None else share,
        at=data.at + timedelta(hours=1),
        reason="reviewed",
    )


def kinds(events: Sequence[ClaimEvent]) -> list[str]:
    return [e.data.kind for e in events]
