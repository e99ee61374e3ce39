"""The scenario-truth suite's short profile through the real pipeline: the nominal fleet of
`tradelane bench truth` (5 trackers: 4 shipments, one of them with two trackers) in two delivery
orders (ideal, and one of the pair's trackers 50 minutes behind its sibling) published over MQTT
through a bridge and a worker (child processes), its outputs read back from Kafka.

The pipeline must book what the pure cores book for the same order: the same milestones at the
same times, the same tranches (shipment, milestone, amount, time), no claim, the same interest
to the cent; and the nominal floors hold: no claim, no tamper, no rejected tranche, none before
the goods moved, interest equal to the event-time reference. The whole suite (every scenario
and order) is `tradelane bench truth --pipeline`; its figures are in docs/reliability.md."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest

from faults.truth.compare import booked_interest, detected_alarms
from faults.truth.differences import claims, milestones, tranches
from faults.truth.pipeline import compare_case, plan_case, publish_fx, run_cases, with_fx
from tradelane.settings import KafkaSettings, MqttSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1500)]
SEED = 11
TRACKERS = 5
ORDERS = ("ideal", "slow")


def test_pipeline_books_what_the_pure_replay_books(
    mqtt_settings: MqttSettings, kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    run_id = secrets.token_hex(3)
    cases = [plan_case("nominal", order, SEED, TRACKERS, run_id) for order in ORDERS]
    fx = asyncio.run(publish_fx(kafka_settings))
    cases = [with_fx(c, fx) for c in cases]
    outputs, notes = asyncio.run(
        run_cases(cases, run_id, tmp_path / "logs", kafka_settings, mqtt_settings)
    )
    assert notes == []  # every segment taken, every output settled, in time
    for case in cases:
        got = outputs[case.key]
        result = compare_case(case, got, SEED)
        row, want = result.pipeline, result.replayed
        # what the pure cores book for this order, the pipeline books
        assert milestones(want, got) == [], case.key
        assert tranches(want, got) == [], case.key
        assert claims(want, got) == [], case.key
        assert booked_interest(got.finance) == booked_interest(want.finance), case.key
        assert result.vs_replay == [], (case.key, result.vs_replay)
        # the nominal floors
        assert row.milestones.matched == row.milestones.truth > 0, case.key
        assert row.milestones == result.replay.milestones, case.key
        assert row.claims.raised == row.claims.paid == 0, case.key
        assert not [a for a in detected_alarms(got.events.values()) if a.kind == "tamper"]
        assert row.tranches.released == row.tranches.expected > 0, case.key
        assert row.tranches.rejected == {}, case.key
        assert row.tranches.before_departure == 0, case.key
        assert row.interest_booked == row.interest_reference > 0, case.key
