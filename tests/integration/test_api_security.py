"""The API's hardening against a real ``tradelane api`` process on the real Kafka: oversize
bodies are refused before they are read, keys are hashed at rest and accepted in headers only
off loopback, demo keys never serve a public address, rate limits answer 429, and a bank
cannot read another bank's data over REST, WebSocket or SSE."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.integration.api_helpers import RunningApi, publish_facilities, running_api
from tests.unit.api import records
from tradelane.settings import KafkaSettings
from transport import kafka as clients

pytestmark = [pytest.mark.integration, pytest.mark.slow]
MIB = 1 << 20


@pytest.fixture(scope="module")
def api(
    kafka_settings: KafkaSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningApi]:
    """One loopback API for the module, with the default limits."""
    with running_api(tmp_path_factory.mktemp("api-sec"), uuid.uuid4().hex[:10]) as running:
        yield running


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def _response_head(sock: socket.socket, timeout_s: float = 10.0) -> str:
    sock.settimeout(timeout_s)
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.decode("latin-1")


def test_an_oversize_body_is_refused_before_it_is_read(api: RunningApi) -> None:
    host, port = api.url.removeprefix("http://").split(":")
    before = rss_kib(api.pid)
    # 21 MB declared, 64 KiB sent, no key: the answer comes without waiting for the rest
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/webhooks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 21000000\r\n\r\n" + b"[" * 65536
        )
        head = _response_head(sock)
    assert head.startswith("HTTP/1.1 413"), head
    assert "application/problem+json" in head

    # a chunked body without a length, never finished: answered once past the limit (1 MiB)
    piece = b"[" * 65536
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/webhooks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for _ in range(24):  # 1.5 MiB, and no last chunk: the body never ends
            sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        head = _response_head(sock)
    assert head.startswith("HTTP/1.1 413"), head
    grown_mib = (rss_kib(api.pid) - before) / 1024
    assert grown_mib < 64, f"the server's memory grew by {grown_mib:.0f} MiB"
    assert api.get("/api/v1/me", api.keys["operator"]).status_code == 200  # still serving


def test_hashed_keys_work_and_a_wrong_key_is_401(api: RunningApi) -> None:
    me = api.get("/api/v1/me", api.keys["bank_a"])
    assert me.status_code == 200
    assert me.json()["party"] == api.parties["bank_a"]
    key = api.keys["bank_a"]
    wrong_secret = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    for wrong in (wrong_secret, "demo-operator-key", "tl_000000000000_" + "x" * 43):
        refused = api.get("/api/v1/me", wrong)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
    bearer = httpx.get(f"{api.url}/api/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert bearer.status_code == 200


def test_demo_keys_refuse_a_public_address(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TRADELANE_API_KEYS_FILE"}
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "api", "--host", "0.0.0.0", "--port", "0"],  # noqa: S104
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "refusing to serve the public demo keys on 0.0.0.0" in done.stderr
    assert "api listening" not in done.stdout


async def _ws_close_code(url: str, **kwargs: Any) -> int | None:
    async with connect(url, **kwargs) as ws:
        with contextlib.suppress(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
            await asyncio.wait_for(ws.recv(), 10)
        return ws.close_code


async def test_public_bind_header_only_and_rate_limits(
    kafka_settings: KafkaSettings, tmp_path: Path, unique: str
) -> None:
    limits = {
        "TRADELANE_API_RATE_PER_KEY": "0.01",
        "TRADELANE_API_BURST_PER_KEY": "6",
        "TRADELANE_API_RATE_UNAUTHENTICATED": "0.01",
        "TRADELANE_API_BURST_UNAUTHENTICATED": "3",
    }
    with running_api(tmp_path, unique, host="0.0.0.0", env=limits) as api:  # noqa: S104
        ops, bank = api.keys["operator"], api.keys["bank_a"]
        assert api.get("/api/v1/me", ops).status_code == 200
        # keys in the URL are refused off loopback; headers (or the subprotocol) work
        sse = httpx.get(f"{api.url}/api/v1/live/sse?key={ops}", timeout=10)
        assert sse.status_code == 401
        assert "loopback" in sse.json()["detail"]
        assert await _ws_close_code(api.ws_url(f"key={ops}")) == 4401  # 1 unauthenticated
        async with connect(api.ws_url("type=alert"), additional_headers={"X-API-Key": ops}) as ws:
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "hello"
        async with connect(
            api.ws_url("type=alert"), subprotocols=["tradelane", f"tradelane-key.{ops}"]
        ) as ws:  # type: ignore[list-item]
            assert ws.subprotocol == "tradelane"
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "hello"

        # per key: a burst of 6, then 429 with Retry-After; other keys are unaffected
        codes = [api.get("/api/v1/me", bank).status_code for _ in range(7)]
        assert codes == [200] * 6 + [429]
        limited = api.get("/api/v1/me", bank)
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.headers["content-type"] == "application/problem+json"
        assert api.get("/api/v1/me", api.keys["bank_b"]).status_code == 200

        # per address without a valid key: 3 attempts (one spent above), then 429
        wrong = ["tl_000000000000_" + "x" * 43, "nope-nope-nope"]
        assert [api.get("/api/v1/me", w).status_code for w in wrong] == [401, 401]
        refused = api.get("/api/v1/me", "still-wrong-key")
        assert refused.status_code == 429
        assert "retry-after" in refused.headers
        assert await _ws_close_code(api.ws_url(""), additional_headers={"X-API-Key": "x" * 20}) == (
            4429
        )
        # a key verified before is not held up by others' wrong attempts from the address
        assert api.get("/api/v1/me", ops).status_code == 200


async def _collect(ws: ClientConnection, into: list[dict[str, Any]]) -> None:
    with contextlib.suppress(ConnectionClosed, asyncio.CancelledError):
        async for message in ws:
            into.append(json.loads(message))


async def _sse_items(url: str, key: str, into: list[dict[str, Any]], stop: asyncio.Event) -> None:
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(10, read=60)) as http,
        http.stream("GET", url, headers={"X-API-Key": key}) as response,
    ):
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                into.append(json.loads(line[6:]))
            if stop.is_set():
                return


async def test_a_bank_never_reads_another_banks_data(
    api: RunningApi, kafka_settings: KafkaSettings, unique: str
) -> None:
    fa, fb = await publish_facilities(kafka_settings, api, unique, [], [])
    bank_a, bank_b, ops = api.keys["bank_a"], api.keys["bank_b"], api.keys["operator"]
    deadline = time.monotonic() + 60
    while api.get(f"/api/v1/facilities/{fb}", bank_b).status_code != 200:
        assert time.monotonic() < deadline, "facility never reached the read model"
        await asyncio.sleep(0.2)  # polling the API under a deadline

    # REST: another bank's facility, its ledger and calendar are 404, as if they did not exist
    for path in (f"/api/v1/facilities/{fb}", f"/api/v1/facilities/{fb}/ledger"):
        other = api.get(path, bank_a)
        assert other.status_code == 404, path
        assert fb in other.json()["detail"]
    assert api.get(f"/api/v1/facilities/{fb}/calendar", bank_a).status_code == 404
    listed = api.get("/api/v1/facilities?limit=1000", bank_a).json()["items"]
    assert {f["facility_id"] for f in listed} == {fa}
    assert api.get(f"/api/v1/facilities/{fa}", bank_a).status_code == 200
    # its own ledger and calendar: read from Kafka in the API's worker process
    ledger = api.get(f"/api/v1/facilities/{fa}/ledger", bank_a, timeout_s=60)
    assert ledger.status_code == 200, ledger.text
    assert ledger.json()["facility_id"] == fa
    calendar = api.get(f"/api/v1/facilities/{fa}/calendar", bank_a, timeout_s=60)
    assert calendar.status_code == 200, calendar.text
    assert calendar.json()["facility_id"] == fa

    # live feed: bank A's WebSocket and SSE carry its own finance event, never bank B's
    ws_items: list[dict[str, Any]] = []
    sse_items: list[dict[str, Any]] = []
    ops_items: list[dict[str, Any]] = []
    stop = asyncio.Event()
    async with (
        connect(api.ws_url("type=finance"), additional_headers={"X-API-Key": bank_a}) as ws_a,
        connect(api.ws_url("type=finance"), additional_headers={"X-API-Key": ops}) as ws_ops,
    ):
        assert json.loads(await ws_a.recv())["principal"]["party"] == api.parties["bank_a"]
        await ws_ops.recv()
        tasks = [
            asyncio.create_task(_collect(ws_a, ws_items)),
            asyncio.create_task(_collect(ws_ops, ops_items)),
            asyncio.create_task(
                _sse_items(f"{api.url}/api/v1/live/sse?type=finance", bank_a, sse_items, stop)
            ),
        ]
        try:
            deadline = time.monotonic() + 10
            while not sse_items:  # the SSE hello: subscribed
                assert time.monotonic() < deadline, "no SSE hello"
                await asyncio.sleep(0.1)  # polling the collected stream under a deadline
            producer = clients.producer(kafka_settings, acks="all")
            await producer.start()
            try:
                for facility in (fb, fa):  # bank B's first: by the time A's arrives, B's did
                    topic, value = records.base_changed(facility, "1000", "0", 5)
                    await producer.send_and_wait(topic, value, key=facility.encode())
            finally:
                await producer.stop()

            def seen(items: list[dict[str, Any]]) -> set[str]:
                return {i["facility_id"] for i in items if i.get("type") == "finance"}

            deadline = time.monotonic() + 60
            while not ({fa, fb} <= seen(ops_items) and fa in seen(ws_items) & seen(sse_items)):
                assert time.monotonic() < deadline, (ops_items, ws_items, sse_items)
                await asyncio.sleep(0.2)  # polling the collected feeds under a deadline
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    assert seen(ws_items) == {fa}
    assert seen(sse_items) == {fa}
