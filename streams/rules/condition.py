"""Condition excursions: temperature and humidity outside the cargo's band, per tracker.

Consecutive: outside for ``consecutive_minutes`` without a break. Cumulative: outside for
``cumulative_minutes`` in total over the trip (a gap counts for at most ``max_gap_minutes``).
A started breach reports progress at marks (:func:`progress_mark`) and ends with its evidence
and the trip's mean kinetic temperature.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from streams.rules.context import StepContext
from streams.rules.evidence import evidence
from streams.rules.settings import DEFAULT_RULES, StreamRules
from streams.state import Excursion, ShipmentState
from tradelane.contracts import (
    BreachEnded,
    BreachKind,
    BreachProgress,
    BreachRule,
    BreachStarted,
    Milestone,
    TrackerReading,
)

MKT_DH_OVER_R = 10_000.0  # ΔH/R in kelvin (83.144 kJ/mol / 8.3144 J/mol/K), USP <1079>


def kinetic_sample(state: ShipmentState, temperature_c: float) -> None:
    """Add a temperature to the trip's mean kinetic temperature (:meth:`ShipmentState.mkt`)."""
    state.mkt_sum += math.exp(-MKT_DH_OVER_R / (temperature_c + 273.15))
    state.mkt_n += 1


def conditions(ctx: StepContext, r: TrackerReading) -> None:
    """Both rules for every bound ``r`` can be checked against, from ``grace_after_departure``
    after departure (loading) until delivery."""
    state, rules = ctx.state, ctx.rules
    departed = state.departed_origin_at
    if departed is None or r.ts < departed + timedelta(minutes=rules.grace_after_departure_minutes):
        return
    if Milestone.DELIVERED in state.milestones:
        return
    for kind, value, limit in _band(state, r):
        outside = _outside(kind, value, limit)
        key = f"{kind.value}/{r.device_id}"
        _consecutive(
            ctx,
            state.consecutive.setdefault(key, Excursion(breach=kind, device_id=r.device_id)),
            r,
            value,
            limit,
            outside,
        )
        _cumulative(
            ctx,
            state.cumulative.setdefault(key, Excursion(breach=kind, device_id=r.device_id)),
            r,
            value,
            limit,
            outside,
        )


def _band(state: ShipmentState, r: TrackerReading) -> list[tuple[BreachKind, float, float]]:
    """(breach kind, value, limit) for every bound this reading can be checked against."""
    assert state.booking is not None
    c = state.booking.condition
    checks: list[tuple[BreachKind, float, float]] = []
    if r.temperature_c is not None:
        if c.temp_max_c is not None:
            checks.append((BreachKind.TEMPERATURE_HIGH, r.temperature_c, c.temp_max_c))
        if c.temp_min_c is not None:
            checks.append((BreachKind.TEMPERATURE_LOW, r.temperature_c, c.temp_min_c))
    if r.humidity_pct is not None and c.humidity_max_pct is not None:
        checks.append((BreachKind.HUMIDITY_HIGH, r.humidity_pct, c.humidity_max_pct))
    return checks


def _outside(kind: BreachKind, value: float, limit: float) -> bool:
    return value < limit if kind is BreachKind.TEMPERATURE_LOW else value > limit


def _field(kind: BreachKind) -> str:
    return "humidity_pct" if kind is BreachKind.HUMIDITY_HIGH else "temperature_c"


def _cause(ex: Excursion, rule: str, *rest: str) -> tuple[str, ...]:
    """An excursion event's cause: its breach kind, rule, tracker and the rule's own parts
    (the tracker is left out for a state kept before excursions were per tracker, so its
    events keep their ids)."""
    own = () if ex.device_id is None else (ex.device_id,)
    return (ex.breach.value, rule, *own, *rest)


def _keep(ex: Excursion, r: TrackerReading, rules: StreamRules) -> None:
    if len(ex.readings) < rules.evidence_max_readings:
        ex.readings.append(r)


def _consecutive(
    ctx: StepContext, ex: Excursion, r: TrackerReading, value: float, limit: float, outside: bool
) -> None:
    """The consecutive rule: one episode from the first reading outside to the first back."""
    if not outside:
        _consecutive_back(ctx, ex, r, value)
        return
    rules = ctx.rules
    pick = min if ex.breach is BreachKind.TEMPERATURE_LOW else max
    if not ex.out:
        ex.out, ex.since, ex.last_ts, ex.peak, ex.readings, ex.started, ex.steps = (
            True,
            r.ts,
            r.ts,
            value,
            [],
            False,
            0,
        )
    assert ex.since is not None
    ex.peak = pick(ex.peak if ex.peak is not None else value, value)
    ex.last_ts = max(ex.last_ts or r.ts, r.ts)
    _keep(ex, r, rules)
    duration = int((ex.last_ts - ex.since).total_seconds())
    ex.duration_s = duration
    since = ex.since.isoformat()
    if not ex.started and duration >= rules.consecutive_minutes * 60:
        ex.started = True
        ctx.emit(
            BreachStarted(
                breach=ex.breach,
                rule=BreachRule.CONSECUTIVE,
                limit=limit,
                minutes=rules.consecutive_minutes,
                started_at=ex.since,
                value=value,
            ),
            r.ts,
            *_cause(ex, "consecutive", since),
        )
    _progress(ctx, ex, BreachRule.CONSECUTIVE, r.ts, duration, since)


