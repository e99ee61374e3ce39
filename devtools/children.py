"""Child processes of ours: the one way to start a ``tradelane`` command (or another module of
ours) as a process, for the demo, the benchmarks and the fault suite.

:func:`spawn` starts one with its output appended to a log file, :func:`spawn_piped` with its
output on a text pipe the caller reads, and :func:`finish` stops one (SIGTERM, then SIGKILL if
it does not end in time). Each child is known by its pid and stopped only by it.

:class:`Child` is the fault suite's supervised process (bridges and workers started as the CLI
starts them, each with its own log): a child that exits without having been told to is a
crash; the run reports every one."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tradelane.errors import ServiceError

FAST_FAILOVER = {"BROKER_SESSION_TIMEOUT": "10", "BROKER_HEARTBEAT_INTERVAL": "1"}
"""faust reads these from the environment: a killed member leaves the group after 10 s
instead of 60 s, so a run with ten kills stays within minutes."""


CLI = "cli.main"
"""The module a ``tradelane`` command runs as (the console script's entry point)."""


def command(args: Sequence[str], module: str = CLI) -> list[str]:
    """The command line running ``module`` (``tradelane`` by default) with ``args`` in this
    interpreter: the child imports the same code, from the same tree, as its parent."""
    return [sys.executable, "-m", module, *args]


def child_env(
    overrides: Mapping[str, str] | None = None, unset: Iterable[str] = ()
) -> dict[str, str]:
    """This process's environment with ``overrides`` set and the names in ``unset`` removed."""
    dropped = set(unset)
    return {k: v for k, v in {**os.environ, **(overrides or {})}.items() if k not in dropped}


def spawn(
    args: Sequence[str],
    log: Path,
    env: Mapping[str, str] | None = None,
    unset: Iterable[str] = (),
    module: str = CLI,
    truncate: bool = False,
) -> subprocess.Popen[bytes]:
    """Start ``tradelane args`` (or ``module``) with stdout and stderr appended to ``log``
    (``truncate``: the log starts empty), its directory made if needed."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb" if truncate else "ab") as out:
        return subprocess.Popen(
            command(args, module),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=child_env(env, unset),
        )


def spawn_piped(
    args: Sequence[str], env: Mapping[str, str] | None = None, module: str = CLI
) -> subprocess.Popen[str]:
    """Start ``tradelane args`` (or ``module``) with stdout and stderr on one text pipe: the
    caller reads it (and must keep reading it, or the child blocks once the pipe is full)."""
    return subprocess.Popen(
        command(args, module),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=child_env(env),
    )


def finish(*procs: subprocess.Popen[bytes] | subprocess.Popen[str], timeout_s: float = 60) -> None:
    """SIGTERM to each that still runs (all at once: they stop in parallel), then wait for each
    up to ``timeout_s``; SIGKILL one that did not end, and reap it."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)  # reaped: no zombie, and its exit status is known


class ChildFailedError(ServiceError):
    """A child did not come up (its log tail is in the message)."""


@dataclass
class Child:
    name: str
    argv: list[str]
    ready_text: str
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    told_to_stop: bool = False

    def start(self) -> None:
        """Start the process; one still running is killed first, so that a child never has
        two processes (the later start would hide the earlier one from every stop)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.told_to_stop = False
        with self.log.open("ab") as out:
            out.write(f"\n--- start {time.strftime('%H:%M:%S')} ---\n".encode())
            out.flush()
            self._offset = self.log.stat().st_size
            self.proc = subprocess.Popen(
                command(self.argv),
                stdout=out,
                stderr=subprocess.STDOUT,
                env=child_env(self.env),
            )

    async def ready(self, timeout_s: float = 90.0) -> None:
        """Wait until this start's log shows ``ready_text`` (the process announced itself)."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self.log.open("rb") as f:
                f.seek(self._offset)
                if self.ready_text.encode() in f.read():
                    return
            if self.proc is None or self.proc.poll() is not None:
                raise ChildFailedError(f"{self.name} exited while starting:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise ChildFailedError(
                    f"{self.name} not ready in {timeout_s:.0f} s:\n{self.tail()}"
                )
            await asyncio.sleep(0.1)  # polling a log file under a deadline

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def crashed(self) -> int | None:
        """The exit status of a process that ended on its own, else ``None``."""
        if self.proc is None or self.told_to_stop:
            return None
        return self.proc.poll()

    def kill(self) -> None:
        """SIGKILL: no flush, no commit, no goodbye."""
        self.told_to_stop = True
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    async def stop(self, timeout_s: float = 60.0) -> int | None:
        """SIGTERM and wait; SIGKILL if it does not end in time. Returns the exit status."""
        self.told_to_stop = True
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.terminate()
        try:
            return await asyncio.to_thread(proc.wait, timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(10)

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


def bridge(client_id: str, logs: Path, *extra: str) -> Child:
    return Child(
        name="bridge",
        argv=[
            "bridge",
            *("--client-id", client_id, "--group", client_id),
            *("--metrics-port", "-1", "--stats-interval", "0", "--session-expiry-s", "900"),
            *extra,
        ],
        ready_text=f"bridge {client_id}:",
        log=logs / "bridge.log",
    )


def rival_worker(app_id: str, logs: Path, n: int) -> Child:
    """A worker of another group on the same cluster: it should refuse (exit 3) after
    waiting briefly for the active group to stop."""
    return worker(app_id, logs, n, "rival", "--other-group-wait", "5")


def worker(app_id: str, logs: Path, n: int, role: str = "worker", *extra: str) -> Child:
    return Child(
        name=f"{role}-{n}",
        argv=["worker", "--app-id", app_id, "--from-now", *extra],
        ready_text=f"worker {app_id}:",
        log=logs / f"{role}-{n}.log",
        env=dict(FAST_FAILOVER),
    )
