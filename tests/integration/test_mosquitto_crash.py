"""Mosquitto's crash window, measured on the real broker as a user measures it
(`tradelane faults --mosquitto-crash`): a SIGKILL loses at most what the broker acknowledged
since its last autosave (5 s, config/mosquitto/mosquitto.conf); everything older reaches the
persistent session after the restart. docs/reliability.md has the figures of more trials."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tradelane.settings import MqttSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]
SEED = 2
"""Its one trial publishes for 8.7 s, longer than an autosave interval."""
AUTOSAVE_S = 5.0
SLACK_S = 1.5
"""The save itself takes a moment."""


def test_a_crash_loses_at_most_the_last_autosave_interval(
    mqtt_settings: MqttSettings, tmp_path: Path
) -> None:
    report = tmp_path / "crash.json"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "cli.main", "faults"),
            *("--mosquitto-crash", "1", "--seed", str(SEED), "--json", str(report)),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [result] = json.loads(report.read_text())
    assert result["published_s"] > AUTOSAVE_S + SLACK_S
    assert result["acknowledged"] > 1000
    assert result["lost"] < result["acknowledged"], result  # what was saved came back
    assert result["oldest_lost_age_s"] is None or (
        result["oldest_lost_age_s"] <= AUTOSAVE_S + SLACK_S
    ), result
