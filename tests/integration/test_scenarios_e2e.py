"""Every simulator scenario at once through the whole chain on real services: simulators →
Mosquitto → bridge → Kafka → worker (shipment state, pledge engine, insurance engine), each
scenario's fleet pledged to its own demo credit line and insured (`--pledge-to`, `--insure`).
The simulators' manifests are the oracle:

- nominal: the milestones of the voyage, each once, and no breach, alarm, deviation or claim;
- reefer-failure: a consecutive temperature breach that starts after the failure, whose
  progress durations match its event times; a drawdown at departure and a haircut; a tiered
  temperature claim paid to the lender, which the facility books as a repayment that lowers
  its outstanding; and the facility's hash-chained ledger verifies;
- rough-handling: a shock alarm, and a shock claim where the shock passed the policy's 10 g;
- theft: tamper and a corridor deviation;
- port-delay: a predicted delay.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from finance.ledger_store import LedgerStore
from tests.integration.helpers import Tail, bridge_and_worker
from tradelane.contracts import (
    BreachProgress,
    BreachStarted,
    ClaimEvent,
    ClaimPaid,
    DelayPredicted,
    DeviationStarted,
    MilestoneReached,
    ShipmentEvent,
    ShockDetected,
    TamperDetected,
)
from tradelane.contracts.finance import FinanceEvent, RepaymentApplied
from tradelane.settings import KafkaSettings, MqttSettings
from tradelane.topics import FINANCE_EVENTS, INSURANCE_CLAIMS, SHIPMENTS_EVENTS

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

SCENARIOS = ("nominal", "reefer-failure", "rough-handling", "theft", "port-delay")
TRACKERS = 2
ALARMS = {"breach_started", "shock_detected", "tamper_detected", "deviation_started"}


async def simulate(scenario: str, prefix: str, facility: str, manifest: Path) -> dict[str, Any]:
    """One scenario's fleet, every shipment hit by its incident, 25 s at 2 days/s; readings
    every 30 simulated minutes (10 while alarmed) keep the five fleets near 700 readings/s."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        "simulate",
        *("--trackers", str(TRACKERS), "--scenario", scenario, "--incident-share", "1"),
        *("--seed", "5", "--speedup", "172800", "--duration", "25", "--prefix", prefix),
        *("--max-trackers-per-shipment", "1", "--interval", "1800", "--alarm-interval", "600"),
        *("--pledge-to", facility, "--insure", "--manifest", str(manifest), "--quiet"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 180)
    assert proc.returncode == 0, out.decode()
    loaded: dict[str, Any] = json.loads(await asyncio.to_thread(manifest.read_text))
    return loaded


def by_subject(events: list[ShipmentEvent]) -> dict[str, list[ShipmentEvent]]:
    grouped: dict[str, list[ShipmentEvent]] = defaultdict(list)
    for e in events:
        grouped[e.subject].append(e)
    return grouped


