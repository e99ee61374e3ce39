"""Request-size limits, keys only in headers off loopback, and expensive reads off the loop:
another tenant is answered while a ledger is read and verified, results are cached by input
position, and computations are bounded."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import KeyRing
from api.body_limit import too_large
from api.finance_reads import FinanceReads, Positions, process_pool
from api.hub import Hub
from api.models import LedgerOut
from api.service import ApiState
from api.settings import ApiSettings
from tests.unit.api import slow_reads
from tests.unit.api.conftest import BANK_A, BANK_B, KEYS, OPS
from tests.unit.finance.builders import story_ledger
from tradelane.settings import KafkaSettings

SMALL = ApiSettings(max_body_bytes=2048)


def _app(state: ApiState, settings: ApiSettings = SMALL, loopback: bool = True) -> TestClient:
    return TestClient(
        create_app(
            ApiState(
                settings=settings,
                keys=KeyRing(KEYS),
                model=state.model,
                hub=Hub(state.model, 50),
                history=None,
                finance=state.finance,
                loopback=loopback,
            )
        )
    )


def wait_for(check: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"no {what} within {timeout_s:.0f}s"
        time.sleep(0.01)  # polling a condition under a deadline


@pytest.mark.parametrize(
    ("declared", "refused"),
    [(None, False), ("0", False), ("2048", False), ("2049", True), ("-1", True), ("x", True)],
)
def test_declared_lengths(declared: str | None, refused: bool) -> None:
    assert too_large(declared, 2048) is refused


def test_an_oversize_body_is_413_before_the_key_is_checked(state: ApiState) -> None:
    with _app(state) as client:
        for headers in ({}, OPS):
            response = client.post("/api/v1/webhooks", content=b"x" * 4096, headers=headers)
            assert response.status_code == 413
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["status"] == 413


def test_a_streamed_body_is_cut_off_at_the_limit(state: ApiState) -> None:
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        for _ in range(64):
            sent.append(1024)
            yield b"{" * 1024

    with _app(state) as client:
        response = client.post("/api/v1/webhooks", content=chunks(), headers=OPS)
    assert response.status_code == 413
    assert "content-length" not in response.request.headers


def test_a_small_body_passes_the_limit(state: ApiState) -> None:
    with _app(state) as client:
        response = client.post("/api/v1/webhooks", content=b"not json", headers=OPS)
    assert response.status_code in (400, 422, 503)  # parsed, then judged: not a size problem


def test_query_keys_only_on_loopback(state: ApiState) -> None:
    with _app(state, loopback=False) as client:
        refused = client.get("/api/v1/live/sse?key=operator-key-1")
        assert refused.status_code == 401
        assert "loopback" in refused.json()["detail"]
        with client.websocket_connect("/api/v1/live/ws?key=operator-key-1") as ws:
            closed = ws.receive()
            assert closed["code"] == 4401
            assert "header" in closed["reason"]
        assert client.get("/api/v1/me?key=operator-key-1").status_code == 401
        with client.websocket_connect(
            "/api/v1/live/ws", headers={"X-API-Key": "operator-key-1"}
        ) as ws:
            assert ws.receive_json()["type"] == "hello"
        with client.websocket_connect(
            "/api/v1/live/ws", subprotocols=["tradelane", "tradelane-key.bank-a-key-123"]
        ) as ws:
            assert ws.accepted_subprotocol == "tradelane"
            assert ws.receive_json()["principal"]["party"] == "bank-a"


async def _fixed_positions(_s: KafkaSettings, _inputs: Mapping[str, object]) -> Positions:
    return (("finance.ledger", 0, 7),)


@pytest.mark.timeout(120)
def test_another_tenant_is_answered_while_a_ledger_computes(
    state: ApiState, tmp_path: Path
) -> None:
    reads = FinanceReads(
        KafkaSettings(),
        ApiSettings(read_timeout_s=90),
        executor=process_pool(1),
        positions=_fixed_positions,
        ledger_reader=partial(slow_reads.ledger, str(tmp_path)),
    )
    state.finance = reads
    started = tmp_path / "started"
    try:
        with _app(state) as client, ThreadPoolExecutor(1) as requests:
            path = "/api/v1/facilities/fac-a/ledger"
            calendar = requests.submit(client.get, path, headers=BANK_A)
            wait_for(started.exists, 60, "ledger computation")
            t0 = time.monotonic()
            other = client.get("/api/v1/facilities/fac-b", headers=BANK_B)
            answered_in = time.monotonic() - t0
            assert other.status_code == 200
            assert answered_in < 5, answered_in
            assert not calendar.done()
            (tmp_path / "release").touch()
            done = calendar.result(timeout=60)
            assert done.status_code == 200, done.text
            assert done.json()["facility_id"] == "fac-a"
            again = client.get(path, headers=BANK_A)  # same input position: cached
            assert again.status_code == 200
            assert started.read_text().split() == ["fac-a"]
            assert client.get(path, headers=BANK_B).status_code == 404
    finally:
        reads.close()


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] in "ZX"
    except FileNotFoundError:
        return True


async def test_closing_stops_a_computation_under_way(tmp_path: Path) -> None:
    reads = FinanceReads(
        KafkaSettings(),
        ApiSettings(read_timeout_s=60),
        positions=_fixed_positions,
        ledger_reader=partial(slow_reads.ledger, str(tmp_path)),
    )  # the production executor: a lazily made process pool
    running = asyncio.create_task(reads.ledger("fac-a"))
    deadline = time.monotonic() + 60
    while not (tmp_path / "pid").exists():
        assert time.monotonic() < deadline, "the computation never started"
        await asyncio.sleep(0.01)  # polling a condition under a deadline
    pid = int((tmp_path / "pid").read_text())
    assert not _gone(pid)
    reads.close()
    wait_for(lambda: _gone(pid), 10, "worker process gone")
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError, BrokenProcessPool):
        await running


def test_reads_are_bounded_and_time_out_into_503(state: ApiState, tmp_path: Path) -> None:
    with ThreadPoolExecutor(2) as executor:
        reads = FinanceReads(
            KafkaSettings(),
            ApiSettings(read_timeout_s=0.2, read_pending_max=1),
            executor=executor,
            positions=_fixed_positions,
            ledger_reader=partial(slow_reads.ledger, str(tmp_path)),
        )
        state.finance = reads
        with _app(state) as client:
            slow = client.get("/api/v1/facilities/fac-a/ledger", headers=OPS)
            assert slow.status_code == 503
            assert int(slow.headers["retry-after"]) >= 1
            assert "retry" in slow.json()["detail"]
            busy = client.get("/api/v1/facilities/fac-b/ledger", headers=OPS)
            assert busy.status_code == 503
            assert "under way" in busy.json()["detail"]
            (tmp_path / "release").touch()
            wait_for(lambda: reads.off_loop.pending == 0, 30, "computation finishing")
            assert client.get("/api/v1/facilities/fac-a/ledger", headers=OPS).status_code == 200
            assert (tmp_path / "started").read_text().split() == ["fac-a"]


def test_a_facility_too_large_is_refused(state: ApiState) -> None:
    with _app(state, ApiSettings(calendar_max_shipments=0)) as client:
        refused = client.get("/api/v1/facilities/fac-a/calendar", headers=OPS)
    assert refused.status_code == 422
    assert "pledges 1 shipments" in refused.json()["detail"]


def test_a_ledger_too_large_is_refused(state: ApiState) -> None:
    entries = story_ledger()
    out = LedgerOut(
        facility_id="fac-a", entries=entries, unreadable=0, verified=True, head_hash=None
    )
    with ThreadPoolExecutor(1) as executor:
        state.finance = FinanceReads(
            KafkaSettings(),
            positions=_fixed_positions,
            ledger_reader=lambda _settings, _facility: out,
            executor=executor,
        )
        fits = ApiSettings(ledger_max_entries=len(entries))
        with _app(state, fits) as client:
            assert client.get("/api/v1/facilities/fac-a/ledger", headers=OPS).status_code == 200
        with _app(state, ApiSettings(ledger_max_entries=len(entries) - 1)) as client:
            refused = client.get("/api/v1/facilities/fac-a/ledger", headers=OPS)
    assert refused.status_code == 422
    assert f"holds {len(entries)} entries" in refused.json()["detail"]
