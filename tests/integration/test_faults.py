"""The fault suite's short profile, as a user runs it (`tradelane faults`), on the real
services: the bridge and the worker SIGKILLed mid-stream, the worker group scaled 1 → 2 → 1,
the Kafka broker restarted, the group rewound and reprocessed, 10 % malformed traffic. Every
check of the report must hold, and the report must name every fault the schedule planned.

The full profile (about 40,000 readings, 10 + 10 kills, 5 scale cycles) runs with
`make faults`; its figures are in docs/reliability.md."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from faults.profiles import PROFILES
from faults.schedule import plan
from tradelane.settings import KafkaSettings, MqttSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1200)]
SEED = 3


def test_short_fault_profile_keeps_every_promise(
    mqtt_settings: MqttSettings, kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "cli.main", "faults"),
            *("--profile", "short", "--seed", str(SEED)),
            *("--json", str(report), "--logs", str(tmp_path / "logs")),
        ],
        capture_output=True,
        text=True,
        timeout=1100,
        check=False,
    )
    print(done.stdout[-6000:])
    # why a run ended early, when it did
    print(f"faults exit status {done.returncode}\n{done.stderr[-4000:]}", file=sys.stderr)
    doc = json.loads(report.read_text())
    failed = [c for c in doc["checks"] if not c["ok"]]
    assert not failed, (failed, done.stdout[-4000:])
    assert done.returncode == 0, (done.stdout[-4000:], done.stderr[-4000:])
    planned = Counter(i.fault.value for i in plan(PROFILES["short"], SEED))
    assert Counter(i["fault"] for i in doc["injections"]) == planned
    names = {c["name"] for c in doc["checks"]}
    assert {
        "readings on tracker.readings",
        "malformed payloads dead-lettered",
        "drawdowns vs offline engines",
        "claim events vs offline engines",
        "ledgers verify",
        "pipeline resumed by itself",
        "reset to offset 0 and reprocess",
        "no crashes",
    } <= names
    figures = doc["figures"]
    assert figures["readings_acked"] > 2000
    assert figures["malformed_acked"] > 100