def expected_milestones(rec: dict[str, Any]) -> Counter[str]:
    """A voyage's milestones from its manifest: leaving the origin, arriving at and leaving
    every port between, and at the end arrival (plus the bonded warehouse when the destination
    is a bonded zone), customs clearance and delivery."""
    between = sum(
        1 for stop in rec["stops"] if stop["role"] in ("export", "transshipment", "import")
    )
    expected = Counter(
        {
            "departed_origin": 1,
            "arrived_transshipment": between,
            "departed_transshipment": between,
        }
    )
    if rec["delivered_at"]:
        expected.update(["arrived_destination", "customs_cleared", "delivered"])
        if rec["booking"]["destination"]["kind"] == "bonded_zone":
            expected.update(["entered_bonded_warehouse"])
    return expected


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_every_scenario_end_to_end(
    mqtt_settings: MqttSettings, kafka_settings: KafkaSettings, unique: str, tmp_path: Path
) -> None:
    prefixes = {s: f"{s[:3]}{unique[:6]}" for s in SCENARIOS}
    facilities = {s: f"fac-{s}-{unique}" for s in SCENARIOS}

    def insurance_repayments(events: list[FinanceEvent]) -> list[RepaymentApplied]:
        """The reefer line's repayments from claim payouts (the lender is loss payee)."""
        return [
            f.data
            for f in events
            if isinstance(f.data, RepaymentApplied)
            and f.subject == facilities["reefer-failure"]
            and f.data.source.value == "insurance"
        ]

    async with (
        bridge_and_worker(
            mqtt_settings, kafka_settings, f"tradelane-streams-scn-{unique}", tmp_path
        ) as run,
        Tail(kafka_settings, SHIPMENTS_EVENTS.name) as shipment_tail,
        Tail(kafka_settings, FINANCE_EVENTS.name) as finance_tail,
        Tail(kafka_settings, INSURANCE_CLAIMS.name) as claim_tail,
    ):
        manifests = dict(
            zip(
                SCENARIOS,
                await asyncio.gather(
                    *(
                        simulate(s, prefixes[s], facilities[s], tmp_path / f"{s}.json")
                        for s in SCENARIOS
                    )
                ),
                strict=True,
            )
        )
        shipments = {
            rec["shipment_id"]: (scenario, rec)
            for scenario, manifest in manifests.items()
            for rec in manifest["shipments"]
        }
        delivered = {s for s, (_, rec) in shipments.items() if rec["delivered_at"]}
        assert delivered, "no simulated shipment was delivered in the run"

        def events(records: list[Any]) -> list[ShipmentEvent]:
            """Each event once: a redelivered one comes again with its id (consumers
            de-duplicate by id), a second event for the same cause would have a new id."""
            parsed = (ShipmentEvent.model_validate_json(r.value) for r in records)
            unique = {e.id: e for e in parsed if e.subject in shipments}
            return list(unique.values())

        def claims(records: list[Any]) -> list[ClaimEvent]:
            parsed = (ClaimEvent.model_validate_json(r.value) for r in records)
            return [c for c in parsed if c.data.shipment_id in shipments]

        def finance(records: list[Any]) -> list[FinanceEvent]:
            parsed = (FinanceEvent.model_validate_json(r.value) for r in records)
            return [f for f in parsed if f.subject in facilities.values()]

        def caught_up(records: list[Any]) -> bool:
            """Every delivered shipment's `delivered` milestone is out: the worker has read
            every fleet to its end."""
            done = {
                e.subject
                for e in events(records)
                if isinstance(e.data, MilestoneReached) and e.data.milestone.value == "delivered"
            }
            return done >= delivered

        await shipment_tail.until(caught_up, timeout_s=300)
        reefer = {s for s, (scn, _) in shipments.items() if scn == "reefer-failure"}
        shocked = {  # past the demo policy's 10 g: a shock claim is due
            e.subject
            for e in events(shipment_tail.records)
            if isinstance(e.data, ShockDetected) and e.data.g >= 10.0
        }

        def claimed(rs: list[Any], kind: str, trigger: str) -> set[str]:
            return {
                c.data.shipment_id
                for c in claims(rs)
                if c.data.kind == kind and c.data.trigger_kind.value == trigger
            }

        await claim_tail.until(
            lambda rs: (
                claimed(rs, "claim_paid", "temperature") >= reefer
                and claimed(rs, "claim_raised", "shock") >= shocked
            ),
            timeout_s=240,
        )
        await finance_tail.until(lambda rs: bool(insurance_repayments(finance(rs))), 120)

    log = run.worker_log.read_text()[-3000:]
    assert caught_up(shipment_tail.records), log
    grouped = by_subject(events(shipment_tail.records))
    claims_of: dict[str, list[ClaimEvent]] = defaultdict(list)
    for c in claims(claim_tail.records):
        claims_of[c.data.shipment_id].append(c)

    for shipment, (scenario, rec) in sorted(shipments.items()):
        evs = grouped[shipment]
        data = [e.data for e in evs]
        reached = [d for d in data if isinstance(d, MilestoneReached)]
        milestones = [d.milestone.value for d in reached]
        kinds = {d.kind for d in data}
        context = (scenario, shipment, sorted(kinds), milestones, rec["incidents"])
        assert "departed_origin" in milestones, context
        where = [(d.milestone, d.place, d.leg_index) for d in reached]
        assert len(where) == len(set(where)), context  # each milestone once per place
        if rec["delivered_at"]:
            assert {"arrived_destination", "customs_cleared", "delivered"} <= set(milestones)

        if scenario == "nominal":
            assert Counter(milestones) == expected_milestones(rec), context
            assert not kinds & ALARMS, context
            assert not claims_of[shipment], (context, claims_of[shipment])
        elif scenario == "reefer-failure":
            failed_at = when(rec["incidents"][0]["at"])
            started = [
                d for d in data if isinstance(d, BreachStarted) and d.rule.value == "consecutive"
            ]
            assert started, context
            assert started[0].breach.value.startswith("temperature"), context
            assert failed_at <= started[0].started_at, context
            for p in (d for d in data if isinstance(d, BreachProgress)):
                if p.started_at == started[0].started_at:
                    assert 0 < p.duration_s <= (p.at - p.started_at).total_seconds(), p
            kinds_paid = [c.data for c in claims_of[shipment]]
            assert {c.kind for c in kinds_paid} >= {"claim_raised", "claim_paid"}, kinds_paid
            paid = [c for c in kinds_paid if isinstance(c, ClaimPaid)]
            assert all(c.trigger_kind.value == "temperature" for c in paid), paid
            assert {c.payee_role.value for c in paid} == {"lender"}, paid
            assert {c.facility_id for c in paid} == {facilities[scenario]}, paid
        elif scenario == "rough-handling":
            assert any(isinstance(d, ShockDetected) for d in data), context
            peak = max(d.g for d in data if isinstance(d, ShockDetected))
            shock_claims = [c for c in claims_of[shipment] if c.data.trigger_kind.value == "shock"]
            assert bool(shock_claims) == (peak >= 10.0), (context, peak, shock_claims)
        elif scenario == "theft":
            assert any(isinstance(d, TamperDetected) for d in data), context
            assert any(isinstance(d, DeviationStarted) for d in data), context
        elif scenario == "port-delay":
            assert any(isinstance(d, DelayPredicted) for d in data), context

    reefer_line = [
        f.data.kind
        for f in finance(finance_tail.records)
        if f.subject == facilities["reefer-failure"]
    ]
    assert {"drawdown_executed", "borrowing_base_changed"} <= set(reefer_line), reefer_line
    verified = await LedgerStore(kafka_settings).verify(facilities["reefer-failure"])
    assert verified.ok, verified
    assert verified.entries > 0
    repayments = insurance_repayments(finance(finance_tail.records))
    assert repayments, [f.data.kind for f in finance(finance_tail.records)]
    assert any(r.principal_paid.amount > 0 for r in repayments), repayments  # outstanding fell
    assert run.worker_exit == 0, log