def _consecutive_back(ctx: StepContext, ex: Excursion, r: TrackerReading, value: float) -> None:
    """Back inside the band: the episode ends (reported if it had started a breach)."""
    if not ex.out or ex.since is None:
        return
    if ex.started:
        duration = int((r.ts - ex.since).total_seconds())
        ctx.emit(
            BreachEnded(
                breach=ex.breach,
                rule=BreachRule.CONSECUTIVE,
                started_at=ex.since,
                ended_at=r.ts,
                duration_s=max(0, duration),
                peak=ex.peak if ex.peak is not None else value,
                mean_kinetic_temperature_c=ctx.state.mkt(),
                evidence=evidence(ex.readings, _field(ex.breach)),
            ),
            r.ts,
            *_cause(ex, "consecutive", ex.since.isoformat()),
        )
    ex.out, ex.since, ex.readings, ex.started, ex.steps, ex.peak = (
        False,
        None,
        [],
        False,
        0,
        None,
    )


def _cumulative(
    ctx: StepContext, ex: Excursion, r: TrackerReading, value: float, limit: float, outside: bool
) -> None:
    """The cumulative rule: the trip's total time outside, each gap counted up to a limit."""
    rules = ctx.rules
    pick = min if ex.breach is BreachKind.TEMPERATURE_LOW else max
    if ex.last_ts is not None and ex.out and r.ts > ex.last_ts:
        gap = min((r.ts - ex.last_ts).total_seconds(), rules.max_gap_minutes * 60)
        ex.duration_s += gap
    if ex.last_ts is None or r.ts > ex.last_ts:
        ex.last_ts = r.ts
    ex.out = outside
    if not outside:
        return
    if ex.since is None:
        ex.since = r.ts
    ex.peak = pick(ex.peak if ex.peak is not None else value, value)
    _keep(ex, r, rules)
    duration = int(ex.duration_s)
    if not ex.started and duration >= rules.cumulative_minutes * 60:
        ex.started = True
        ctx.emit(
            BreachStarted(
                breach=ex.breach,
                rule=BreachRule.CUMULATIVE,
                limit=limit,
                minutes=rules.cumulative_minutes,
                started_at=ex.since,
                value=value,
            ),
            r.ts,
            *_cause(ex, "cumulative"),
        )
    _progress(ctx, ex, BreachRule.CUMULATIVE, r.ts, duration)


def _progress(
    ctx: StepContext,
    ex: Excursion,
    rule: BreachRule,
    at: datetime,
    duration: int,
    *cause: str,
) -> None:
    """BreachProgress each time a started breach's duration crosses another mark."""
    steps = progress_mark(duration, ctx.rules)
    if not ex.started or steps <= ex.steps or ex.since is None or ex.peak is None:
        return
    ex.steps = steps
    ctx.emit(
        BreachProgress(
            breach=ex.breach,
            rule=rule,
            started_at=ex.since,
            at=at,
            duration_s=duration,
            peak=ex.peak,
            evidence=evidence(ex.readings, _field(ex.breach)),
        ),
        at,
        *_cause(ex, rule.value, *cause),
        steps,
    )


def progress_mark(duration_s: int, rules: StreamRules = DEFAULT_RULES) -> int:
    """How many progress marks a breach of ``duration_s`` has crossed. Marks come every
    ``progress_step_minutes`` (15) up to ``progress_fine_hours`` (6 h), hourly up to a day,
    then every ``progress_coarse_hours`` (6 h): tiered triggers see the first hours finely,
    and a reefer dead for weeks emits a few events a day, not one per quarter-hour (each
    carries its evidence, and thousands of them were what held a worker back)."""
    step = rules.progress_step_minutes * 60
    fine = rules.progress_fine_hours * 3600
    day = 24 * 3600
    if duration_s < fine:
        return duration_s // step
    fine_marks = fine // step
    if duration_s < day:
        return fine_marks + (duration_s - fine) // 3600
    hourly_marks = (day - fine) // 3600
    return fine_marks + hourly_marks + (duration_s - day) // (rules.progress_coarse_hours * 3600)


def close_cumulative(ctx: StepContext, at: datetime) -> None:
    """At delivery, every started cumulative breach ends (the trip's total is final)."""
    for ex in ctx.state.cumulative.values():
        if ex.started and ex.since is not None:
            ctx.emit(
                BreachEnded(
                    breach=ex.breach,
                    rule=BreachRule.CUMULATIVE,
                    started_at=ex.since,
                    ended_at=at,
                    duration_s=int(ex.duration_s),
                    peak=ex.peak if ex.peak is not None else 0.0,
                    mean_kinetic_temperature_c=ctx.state.mkt(),
                    evidence=evidence(ex.readings, _field(ex.breach)),
                ),
                at,
                *_cause(ex, "cumulative", "end"),
            )
