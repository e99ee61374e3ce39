"""Mosquitto from Debian's package, with the repo's config rendered for loopback."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from devtools.services import mosquitto_access as access
from devtools.services import tls
from devtools.services.base import CONFIG_DIR, LocalService, render, run_logged
from tradelane.errors import ServiceError
from tradelane.settings import MqttSettings
from transport.probes import port_open


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None
    )


class Mosquitto(LocalService):
    name = "mosquitto"
    ready_timeout_s = 20.0

    @property
    def mqtt(self) -> MqttSettings:
        return MqttSettings()

    @property
    def password_file(self) -> Path:
        return self.data_dir / "passwords"

    @property
    def tls_dir(self) -> Path:
        return self.home / "tls"

    def endpoint(self) -> str:
        return f"mqtt://{self.mqtt.host}:{self.mqtt.port}"

    def install(self) -> None:
        if mosquitto_binary() is not None:
            return
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            raise ServiceError(
                "mosquitto is not installed; install Debian's package: "
                "sudo apt-get install -y mosquitto"
            )
        log = self.home / "run" / "install-mosquitto.log"
        env_note = "apt-get install mosquitto"
        run_logged(["apt-get", "update", "-q"], log, "apt-get update", 600)
        run_logged(["apt-get", "install", "-y", "-q", "mosquitto"], log, env_note, 900)

    def launch(self) -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise ServiceError("mosquitto binary not found after install")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        access.write_service_users(self.password_file, self.home)
        ca = tls.ensure_ca(self.tls_dir)
        server = tls.ensure_server(ca, self.tls_dir)
        conf = render(
            CONFIG_DIR / "mosquitto" / "mosquitto.conf",
            self.data_dir / "mosquitto.conf",
            port=self.mqtt.port,
            tls_port=self.settings.mqtt_tls_port,
            mtls_port=self.settings.mqtt_mtls_port,
            data_dir=self.data_dir,
            password_file=self.password_file,
            acl_file=CONFIG_DIR / "mosquitto" / "acl",
            ca_file=ca.cert,
            cert_file=server.cert,
            key_file=server.key,
        )
        self.process.start([binary, "-c", str(conf)])

    def add_devices(self, device_ids: Iterable[str]) -> int:
        """Let these devices log in (passwords derived from the local fleet secret); the
        running broker re-reads its password file. Returns how many were new."""
        added = access.add_devices(self.password_file, self.home, device_ids)
        pid = self.process.pid()
        if added and pid is not None:
            access.reload(pid)
        return added

    def ready(self) -> bool:
        return port_open(self.mqtt.host, self.mqtt.port)

    def version(self) -> str:
        binary = mosquitto_binary()
        if binary is None:
            return "not installed"
        out = subprocess.run([binary, "-h"], capture_output=True, text=True, check=False).stdout
        first = out.splitlines()[0] if out else ""
        return first.replace("mosquitto version", "").strip() or "unknown"
