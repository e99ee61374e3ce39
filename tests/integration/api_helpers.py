"""Helpers for the API's integration tests: a real ``tradelane api`` process with its own
hashed key file, registry records on Kafka, and HTTP/WebSocket calls with deadlines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx

from api.auth import hash_key, new_key
from finance.demo_terms import demo_facility
from tests.integration.helpers import stop_process, wait_for_output
from tradelane.settings import KafkaSettings
from tradelane.topics import FINANCE_FACILITIES
from transport import kafka as clients
from transport.probes import free_port


@dataclass(frozen=True)
class RunningApi:
    url: str
    keys: dict[str, str]
    """role name -> key: operator, bank_a, bank_b, insurer."""
    parties: dict[str, str]
    """bank_a, bank_b -> the bank id their key acts for."""
    log: Path
    pid: int

    def get(self, path: str, key: str, timeout_s: float = 30.0) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", headers={"X-API-Key": key}, timeout=timeout_s)

    def ws_url(self, query: str) -> str:
        return self.url.replace("http://", "ws://") + f"/api/v1/live/ws?{query}"


def wait_until(check: Callable[[], Any], timeout_s: float, what: str, every_s: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy, or fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"no {what} within {timeout_s:.0f}s"
        time.sleep(every_s)  # polling an external process under a deadline


def write_key_file(path: Path, roles: dict[str, tuple[str, str | None]]) -> dict[str, str]:
    """A key file of argon2 hashes for ``roles`` (name -> (role, party)); returns name -> key."""
    keys: dict[str, str] = {}
    entries = []
    for name, (role, party) in roles.items():
        key_id, keys[name] = new_key()
        entry = {"id": key_id, "hash": hash_key(keys[name]), "role": role, "name": name}
        entries.append(entry | ({"party": party} if party else {}))
    path.write_text(json.dumps({"keys": entries}))
    return keys


@contextmanager
def running_api(
    tmp_path: Path,
    unique: str,
    ready_timeout_s: float = 180.0,
    host: str = "127.0.0.1",
    env: dict[str, str] | None = None,
    extra_keys: dict[str, tuple[str, str | None]] | None = None,
) -> Iterator[RunningApi]:
    """``tradelane api`` on a free port of ``host`` (reached over loopback) with a hashed key
    file for two banks and an insurer whose party ids carry ``unique``; ready (read model
    caught up) on entry, stopped on exit. ``env`` adds settings (``TRADELANE_API_*``);
    ``extra_keys`` adds keys (name -> (role, party)), found under their names in ``keys``."""
    key_file = tmp_path / "keys.json"
    keys = write_key_file(
        key_file,
        {
            "operator": ("operator", None),
            "bank_a": ("bank", f"A{unique}"),
            "bank_b": ("bank", f"B{unique}"),
            "insurer": ("insurer", "demo-insurer"),
            **(extra_keys or {}),
        },
    )
    port = free_port()
    log = tmp_path / "api.log"
    environment = {**os.environ, **(env or {}), "TRADELANE_API_KEYS_FILE": str(key_file)}
    command = ["api", "--host", host, "--port", str(port)]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", *command],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=environment,
        )
    try:
        wait_for_output(log, "api listening on", proc, timeout_s=60)
        parties = {"bank_a": f"A{unique}", "bank_b": f"B{unique}"}
        api = RunningApi(f"http://127.0.0.1:{port}", keys, parties, log, proc.pid)

        def ready() -> bool:
            assert proc.poll() is None, log.read_text()[-3000:]
            return httpx.get(f"{api.url}/readyz", timeout=10).status_code == 200

        wait_until(ready, ready_timeout_s, "ready read model")
        yield api
    finally:
        stop_process(proc, timeout_s=30)


async def publish_facilities(
    kafka: KafkaSettings, api: RunningApi, unique: str, bank_a: list[str], bank_b: list[str]
) -> tuple[str, str]:
    """Facility ``fa-{unique}`` of the API's bank A pledging ``bank_a``, and ``fb-{unique}`` of
    its bank B pledging ``bank_b``; returns their ids."""
    producer = clients.producer(kafka, acks="all")
    await producer.start()
    ids = (f"fa-{unique}", f"fb-{unique}")
    banks = (api.parties["bank_a"], api.parties["bank_b"])
    try:
        for facility_id, bank, shipments in zip(ids, banks, (bank_a, bank_b), strict=True):
            terms = demo_facility(facility_id, shipments).model_copy(update={"bank_id": bank})
            await producer.send_and_wait(
                FINANCE_FACILITIES.name,
                terms.model_dump_json().encode(),
                key=facility_id.encode(),
            )
    finally:
        await producer.stop()
    return ids
