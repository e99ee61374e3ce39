"""The local Prometheus's pieces that need no running server: the rendered config scrapes
every default metrics port plus the file-discovery directory, targets files are what
Prometheus's file discovery reads, and the install guard against service starts cleans up
only after itself."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from devtools.services.process import ManagedProcess
from devtools.services.prometheus import Prometheus, no_service_starts, register_targets
from tradelane.metrics_ports import DEFAULT_PORTS
from tradelane.settings import ServicesSettings


def _rendered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    service = Prometheus(ServicesSettings(home=tmp_path))
    started: list[list[str]] = []
    monkeypatch.setattr("devtools.services.prometheus.prometheus_binary", lambda: "prometheus")
    monkeypatch.setattr(
        ManagedProcess, "start", lambda _self, argv, *_a, **_kw: started.append(argv)
    )
    service.launch()
    [argv] = started
    assert "--web.listen-address=127.0.0.1:9090" in argv
    assert f"--storage.tsdb.path={tmp_path.resolve() / 'prometheus' / 'data'}" in argv
    return tmp_path.resolve() / "prometheus" / "prometheus.yml"


def test_config_scrapes_every_default_port_and_the_targets_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = yaml.safe_load(_rendered(tmp_path, monkeypatch).read_text())
    assert config["global"]["scrape_interval"] == "2s"
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "tradelane"]
    static = {g["labels"]["service"]: g["targets"] for g in job["static_configs"]}
    assert static == {name: [f"127.0.0.1:{port}"] for name, port in DEFAULT_PORTS.items()}
    [discovery] = job["file_sd_configs"]
    assert discovery["files"] == [f"{tmp_path.resolve()}/prometheus/targets/*.json"]
    assert discovery["refresh_interval"] == "2s"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian's prometheus)")
def test_promtool_accepts_the_rendered_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _rendered(tmp_path, monkeypatch)
    checked = subprocess.run(
        ["promtool", "check", "config", str(path)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_registered_targets_are_file_discovery_groups(tmp_path: Path) -> None:
    path = register_targets(tmp_path, "it-1", {"worker": 40001, "sink": 40002})
    assert path == tmp_path / "prometheus" / "targets" / "it-1.json"
    assert json.loads(path.read_text()) == [
        {"targets": ["127.0.0.1:40001"], "labels": {"service": "worker"}},
        {"targets": ["127.0.0.1:40002"], "labels": {"service": "sink"}},
    ]
    assert [p.name for p in path.parent.iterdir()] == ["it-1.json"]


def test_the_install_guard_removes_only_a_policy_it_wrote(tmp_path: Path) -> None:
    policy = tmp_path / "policy-rc.d"
    with no_service_starts(policy):
        assert policy.read_text().strip().endswith("exit 101")
    assert not policy.exists()
    policy.write_text("#!/bin/sh\nexit 101\n")
    with no_service_starts(policy):
        pass
    assert policy.read_text() == "#!/bin/sh\nexit 101\n"


def test_the_compose_config_scrapes_every_app_service_by_name() -> None:
    root = Path(__file__).resolve().parents[2]
    compose = yaml.safe_load((root / "docker-compose.yml").read_text())
    config = yaml.safe_load((root / "config/prometheus/prometheus.compose.yml").read_text())
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "tradelane"]
    static = {g["labels"]["service"]: g["targets"] for g in job["static_configs"]}
    assert static == {name: [f"{name}:{port}"] for name, port in DEFAULT_PORTS.items()}
    assert set(static) <= set(compose["services"])
    mounted = compose["services"]["prometheus"]["volumes"][0]
    assert mounted.startswith("./config/prometheus/prometheus.compose.yml:")


def test_every_app_service_in_compose_serves_metrics_to_the_network() -> None:
    """Inside a container, loopback is the container's own: the compose Prometheus reaches a
    process only if it binds 0.0.0.0."""
    root = Path(__file__).resolve().parents[2]
    compose = yaml.safe_load((root / "docker-compose.yml").read_text())
    for name in DEFAULT_PORTS:
        command = compose["services"][name]["command"]
        at = command.index("--metrics-host")
        assert command[at + 1] == "0.0.0.0", name  # noqa: S104
