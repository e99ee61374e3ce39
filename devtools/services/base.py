"""What every local service has in common: a process, a data dir, a readiness check."""

from __future__ import annotations

import getpass
import shutil
import string
import subprocess
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from devtools.services.process import ManagedProcess, ServiceError, wait_until
from tradelane.settings import ServicesSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO_ROOT / "config"
SCRIPTS_DIR = REPO_ROOT / "scripts"


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    ready: bool
    pid: int | None
    endpoint: str
    version: str
    note: str = ""


def render(template: Path, destination: Path, **values: object) -> Path:
    """Fill ``$name`` placeholders of a repo config template into a runtime copy."""
    if not template.exists():
        raise ServiceError(f"config template {template} is missing (run from a Tradelane checkout)")
    values.setdefault("run_user", getpass.getuser())
    text = string.Template(template.read_text()).substitute({k: str(v) for k, v in values.items()})
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_text(text)
    return destination


def require_tool(tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ServiceError(f"'{tool}' is not on PATH: {hint}")
    return path


def run_logged(argv: list[str], log: Path, what: str, timeout_s: float) -> None:
    """Run an install/build step, appending its output to ``log``; fail with the log's tail."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        try:
            proc = subprocess.run(
                argv, stdout=out, stderr=subprocess.STDOUT, timeout=timeout_s, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise ServiceError(f"{what} took longer than {timeout_s:.0f}s (log: {log})") from exc
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise ServiceError(f"{what} failed (exit {proc.returncode}); log {log}:\n{tail}")


class LocalService(ABC):
    """A real service run natively on loopback for dev and CI."""

    name: ClassVar[str]
    ready_timeout_s: ClassVar[float] = 60.0

    def __init__(self, settings: ServicesSettings) -> None:
        self.settings = settings
        self.home = settings.home.resolve()
        self.cache = settings.cache.expanduser().resolve()
        self.process = ManagedProcess(self.name, self.home / "run")

    @property
    def data_dir(self) -> Path:
        return self.home / self.name

    @abstractmethod
    def endpoint(self) -> str: ...

    @abstractmethod
    def install(self) -> None:
        """Make the binaries available (install, fetch or build into the cache); idempotent."""

    @abstractmethod
    def launch(self) -> None:
        """Start the process (already installed, not running)."""

    @abstractmethod
    def ready(self) -> bool: ...

    @abstractmethod
    def version(self) -> str: ...

    def after_ready(self) -> None:  # noqa: B027 - optional hook, most services need nothing
        """One-time initialisation once the service answers (e.g. onboarding)."""

    def up(self) -> ServiceStatus:
        if self.process.running() and self.ready():
            return self.status(note="already running")
        if not self.process.running() and self.ready():
            raise ServiceError(
                f"{self.name}: {self.endpoint()} is already served by a process this project did "
                "not start; stop it or point the TRADELANE_* settings elsewhere"
            )
        self.install()
        if not self.process.running():
            self.launch()
        try:
            wait_until(
                self.ready,
                self.ready_timeout_s,
                f"{self.name} at {self.endpoint()}",
                alive=self.process.running,
            )
        except ServiceError as exc:
            tail = self.process.log_tail()
            raise ServiceError(f"{exc}\n--- {self.process.log_file} ---\n{tail}") from exc
        self.after_ready()
        return self.status(note="started")

    def down(self) -> bool:
        return self.process.stop()

    def statuses(self) -> list[ServiceStatus]:
        """One line per process (a cluster has one per node)."""
        return [self.status()]

    def status(self, note: str = "") -> ServiceStatus:
        pid = self.process.pid()
        ready = self.ready()
        return ServiceStatus(
            self.name, pid is not None, ready, pid, self.endpoint(), self.version(), note
        )
