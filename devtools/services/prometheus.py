"""Prometheus from Debian's package, scraping every Tradelane process on loopback.

Ours runs from the repo's config (config/prometheus/prometheus.yml) rendered under
``$TRADELANE_HOME/prometheus``, listening on 127.0.0.1 only, with its storage there too. Besides
the default metrics ports it reads targets from ``$TRADELANE_HOME/prometheus/targets/*.json``
(file-based discovery, re-read every 2 s): tests and extra workers on other ports register
themselves there with :func:`register_targets`.

Debian's package would start a system Prometheus on 0.0.0.0:9090 as it installs; the install
below forbids service starts for its duration (``policy-rc.d``), and a system Prometheus that is
already running is refused with a clear error rather than silently shared.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from devtools.services.base import CONFIG_DIR, LocalService, ServiceStatus, render, run_logged
from tradelane.errors import ServiceError
from tradelane.metrics_ports import DEFAULT_HOST, DEFAULT_PORTS
from transport.probes import port_open

POLICY_RC = Path("/usr/sbin/policy-rc.d")
RETENTION = "2d"
"""Local history only: enough for a day's debugging, small on a laptop."""


def prometheus_binary() -> str | None:
    return shutil.which("prometheus") or (
        "/usr/bin/prometheus" if os.path.exists("/usr/bin/prometheus") else None
    )


@contextmanager
def no_service_starts(policy: Path = POLICY_RC) -> Iterator[None]:
    """While the block runs, package scripts may not start services (``exit 101``); the file
    is removed afterwards only if this created it."""
    if policy.exists():
        yield
        return
    policy.write_text("#!/bin/sh\n# tradelane: no service starts during this install\nexit 101\n")
    policy.chmod(0o755)
    try:
        yield
    finally:
        policy.unlink(missing_ok=True)


class Prometheus(LocalService):
    name = "prometheus"
    ready_timeout_s = 30.0

    @property
    def port(self) -> int:
        return self.settings.prometheus_port

    @property
    def targets_dir(self) -> Path:
        return self.data_dir / "targets"

    def endpoint(self) -> str:
        return f"http://{DEFAULT_HOST}:{self.port}"

    def up(self) -> ServiceStatus:
        """As every service's, refusing first a Prometheus this project did not start."""
        if not self.process.running() and port_open(DEFAULT_HOST, self.port):
            raise ServiceError(
                f"prometheus: {DEFAULT_HOST}:{self.port} is already served by a process this "
                "project did not start (a system Prometheus from Debian's package? stop and "
                "disable it: `systemctl disable --now prometheus` or `service prometheus "
                "stop`), or set TRADELANE_PROMETHEUS_PORT to another port"
            )
        return super().up()

    def install(self) -> None:
        if prometheus_binary() is not None:
            return
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            raise ServiceError(
                "prometheus is not installed; install Debian's package: "
                "sudo apt-get install -y --no-install-recommends prometheus "
                "(and stop the system service it starts: systemctl disable --now prometheus)"
            )
        log = self.home / "run" / "install-prometheus.log"
        run_logged(["apt-get", "update", "-q"], log, "apt-get update", 600)
        with no_service_starts():
            run_logged(
                ["apt-get", "install", "-y", "-q", "--no-install-recommends", "prometheus"],
                log,
                "apt-get install prometheus",
                900,
            )
        if Path("/run/systemd/system").is_dir() and shutil.which("systemctl") is not None:
            # the package enables its unit: on a machine with systemd it would start a second,
            # world-listening Prometheus at the next boot and take this one's port
            run_logged(["systemctl", "disable", "prometheus"], log, "systemctl disable", 60)

    def launch(self) -> None:
        binary = prometheus_binary()
        if binary is None:
            raise ServiceError("prometheus binary not found after install")
        self.targets_dir.mkdir(parents=True, exist_ok=True)
        listen = f"{DEFAULT_HOST}:{self.port}"
        conf = render(
            CONFIG_DIR / "prometheus" / "prometheus.yml",
            self.data_dir / "prometheus.yml",
            listen=listen,
            metrics_host=DEFAULT_HOST,
            targets_dir=self.targets_dir,
            **{f"{name}_port": port for name, port in DEFAULT_PORTS.items()},
        )
        self.process.start(
            [
                binary,
                f"--config.file={conf}",
                f"--storage.tsdb.path={self.data_dir / 'data'}",
                f"--storage.tsdb.retention.time={RETENTION}",
                f"--web.listen-address={listen}",
                "--log.level=warn",
            ]
        )

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.endpoint() + "/-/ready", timeout=2) as resp:  # noqa: S310
                return int(resp.status) == 200
        except OSError:
            return False

    def version(self) -> str:
        binary = prometheus_binary()
        if binary is None:
            return "not installed"
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
        lines = (out.stdout or out.stderr).splitlines()
        if not lines:
            return "unknown"
        return lines[0].replace("prometheus, version", "Prometheus").split("(")[0].strip()


def register_targets(
    home: Path, name: str, targets: Mapping[str, int], host: str = DEFAULT_HOST
) -> Path:
    """Write ``home/prometheus/targets/NAME.json``: each service label in ``targets`` scraped
    at ``host:port``. Prometheus picks it up within its 2 s refresh; remove the file to stop."""
    directory = home / "prometheus" / "targets"
    directory.mkdir(parents=True, exist_ok=True)
    groups = [
        {"targets": [f"{host}:{port}"], "labels": {"service": service}}
        for service, port in targets.items()
    ]
    path = directory / f"{name}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(groups, indent=2))
    tmp.replace(path)  # atomic: Prometheus never reads half a file
    return path
