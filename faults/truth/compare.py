"""The ground truth of a simulated run and the comparisons of the cores' outputs with it.

Truth comes from the manifest (stop visits, customs clearance, hand-over, planted incidents)
and, where the manifest states a cause but not its measure, from the readings themselves:
how long a failed reefer's cargo stayed out of its band decides the temperature tier, the
largest shock at a rough port call the shock tier. Everything here is a pure function of
plain records, so each comparison can be tested on a handful of hand-made values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from devices.manifest import Manifest, ShipmentRecord
from finance.interest import daily_interest
from tradelane.contracts import (
    ClaimEvent,
    Facility,
    Milestone,
    PlaceKind,
    Policy,
    ShipmentEvent,
    TrackerReading,
    TriggerKind,
)
from tradelane.contracts.finance import (
    DrawdownExecuted,
    DrawdownRejected,
    FinanceEvent,
    InterestAccrued,
    InterestAdjusted,
    RepaymentApplied,
    RepaymentSource,
)

TOLERANCE_S = 30 * 60.0
"""A milestone within this of the truth counts as on time (the issue's floor)."""
ALARM_LEAD_S = 3600.0
"""An alarm up to this long before a planted incident's recorded start still detects it (the
manifest stamps an incident's start, a reading may see its first sign a little earlier). A
silence has no such bound: it is stamped with the tracker's last reading, which a dead
tracker's lost store-and-forward log can put days before its death."""
ALARM_KINDS = ("breach", "shock", "tamper", "silence", "deviation")
_EVENT_ALARM = {
    "breach_started": "breach",
    "shock_detected": "shock",
    "tamper_detected": "tamper",
    "tracker_silent": "silence",
    "deviation_started": "deviation",
}
_TIERED = {"claim_raised", "claim_upgraded"}


def parse_iso(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# --- milestones ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stamp:
    """A milestone of a shipment, at a time. ``leg`` is the event's ``leg_index`` (the leg
    that ended at the place, the first leg for the origin; ``None`` for customs): with the
    milestone it names one stop of the route."""

    shipment_id: str
    milestone: Milestone
    leg: int | None
    at: float

    @property
    def key(self) -> tuple[str, Milestone, int | None]:
        return self.shipment_id, self.milestone, self.leg


def true_milestones(record: ShipmentRecord) -> list[Stamp]:
    """The milestones the shipment really reached: its planned places' stop visits (the route
    the core follows is the booking's legs), customs clearance, and the hand-over."""

    def leg(place: int) -> int:
        return max(0, place - 1)

    booking = record.booking
    places = [booking.legs[0].origin, *(leg.destination for leg in booking.legs)]
    stops = [s for s in record.stops if s.role != "unplanned_stop"]
    sid, last = record.shipment_id, len(places) - 1
    out = [Stamp(sid, Milestone.DEPARTED_ORIGIN, leg(0), parse_iso(stops[0].depart))]
    for i in range(1, last):
        bonded = places[i].kind in (PlaceKind.BONDED_ZONE, PlaceKind.WAREHOUSE)
        arrived = Milestone.ENTERED_BONDED_WAREHOUSE if bonded else Milestone.ARRIVED_TRANSSHIPMENT
        out.append(Stamp(sid, arrived, leg(i), parse_iso(stops[i].arrive)))
        out.append(Stamp(sid, Milestone.DEPARTED_TRANSSHIPMENT, leg(i), parse_iso(stops[i].depart)))
    arrive = parse_iso(stops[last].arrive)
    out.append(Stamp(sid, Milestone.ARRIVED_DESTINATION, leg(last), arrive))
    if places[last].kind is PlaceKind.BONDED_ZONE:
        out.append(Stamp(sid, Milestone.ENTERED_BONDED_WAREHOUSE, leg(last), arrive))
    out.append(Stamp(sid, Milestone.CUSTOMS_CLEARED, None, parse_iso(record.customs_cleared_at)))
    out.append(Stamp(sid, Milestone.DELIVERED, leg(last), parse_iso(record.delivered_at)))
    return out


def detected_milestones(events: Iterable[ShipmentEvent]) -> list[Stamp]:
    out = []
    for event in events:
        data = event.data
        if data.kind == "milestone_reached":
            out.append(Stamp(event.subject, data.milestone, data.leg_index, data.at.timestamp()))
    return out


@dataclass(frozen=True, slots=True)
class MilestoneScore:
    truth: int
    detected: int
    matched: int
    within: int
    """Matched within :data:`TOLERANCE_S` of the truth."""
    max_error_s: float
    false: int
    """Detected with no such true milestone, or a second detection of one."""
    missed: int

    @property
    def within_share(self) -> float:
        return self.within / self.truth if self.truth else 1.0


def score_milestones(
    truth: Sequence[Stamp], detected: Sequence[Stamp], tolerance_s: float = TOLERANCE_S
) -> MilestoneScore:
    want = {t.key: t.at for t in truth}
    seen: dict[tuple[str, Milestone, int | None], float] = {}
    false = 0
    for d in detected:
        if d.key not in want or d.key in seen:
            false += 1
        else:
            seen[d.key] = d.at
    errors = [abs(at - want[k]) for k, at in seen.items()]
    return MilestoneScore(
        truth=len(want),
        detected=len(detected),
        matched=len(seen),
        within=sum(1 for e in errors if e <= tolerance_s),
        max_error_s=max(errors, default=0.0),
        false=false,
        missed=len(want) - len(seen),
    )


@dataclass(frozen=True, slots=True)
class Miss:
    """A true milestone detected late, early or not at all (``error_s`` None: missed)."""

    shipment_id: str
    milestone: str
    leg: int | None
    error_s: float | None


def milestone_misses(
    truth: Sequence[Stamp], detected: Sequence[Stamp], tolerance_s: float = TOLERANCE_S
) -> list[Miss]:
    """Every true milestone not detected within ``tolerance_s``: where a rule is off."""
    seen: dict[tuple[str, Milestone, int | None], float] = {}
    for d in detected:
        seen.setdefault(d.key, d.at)
    out = []
    for t in truth:
        at = seen.get(t.key)
        if at is None or abs(at - t.at) > tolerance_s:
            error = None if at is None else at - t.at
            out.append(Miss(t.shipment_id, t.milestone.value, t.leg, error))
    return out


def score_milestones_by_kind(
    truth: Sequence[Stamp], detected: Sequence[Stamp], tolerance_s: float = TOLERANCE_S
) -> dict[str, MilestoneScore]:
    """:func:`score_milestones` per milestone kind (which rule is off, not only how much)."""
    kinds = sorted({s.milestone for s in (*truth, *detected)}, key=list(Milestone).index)
    return {
        k.value: score_milestones(
            [s for s in truth if s.milestone is k],
            [s for s in detected if s.milestone is k],
            tolerance_s,
        )
        for k in kinds
    }


# --- alarms -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Alarm:
    kind: str
    shipment_id: str
    device_id: str | None
    at: float


def planted_alarms(manifest: Manifest) -> list[Alarm]:
    """The alarms each planted incident must raise (a port delay raises none)."""
    out = []
    for record in manifest.shipments:
        for i in record.incidents:
            at, sid = parse_iso(i.at), record.shipment_id
            if i.kind == "reefer_failure":
                out.append(Alarm("breach", sid, None, at))
            elif i.kind == "rough_handling":
                out.append(Alarm("shock", sid, None, at))
            elif i.kind == "theft":
                tamper_at = i.detail.get("tamper_at")
                tamper = parse_iso(tamper_at) if isinstance(tamper_at, str) else at
                out.append(Alarm("tamper", sid, None, tamper))
                out.append(Alarm("deviation", sid, None, at))
            elif i.kind == "tracker_death":
                out.append(Alarm("silence", sid, i.device_id, at))
    return out


def detected_alarms(events: Iterable[ShipmentEvent]) -> list[Alarm]:
    out = []
    for event in events:
        kind = _EVENT_ALARM.get(event.data.kind)
        if kind is None:
            continue
        data = event.data
        at = getattr(data, "at", None) or getattr(data, "started_at", None) or event.time
        out.append(Alarm(kind, event.subject, getattr(data, "device_id", None), at.timestamp()))
    return out


def false_alarms(planted: Sequence[Alarm], detected: Sequence[Alarm]) -> list[Alarm]:
    """The alarms no planted incident explains (the list behind :attr:`AlarmScore.false`)."""
    return [a for a in detected if not any(_covers(p, a) for p in planted)]


def _covers(planted: Alarm, alarm: Alarm) -> bool:
    return (
        planted.kind == alarm.kind
        and planted.shipment_id == alarm.shipment_id
        and (planted.device_id is None or planted.device_id == alarm.device_id)
    )


@dataclass(frozen=True, slots=True)
class AlarmScore:
    planted: dict[str, int]
    detected: dict[str, int]
    """Planted incidents detected, per alarm kind."""
    false: dict[str, int]
    """Alarms no planted incident explains, per kind."""


def score_alarms(
    planted: Sequence[Alarm], detected: Sequence[Alarm], lead_s: float = ALARM_LEAD_S
) -> AlarmScore:
    planted_n: Counter[str] = Counter(p.kind for p in planted)
    found: Counter[str] = Counter(
        p.kind
        for p in planted
        if any(_covers(p, a) and (a.kind == "silence" or a.at >= p.at - lead_s) for a in detected)
    )
    false: Counter[str] = Counter(
        a.kind for a in detected if not any(_covers(p, a) for p in planted)
    )
    return AlarmScore(
        {k: planted_n[k] for k in ALARM_KINDS},
        {k: found[k] for k in ALARM_KINDS},
        {k: false[k] for k in ALARM_KINDS},
    )


# --- claims -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimKey:
    shipment_id: str
    trigger: TriggerKind
    tier: int


def tier_for(thresholds: Sequence[float], measure: float) -> int | None:
    """The highest tier whose threshold the measure reaches (thresholds ascending)."""
    reached = [i for i, t in enumerate(thresholds) if measure >= t]
    return reached[-1] if reached else None


def minutes_out_of_band(
    readings: Iterable[TrackerReading], low: float | None, high: float | None, since: float
) -> float:
    """The longest stretch one tracker reported the cargo outside [low, high] from ``since``:
    from its first reading outside to its first reading back inside (or its last reading)."""
    by_device: dict[str, list[TrackerReading]] = {}
    for r in readings:
        if r.ts.timestamp() >= since and r.temperature_c is not None:
            by_device.setdefault(r.device_id, []).append(r)
    longest = 0.0
    for own in by_device.values():
        own.sort(key=lambda r: r.seq)
        began: float | None = None
        for r in own:
            t, c = r.ts.timestamp(), r.temperature_c
            assert c is not None
            outside = (low is not None and c < low) or (high is not None and c > high)
            if outside and began is None:
                began = t
            elif began is not None:
                longest = max(longest, t - began)
                if not outside:
                    began = None
    return longest / 60.0


def expected_claims(
    manifest: Manifest,
    policies: Mapping[str, Policy],
    readings: Mapping[str, Sequence[TrackerReading]],
) -> list[ClaimKey]:
    """The claim (and tier) each planted incident should pay under the shipment's policy."""
    out = []
    for record in manifest.shipments:
        policy = policies.get(record.shipment_id)
        if policy is None:
            continue
        tiers = {t.kind: [float(x.threshold) for x in t.tiers] for t in policy.triggers}
        own = readings.get(record.shipment_id, ())
        for i in record.incidents:
            at = parse_iso(i.at)
            kind: TriggerKind | None = None
            measure = 0.0
            if i.kind == "reefer_failure":
                cond = record.booking.condition
                kind = TriggerKind.TEMPERATURE
                measure = minutes_out_of_band(own, cond.temp_min_c, cond.temp_max_c, at)
            elif i.kind == "rough_handling":
                kind = TriggerKind.SHOCK
                measure = max(
                    (r.shock_g or 0.0 for r in own if r.ts.timestamp() >= at), default=0.0
                )
            elif i.kind == "theft":
                kind, measure = TriggerKind.TAMPER, 1.0
            if kind is None or kind not in tiers:
                continue
            tier = tier_for(tiers[kind], measure)
            if tier is not None:
                out.append(ClaimKey(record.shipment_id, kind, tier))
    return out


def raised_claims(claims: Iterable[ClaimEvent]) -> tuple[list[ClaimKey], int]:
    """Each claim at its highest tier reached, and how many claims were paid."""
    best: dict[str, ClaimKey] = {}
    paid: set[str] = set()
    for claim in claims:
        data = claim.data
        if data.kind in _TIERED:
            held = best.get(data.claim_id)
            if held is None or data.tier > held.tier:
                best[data.claim_id] = ClaimKey(data.shipment_id, data.trigger_kind, data.tier)
        elif data.kind == "claim_paid":
            paid.add(data.claim_id)
    return sorted(best.values(), key=lambda k: (k.shipment_id, k.trigger, k.tier)), len(paid)


@dataclass(frozen=True, slots=True)
class ClaimScore:
    expected: int
    raised: int
    matched: int
    """Expected claims that were raised (same shipment and trigger)."""
    right_tier: int
    paid: int
    false: int
    """Claims no planted incident explains."""


def score_claims(expected: Sequence[ClaimKey], raised: Sequence[ClaimKey], paid: int) -> ClaimScore:
    want = {(k.shipment_id, k.trigger): k.tier for k in expected}
    got: dict[tuple[str, TriggerKind], int] = {}
    for k in raised:
        got[(k.shipment_id, k.trigger)] = max(k.tier, got.get((k.shipment_id, k.trigger), -1))
    return ClaimScore(
        expected=len(want),
        raised=len(raised),
        matched=sum(1 for k in want if k in got),
        right_tier=sum(1 for k, tier in want.items() if got.get(k) == tier),
        paid=paid,
        false=sum(1 for k in raised if (k.shipment_id, k.trigger) not in want),
    )


# --- tranches and interest ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrancheScore:
    expected: int
    """Scheduled tranches whose milestone truly happened (one per shipment and milestone)."""
    released: int
    rejected: dict[str, int] = field(default_factory=dict)
    """Result code -> count."""
    before_departure: int = 0
    """Released with an event time before the goods truly left their origin."""
    max_lead_h: float = 0.0
    """The largest such lead, in hours."""


def expected_tranches(facility: Facility, truth: Iterable[Stamp]) -> int:
    """One tranche per pledged shipment and scheduled milestone it truly reached."""
    scheduled = {m for m, share in facility.drawdown_schedule.items() if share > 0}
    pledged = set(facility.pledged_shipments)
    return len(
        {
            (s.shipment_id, s.milestone)
            for s in truth
            if s.milestone.value in scheduled and s.shipment_id in pledged
        }
    )


def score_tranches(
    finance: Iterable[FinanceEvent], departures: Mapping[str, float], expected: int = 0
) -> TrancheScore:
    released, early, lead = 0, 0, 0.0
    rejected: Counter[str] = Counter()
    for event in finance:
        data = event.data
        if isinstance(data, DrawdownExecuted):
            released += 1
            left = departures.get(data.shipment_id)
            if left is not None and data.at.timestamp() < left:
                early += 1
                lead = max(lead, (left - data.at.timestamp()) / 3600.0)
        elif isinstance(data, DrawdownRejected):
            rejected[f"{data.milestone.value}:{data.code.value}"] += 1
    return TrancheScore(expected, released, dict(sorted(rejected.items())), early, lead)


def booked_interest(finance: Iterable[FinanceEvent]) -> Decimal:
    """Interest income: every day's accrual plus every value-dated repayment's correction of
    the days it reached back into (an ``InterestAdjusted`` amount is signed)."""
    return sum(
        (
            e.data.amount.amount
            for e in finance
            if isinstance(e.data, InterestAccrued | InterestAdjusted)
        ),
        Decimal(0),
    )


def principal_flows(
    finance: Iterable[FinanceEvent], truth: Mapping[tuple[str, Milestone], float]
) -> list[tuple[float, Decimal]]:
    """The principal the line lent and got back, each moved to the true time of its cause: a
    tranche to its milestone's true time, delivery proceeds to the true hand-over; anything
    without a true time (an insurer's payout) keeps its own event time."""
    out = []
    for event in finance:
        data = event.data
        if isinstance(data, DrawdownExecuted):
            at = truth.get((data.shipment_id, data.milestone), data.at.timestamp())
            out.append((at, data.amount.amount))
        elif isinstance(data, RepaymentApplied) and data.principal_paid.amount > 0:
            at = data.at.timestamp()
            if data.source is RepaymentSource.DELIVERY and data.shipment_id is not None:
                at = truth.get((data.shipment_id, Milestone.DELIVERED), at)
            out.append((at, -data.principal_paid.amount))
    return sorted(out)


def reference_interest(
    flows: Sequence[tuple[float, Decimal]], facility: Facility, horizon: datetime
) -> Decimal:
    """Interest on the event-time principal with the engine's own convention
    (:mod:`finance.interest`): each UTC day before ``horizon``'s date accrues the rounded day's
    interest on the principal outstanding at the end of that day."""
    if not flows or facility.interest_rate <= 0:
        return Decimal(0)
    currency = facility.limit.currency
    day = datetime.fromtimestamp(flows[0][0], UTC).date()
    total, principal, i = Decimal(0), Decimal(0), 0
    while day < horizon.date():
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC).timestamp()
        while i < len(flows) and flows[i][0] < end:
            principal += flows[i][1]
            i += 1
        if principal > 0:
            total += daily_interest(principal, facility.interest_rate, facility.day_count, currency)
        day += timedelta(days=1)
    return total
