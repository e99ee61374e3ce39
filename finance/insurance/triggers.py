"""Judge one policy trigger against a shipment's observations: which tier it has reached, the
measure that reached it, and the proofs the data-quality gate must accept.

A tier is reached when the measure is at least its threshold; of the tiers reached, the one
with the largest share counts (thresholds need not be listed in order). Units by kind:

========== =========================================================== ===========
kind       measure                                                     unit
========== =========================================================== ===========
temperature  minutes out of band: the longest episode (consecutive) or  minutes
             the trip's total (cumulative), high and low together
shock      the largest shock any tracker reported                      g
tamper     1 once any tracker reported tamper or light                 events
delay      arrival at destination minus planned arrival                hours
deviation  the largest distance off the corridor of any episode        km
========== =========================================================== ===========

A delay trigger with ``per_day_share`` pays that share for every started day from its first
tier's threshold on (the day starting at the threshold counts), up to ``cap_share`` (else 1).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from tradelane.contracts import BreachRule, Evidence, MeasureUnit, Policy, Trigger, TriggerKind

from .state import Observation, ShipmentObservations

UNITS = {
    TriggerKind.TEMPERATURE: MeasureUnit.MINUTES,
    TriggerKind.SHOCK: MeasureUnit.G,
    TriggerKind.TAMPER: MeasureUnit.EVENTS,
    TriggerKind.DELAY: MeasureUnit.HOURS,
    TriggerKind.DEVIATION: MeasureUnit.KM,
}


@dataclass(frozen=True, slots=True)
class Proof:
    """Evidence the gate must accept, and what it is claimed to show."""

    evidence: Evidence | None
    at: datetime
    claimed_s: float = 0.0
    """Seconds the readings must cover (a breach's duration); 0 for point events."""
    contiguous: bool = True
    """False for a cumulative total, whose readings may legitimately have gaps between
    episodes: then only coverage counts, not the longest gap."""
    confirm: bool = True
    """Whether its readings must make up the gate's ``min_observations``. False for an
    arrival: a stray reading inside the destination can only bring the arrival forward, and
    so shorten a delay, never lengthen it."""


@dataclass(frozen=True, slots=True)
class Rung:
    """A tier on the way to a hit, and the event time the trigger reached it.

    Each rung is paid on its own, dated when its tier was reached: the loss happened then, and
    the lender's loan is repaid as of that date, so the date must not depend on when the
    evidence that approved the claim arrived."""

    tier: int
    share: Decimal
    at: datetime


@dataclass(frozen=True, slots=True)
class Hit:
    """A trigger at a tier."""

    tier: int
    share: Decimal
    measure: float
    unit: MeasureUnit
    threshold: float
    proofs: tuple[Proof, ...]
    quorum_over: Literal["each", "union"]
    """``each``: every proof needs a quorum of agreeing trackers (one breach seen by several);
    ``union``: the trackers agreeing across all proofs count together (one report each)."""
    at: datetime
    """When the trigger reached this tier (see :func:`ladder`), not when it was seen."""
    cause_event_id: str
    rungs: tuple[Rung, ...] = ()
    """Every paying tier up to this one, by ascending share, each dated when reached."""


def trigger_keys(policy: Policy) -> list[tuple[str, Trigger]]:
    """Each trigger's stable key: its ``trigger_id``, else its kind, numbered from 1 when the
    kind repeats (``temperature.1``, ``temperature.2``). Keys are unique within a policy."""
    repeated = Counter(t.kind for t in policy.triggers if t.trigger_id is None)
    numbered: Counter[TriggerKind] = Counter()
    keys: list[tuple[str, Trigger]] = []
    used: set[str] = set()
    for index, trigger in enumerate(policy.triggers):
        if trigger.trigger_id is not None:
            key = trigger.trigger_id
        elif repeated[trigger.kind] > 1:
            numbered[trigger.kind] += 1
            key = f"{trigger.kind}.{numbered[trigger.kind]}"
        else:
            key = str(trigger.kind)
        if key in used:
            key = f"{key}.{index}"
        used.add(key)
        keys.append((key, trigger))
    return keys


def evaluate(trigger: Trigger, obs: ShipmentObservations) -> Hit | None:
    """The tier ``trigger`` has reached on ``obs``, or None (nothing reached, or no share);
    the hit is dated when its tier was reached, with the rungs below it."""
    hit = _judge(trigger, obs)
    if hit is None:
        return None
    rungs = ladder(trigger, obs, hit)
    return replace(hit, at=rungs[-1].at, rungs=rungs)


def _judge(trigger: Trigger, obs: ShipmentObservations) -> Hit | None:
    match trigger.kind:
        case TriggerKind.TEMPERATURE:
            return _temperature(trigger, obs)
        case TriggerKind.SHOCK:
            return _shock(trigger, obs)
        case TriggerKind.TAMPER:
            return _per_device(trigger, obs.tampers)
        case TriggerKind.DELAY:
            return _delay(trigger, obs)
        case TriggerKind.DEVIATION:
            return _deviation(trigger, obs)


def ladder(trigger: Trigger, obs: ShipmentObservations, hit: Hit) -> tuple[Rung, ...]:
    """The paying tiers up to ``hit``'s (each share larger than the one before), each dated at
    the earliest event time any sighting shows it reached.

    A function of the observations, not of the order they arrived in: in event-time order
    each rung is paid as it is reached; when a claim held for review is approved later by
    evidence that arrived late, the same rungs are paid with the same dates. A consecutive
    excursion reached a tier ``threshold`` minutes after it started (whatever the cadence of
    its progress reports); a shock, a tamper or a deviation when it was reported. A
    cumulative total (its history is not kept) and a delay (judged at arrival) date every
    rung at the hit's own time."""
    if trigger.kind is TriggerKind.DELAY:
        return (Rung(hit.tier, hit.share, hit.at),)
    ranked = sorted(trigger.tiers, key=lambda t: (t.threshold, t.share))
    steps: list[tuple[int, Decimal, float]] = []
    for index, tier in enumerate(ranked):
        if tier.threshold > hit.threshold or tier.share >= hit.share:
            continue
        if tier.share > 0 and (not steps or tier.share > steps[-1][1]):
            steps.append((index, tier.share, tier.threshold))
    steps.append((hit.tier, hit.share, hit.threshold))
    rungs: list[Rung] = []
    latest = hit.at
    for index, share, threshold in reversed(steps):
        # A lower tier was reached no later than a higher one.
        latest = min(latest, _reached_at(trigger, obs, threshold) or latest)
        rungs.append(Rung(index, share, latest))
    return tuple(reversed(rungs))


def _reached_at(trigger: Trigger, obs: ShipmentObservations, threshold: float) -> datetime | None:
    """The earliest event time a sighting shows ``threshold`` reached; None when unknown."""
    match trigger.kind:
        case TriggerKind.TEMPERATURE if not trigger.cumulative:
            limit = threshold * 60
            return min(
                (
                    min(o.started_at + timedelta(seconds=limit), o.at) if o.started_at else o.at
                    for o in obs.temperature.values()
                    if o.rule is BreachRule.CONSECUTIVE and o.measure >= limit
                ),
                default=None,
            )
        case TriggerKind.SHOCK:
            sightings = {**obs.shocks, **obs.shock_sightings}.values()
            return min((o.at for o in sightings if o.measure >= threshold), default=None)
        case TriggerKind.TAMPER:
            return min((o.at for o in obs.tampers.values()), default=None)
        case TriggerKind.DEVIATION:
            seen = obs.deviations.values()
            return min((o.at for o in seen if o.measure >= threshold), default=None)
        case _:
            return None


def reached(trigger: Trigger, measure: float) -> tuple[int, Decimal, float] | None:
    """(tier index in ascending thresholds, share, threshold) of the best tier reached."""
    ranked = sorted(trigger.tiers, key=lambda t: (t.threshold, t.share))
    best: tuple[int, Decimal, float] | None = None
    for index, tier in enumerate(ranked):
        if tier.threshold <= measure and (best is None or tier.share >= best[1]):
            best = (index, tier.share, tier.threshold)
    if best is None or best[1] <= 0:
        return None
    return best


def _hit(
    trigger: Trigger,
    measure: float,
    proofs: tuple[Proof, ...],
    cause: Observation,
    quorum_over: Literal["each", "union"] = "each",
) -> Hit | None:
    tier = reached(trigger, measure)
    if tier is None:
        return None
    index, share, threshold = tier
    return Hit(
        tier=index,
        share=share,
        measure=measure,
        unit=UNITS[trigger.kind],
        threshold=threshold,
        proofs=proofs,
        quorum_over=quorum_over,
        at=cause.at,
        cause_event_id=cause.event_id,
    )


def _latest(observations: list[Observation]) -> Observation:
    return max(observations, key=lambda o: (o.at, o.event_id))


def _temperature(trigger: Trigger, obs: ShipmentObservations) -> Hit | None:
    episodes = _clusters(
        (key, o) for key, o in obs.temperature.items() if o.rule is BreachRule.CONSECUTIVE
    )
    if not trigger.cumulative:
        if not episodes:
            return None
        longest = max(episodes, key=lambda c: (c[0].measure, -c[0].at.timestamp()))
        hit = _hit(trigger, longest[0].measure / 60, (), longest[0], quorum_over="union")
        if hit is None:
            return None
        # A tracker agrees when its own episode reached the tier; its readings must cover the
        # tier's duration (what pays), not the whole episode: a 14-hour excursion proves a
        # 6-hour tier with the readings of its first hours, whatever arrived when.
        tier_s = hit.threshold * 60
        proofs = tuple(
            Proof(o.evidence, o.at, claimed_s=min(o.measure, tier_s))
            for o in longest
            if o.measure >= tier_s
        )
        return replace(hit, proofs=proofs)
    totals = _per_kind_totals(obs)
    from_totals = sum(max(o.measure for o in own) for own in totals.values())
    from_episodes = sum(c[0].measure for c in episodes)
    if from_totals >= from_episodes and totals:
        ordered = sorted((o for own in totals.values() for o in own), key=lambda o: o.event_id)
        proofs = tuple(Proof(o.evidence, o.at, o.measure, contiguous=False) for o in ordered)
        return _hit(trigger, from_totals / 60, proofs, _latest(ordered), quorum_over="union")
    if not episodes:
        return None
    proofs = tuple(Proof(o.evidence, o.at, claimed_s=c[0].measure) for c in episodes for o in c)
    cause = _latest([c[0] for c in episodes])
    return _hit(trigger, from_episodes / 60, proofs, cause, quorum_over="union")


def _per_kind_totals(obs: ShipmentObservations) -> dict[str, list[Observation]]:
    """Each breach kind's cumulative totals, one per tracker (keyed ``{kind}/cumulative/…``)."""
    out: dict[str, list[Observation]] = {}
    for key, o in sorted(obs.temperature.items()):
        if o.rule is BreachRule.CUMULATIVE:
            out.setdefault(key.split("/", 1)[0], []).append(o)
    return out


def _clusters(episodes: Iterable[tuple[str, Observation]]) -> list[list[Observation]]:
    """One excursion per group of overlapping episodes of one breach kind, longest first.

    The streams keep an excursion per tracker (a tracker's readings in its own order), so one
    warm container is one episode per tracker; those whose spans (start to latest report)
    overlap are the same excursion, seen by each tracker that reported it. A function of the
    set of episodes, not of the order their events arrived in: a tracker whose readings were
    held in its store joins the excursion when they arrive."""
    ordered = sorted(
        ((key.split("/", 1)[0], o.started_at or o.at, key, o) for key, o in episodes),
        key=lambda e: (e[0], e[1], e[2]),
    )
    groups: list[list[Observation]] = []
    kind, end = "", None
    for breach, start, _, o in ordered:
        if groups and breach == kind and end is not None and start <= end:
            groups[-1].append(o)
            end = max(end, o.at)
        else:
            groups.append([o])
            kind, end = breach, o.at
    return [sorted(g, key=lambda o: (-o.measure, o.at, o.event_id)) for g in groups]


def _per_device(trigger: Trigger, by_device: dict[str, Observation]) -> Hit | None:
    """Shock and tamper are reported by one tracker at a time: the trackers whose own report
    reaches the tier are the ones that agree."""
    if not by_device:
        return None
    measure = max(o.measure for o in by_device.values())
    tier = reached(trigger, measure)
    if tier is None:
        return None
    agreeing = sorted((device, o) for device, o in by_device.items() if o.measure >= tier[2])
    cause = max((o for _, o in agreeing), key=lambda o: (o.measure, o.at, o.event_id))
    proofs = tuple(Proof(o.evidence, o.at) for _, o in agreeing)
    return _hit(trigger, measure, proofs, cause, quorum_over="union")


def _shock(trigger: Trigger, obs: ShipmentObservations) -> Hit | None:
    """The largest shock sets the tier; every sighting that reaches the tier is a proof, so
    another reading of the same tracker, or another tracker, can confirm it."""
    hit = _per_device(trigger, obs.shocks)
    if hit is None:
        return None
    sightings = sorted(
        (key, o) for key, o in obs.shock_sightings.items() if o.measure >= hit.threshold
    )
    if not sightings:  # a state from before the sightings were kept
        return hit
    proofs = tuple(Proof(o.evidence, o.at) for _, o in sightings)
    return replace(hit, proofs=proofs)


def _deviation(trigger: Trigger, obs: ShipmentObservations) -> Hit | None:
    if not obs.deviations:
        return None
    widest = max(obs.deviations.values(), key=lambda o: (o.measure, o.at, o.event_id))
    return _hit(trigger, widest.measure, (Proof(widest.evidence, widest.at),), widest)


def _delay(trigger: Trigger, obs: ShipmentObservations) -> Hit | None:
    """Delay is judged at arrival only: a predicted delay is a forecast, not a loss."""
    arrival, planned = obs.arrival, obs.planned_arrival
    if arrival is None or planned is None:
        return None
    delay_h = (arrival.at - planned).total_seconds() / 3600
    if delay_h <= 0:
        return None
    proofs = (Proof(arrival.evidence, arrival.at, confirm=False),)
    if trigger.per_day_share is None:
        return _hit(trigger, delay_h, proofs, arrival)
    start_h = min(t.threshold for t in trigger.tiers)
    if delay_h < start_h:
        return None
    days = math.floor((delay_h - start_h) / 24) + 1
    cap = trigger.cap_share if trigger.cap_share is not None else Decimal(1)
    share = min(trigger.per_day_share * days, cap)
    if share <= 0:
        return None
    return Hit(
        tier=days,
        share=share,
        measure=delay_h,
        unit=MeasureUnit.HOURS,
        threshold=start_h + 24 * (days - 1),
        proofs=proofs,
        quorum_over="each",
        at=arrival.at,
        cause_event_id=arrival.event_id,
    )
