"""Small fleets for the simulator's unit tests (planning is cached per config)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from devices.config import FleetConfig
from devices.engine import FleetEngine
from devices.messages import Kind, Outgoing
from devices.plan import FleetPlan, plan_fleet

START = datetime(2026, 3, 2, tzinfo=UTC)
DAY = 86400.0


def config(**overrides: object) -> FleetConfig:
    values: dict[str, object] = {"start": START, "trackers": 12, "seed": 11, "interval_s": 1800}
    values.update(overrides)
    return FleetConfig(**values)  # type: ignore[arg-type]


@cache
def _plan(cfg: FleetConfig) -> FleetPlan:
    return plan_fleet(cfg)


def plan(**overrides: object) -> FleetPlan:
    return _plan(config(**overrides))


def run(plan_: FleetPlan, days: float, *, steps: int = 1, finish: bool = False) -> list[Outgoing]:
    """Advance a fresh engine ``days`` simulated days in ``steps`` equal increments
    (``finish``: then release what delivery faults still hold, as the end of a run does)."""
    return run_engine(FleetEngine(plan_), days, steps=steps, finish=finish)


def run_engine(
    engine: FleetEngine, days: float, *, steps: int = 1, finish: bool = False
) -> list[Outgoing]:
    out: list[Outgoing] = []
    start = engine.plan.config.start_ts
    for i in range(1, steps + 1):
        out += engine.advance(start + days * DAY * i / steps)
    if finish:
        out += engine.finish()
    return out


def readings(msgs: list[Outgoing]) -> list[Outgoing]:
    return [m for m in msgs if m.kind is Kind.READING]
