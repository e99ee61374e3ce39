"""A Kafka broker SIGKILLed under load, on a three-node cluster (`tradelane faults --profile
cluster --kafka-brokers 3`): readings flow MQTT -> bridge -> Kafka -> worker -> finance while one
node dies without a goodbye and comes back seconds later. No reading the bridge acknowledged
to its MQTT publisher may be missing from tracker.readings, and no drawdown or claim may be
missing or doubled against the fault suite's oracle.

The cluster is the run's own (free loopback ports, data under the test's tmp dir, stopped by
pid), and so is its Mosquitto (a home of its own, free ports): the shared services are never
touched, and no other test's bridge sees this run's fleet or this run's bridge another test's.
That isolation lets `scripts/test.sh` run this test beside the other integration tests. The
long run is `tradelane faults --profile cluster-full --kafka-brokers 3`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.services.mosquitto import Mosquitto
from faults.cluster import free_ports
from tradelane.settings import ServicesSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(420)]


@pytest.fixture
def own_mosquitto(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A Mosquitto of this test's own, as `tradelane services up` runs one (passwords, ACLs,
    TLS listeners), in a home of its own on free loopback ports; the environment that points
    a child `tradelane` at it (and at that home's keyring and device provisioning)."""
    port = free_ports(3)
    env = {
        "TRADELANE_HOME": str(tmp_path / "home"),
        "TRADELANE_MQTT_URL": f"mqtt://127.0.0.1:{port}",
        "TRADELANE_MQTT_TLS_PORT": str(port + 1),
        "TRADELANE_MQTT_MTLS_PORT": str(port + 2),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    broker = Mosquitto(ServicesSettings())
    with warnings.catch_warnings():
        # the broker runs detached, remembered by pid: its Popen is dropped running
        warnings.simplefilter("ignore", ResourceWarning)
        broker.up()
    try:
        yield env
    finally:
        broker.down()


def test_a_broker_sigkilled_under_load_loses_no_reading_and_no_money_effect(
    own_mosquitto: dict[str, str], tmp_path: Path
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
        env={**os.environ, **own_mosquitto},
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
