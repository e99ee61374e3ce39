"""The real Prometheus scrapes every process: a bridge, a worker, a sink, the API, the webhook
worker and a short simulator run, each started as the CLI starts it on a free metrics port and
registered through file discovery; Prometheus' HTTP API then answers each one's key series with
a sensible value (the bridge forwarded at least what the simulator got acknowledged, the worker
read records, the sink wrote points, the API counted the request made to it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from devtools.services.prometheus import register_targets
from tests.grafana_boards import unseen_dashboard_series
from tests.integration.helpers import stop_process, wait_for_output
from tradelane.settings import InfluxSettings, KafkaSettings, MqttSettings, ServicesSettings
from transport.probes import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DEADLINE_S = 45.0
SERVICES = ("bridge", "worker", "sink", "api", "webhooks", "simulator")


def query(prometheus: str, expr: str) -> list[tuple[dict[str, str], float]]:
    """An instant query: each result's labels and value."""
    url = f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - loopback http
        body = json.load(resp)
    assert body["status"] == "success", body
    return [(r["metric"], float(r["value"][1])) for r in body["data"]["result"]]


def wait_all(prometheus: str, checks: dict[str, Callable[[float], bool]], deadline: float) -> None:
    """Poll until every expression has a result whose value its check accepts."""
    last: dict[str, list[tuple[dict[str, str], float]]] = {}
    pending = dict(checks)
    while pending and time.monotonic() < deadline:
        for expr, ok in list(pending.items()):
            last[expr] = query(prometheus, expr)
            if last[expr] and ok(last[expr][0][1]):
                del pending[expr]
        if pending:
            time.sleep(0.5)  # polling Prometheus (it scrapes every 2 s) under a deadline
    assert not pending, {expr: last.get(expr) for expr in pending}


@contextmanager
def started(
    name: str, args: list[str], tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    log = tmp_path / f"{name}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )
    try:
        yield proc, log
    finally:
        stop_process(proc, 60)


def _commands(unique: str, api_port: int) -> dict[str, list[str]]:
    quiet = ["--stats-interval", "0"]
    bridge_id = f"prom-{unique}"
    return {
        "bridge": [
            *("bridge", "--client-id", bridge_id, "--group", bridge_id),
            *("--session-expiry-s", "60", *quiet),
        ],
        "worker": [
            *(
                "worker",
                "--from-now",
                "--no-finance",
                "--app-id",
                f"tradelane-streams-prom-{unique}",
            ),
            *("--other-group-wait", "20"),
        ],
        "sink": [
            "sink",
            "--group",
            f"tradelane-sink-prom-{unique}",
            "--from-now",
            "--no-gzip",
            *quiet,
        ],
        "api": ["api", "--port", str(api_port)],
        "webhooks": ["webhooks", "--group", f"tradelane-webhooks-prom-{unique}", *quiet],
    }


READY = {
    "bridge": "bridge prom-",
    "worker": "worker tradelane-streams-prom-",
    "sink": "sink tradelane-sink-prom-",
    "api": "api listening",
    "webhooks": "webhooks: ",
}


def test_prometheus_scrapes_every_process(
    mqtt_settings: MqttSettings,
    kafka_settings: KafkaSettings,
    influx_settings: InfluxSettings,
    prometheus_url: str,
    unique: str,
    tmp_path: Path,
) -> None:
    ports = {name: free_port() for name in SERVICES}
    api_port = free_port()
    home = ServicesSettings().home.resolve()
    targets = register_targets(home, f"it-{unique}", ports)
    commands = _commands(unique, api_port)
    try:
        with (
            started("bridge", [*commands["bridge"], *_at(ports["bridge"])], tmp_path) as bridge,
            started("worker", [*commands["worker"], *_at(ports["worker"])], tmp_path) as worker,
            started("sink", [*commands["sink"], *_at(ports["sink"])], tmp_path) as sink,
            started("api", [*commands["api"], *_at(ports["api"])], tmp_path) as api,
            started(
                "webhooks", [*commands["webhooks"], *_at(ports["webhooks"])], tmp_path
            ) as hooks,
        ):
            for name, (proc, log) in zip(READY, (bridge, worker, sink, api, hooks), strict=True):
                wait_for_output(log, READY[name], proc, 90)
            _simulate_and_check(prometheus_url, unique, ports, api_port, tmp_path)
    finally:
        targets.unlink(missing_ok=True)


def _at(port: int) -> list[str]:
    return ["--metrics-port", str(port)]


def _simulate_and_check(
    prometheus: str, unique: str, ports: dict[str, int], api_port: int, tmp_path: Path
) -> None:
    begun = time.time()
    with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/healthz", timeout=5) as resp:
        assert resp.status == 200
    manifest = tmp_path / "manifest.json"
    simulate = [
        *("simulate", "--trackers", "4", "--scenario", "nominal", "--seed", "5"),
        *("--speedup", "3600", "--duration", "6", "--quiet", "--prefix", f"prom{unique}"),
        *("--manifest", str(manifest), *_at(ports["simulator"])),
    ]
    inst = {name: f'instance="127.0.0.1:{port}"' for name, port in ports.items()}
    with started("simulator", simulate, tmp_path) as (sim, _log):
        published = f'tradelane_simulator_published_total{{{inst["simulator"]},kind="reading"}}'
        wait_all(prometheus, {published: lambda v: v > 0}, time.monotonic() + DEADLINE_S)
        assert sim.wait(60) == 0
    acked = json.loads(manifest.read_text())["totals"]["readings_sent"]
    assert acked > 0
    # Other runs may publish to the same broker meanwhile: each stage handles at least ours.
    at_least_ours: Callable[[float], bool] = lambda v: v >= acked  # noqa: E731
    checks: dict[str, Callable[[float], bool]] = {
        f"tradelane_bridge_forwarded_total{{{inst['bridge']}}}": at_least_ours,
        f"tradelane_bridge_mqtt_connected{{{inst['bridge']}}}": lambda v: v == 1,
        f'sum(tradelane_worker_records_total{{{inst["worker"]},loop="shipment"}})': at_least_ours,
        f'count(tradelane_worker_consumer_lag{{{inst["worker"]},loop="shipment"}})': bool,
        f"tradelane_sink_points_written_total{{{inst['sink']}}}": at_least_ours,
        f'tradelane_api_requests_total{{{inst["api"]},method="GET",route="/healthz",'
        'status="200"}': lambda v: v == 1,
        f"tradelane_api_feed_clients{{{inst['api']}}}": lambda v: v == 0,
        f"tradelane_webhooks_disabled_subscriptions{{{inst['webhooks']}}}": lambda v: v >= 0,
    }
    wait_all(prometheus, checks, time.monotonic() + DEADLINE_S)
    # Every series the Grafana dashboard "Pipeline health" queries is known to Prometheus now
    # (stored, or announced by a running process before its first sample).
    assert unseen_dashboard_series(prometheus, since=begun) == set()
