"""InfluxDB 2.x (``influxd``) serving the /api/v2 API that influxdb-client speaks.

There is no Debian or PyPI package of InfluxDB 2.x, so ``scripts/build-influxd.sh`` builds it
from its Go module (libflux through cargo) once into the cache; later starts reuse the binary.
On first start the instance is onboarded with the org, bucket and token from the settings.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from devtools.services.base import SCRIPTS_DIR, LocalService
from tradelane.errors import ServiceError
from tradelane.settings import InfluxSettings
from transport.probes import http_json

SETUP_USER = "tradelane"
SETUP_PASSWORD = "tradelane-dev-password"  # noqa: S105 - loopback dev instance only


class InfluxDB(LocalService):
    name = "influxdb"
    ready_timeout_s = 60.0

    @property
    def influx(self) -> InfluxSettings:
        return InfluxSettings()

    @property
    def binary(self) -> Path:
        version = self.settings.influxdb_version.lstrip("v")
        return self.cache / "influxdb" / f"v{version}" / "influxd"

    def endpoint(self) -> str:
        return self.influx.url

    def install(self) -> None:
        if self.binary.exists():
            return
        env = dict(os.environ)
        env["TRADELANE_CACHE"] = str(self.cache)
        env["INFLUXDB_VERSION"] = self.settings.influxdb_version
        log = self.home / "run" / "build-influxd.log"
        print(
            f"  building influxd {self.settings.influxdb_version} from source "
            f"(first time only, about 5-10 min on 2 cores; log: {log})",
            flush=True,
        )
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            proc = subprocess.run(
                ["bash", str(SCRIPTS_DIR / "build-influxd.sh")],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                timeout=4800,
                check=False,
            )
        if proc.returncode != 0 or not self.binary.exists():
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            raise ServiceError(
                f"building influxd failed (exit {proc.returncode}); log {log}:\n{tail}"
            )

    def launch(self) -> None:
        parts = urlsplit(self.influx.url)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process.start(
            [
                str(self.binary),
                f"--bolt-path={self.data_dir / 'influxd.bolt'}",
                f"--engine-path={self.data_dir / 'engine'}",
                f"--sqlite-path={self.data_dir / 'influxd.sqlite'}",
                f"--http-bind-address={parts.hostname}:{parts.port or 8086}",
                "--reporting-disabled",
                "--log-level=warn",
            ]
        )

    def ready(self) -> bool:
        health = http_json(self.influx.url.rstrip("/") + "/health")
        return health is not None and health.get("status") == "pass"

    def after_ready(self) -> None:
        base = self.influx.url.rstrip("/")
        setup = http_json(base + "/api/v2/setup")
        if not setup or not setup.get("allowed"):
            return
        body = json.dumps(
            {
                "username": SETUP_USER,
                "password": SETUP_PASSWORD,
                "org": self.influx.org,
                "bucket": self.influx.bucket,
                "token": self.influx.token.get_secret_value(),
            }
        ).encode()
        request = urllib.request.Request(  # noqa: S310 - http(s) URL from settings
            base + "/api/v2/setup",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
                resp.read()
        except OSError as exc:
            raise ServiceError(f"InfluxDB onboarding at {base} failed: {exc}") from exc

    def version(self) -> str:
        health = http_json(self.influx.url.rstrip("/") + "/health")
        if health and isinstance(health.get("version"), str):
            return f"InfluxDB {health['version']}"
        return f"InfluxDB {self.settings.influxdb_version}" if self.binary.exists() else "not built"
