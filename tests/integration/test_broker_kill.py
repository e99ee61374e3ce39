"""A Kafka broker SIGKILLed under load, on a three-node cluster (`tradelane faults --profile
cluster --kafka-brokers 3`): readings flow MQTT -> bridge -> Kafka -> worker -> finance while one
node dies without a goodbye and comes back seconds later. No reading the bridge acknowledged
to its MQTT publisher may be missing from tracker.readings, and no drawdown or claim may be
missing or doubled against the fault suite's oracle.

The cluster is the run's own (free loopback ports, data under the test's tmp dir, stopped by
pid): the shared services' Kafka is never touched. The long run is `tradelane faults
--profile cluster-full --kafka-brokers 3`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tradelane.settings import MqttSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(420)]


def test_a_broker_sigkilled_under_load_loses_no_reading_and_no_money_effect(
    mqtt_settings: MqttSettings, tmp_path: Path
) -> None:
    report, logs = tmp_path / "report.json", tmp_path / "logs"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "cli.main", "faults"),
            *("--profile", "cluster", "--kafka-brokers", "3", "--seed", "5"),
            *("--json", str(report), "--logs", str(logs)),
        ],
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    print(done.stdout[-6000:])
    print(f"faults exit status {done.returncode}\n{done.stderr[-4000:]}", file=sys.stderr)
    doc = json.loads(report.read_text())
    failed = [c for c in doc["checks"] if not c["ok"]]
    assert not failed, (failed, done.stdout[-4000:])
    assert done.returncode == 0, (done.stdout[-4000:], done.stderr[-4000:])
    assert [i["fault"] for i in doc["injections"]] == ["broker_kill"]
    figures = doc["figures"]
    assert figures["kafka_brokers"] == 3
    assert len(figures["broker_down_s"]) == 1  # the killed node was started again
    assert figures["readings_acked"] > 1000
    names = {c["name"] for c in doc["checks"]}
    assert {
        "readings on tracker.readings",
        "drawdowns vs offline engines",
        "claim events vs offline engines",
        "ledgers verify",
        "no crashes",
    } <= names
    # the run's cluster is gone: its nodes stopped, their data removed
    cluster = logs / "kafka-cluster"
    assert not any(cluster.glob("kafka-*/data")), sorted(cluster.iterdir())
    assert not list((cluster / "run").glob("kafka-*.pid"))
