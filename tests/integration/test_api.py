"""``tradelane api`` against the real services with data from the simulator: the live feed
(WebSocket and SSE) pushes positions and alerts as the fleet sails, REST serves state,
history from InfluxDB and facilities, and a bank sees only its own facility and shipments."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from ingest.sink import Sink, SinkConfig
from tests.integration.api_helpers import RunningApi, publish_facilities, running_api
from tests.integration.helpers import bridge_and_worker, simulate_reefer_failure
from tradelane.settings import InfluxSettings, KafkaSettings, MqttSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def api(
    kafka_settings: KafkaSettings,
    influx_settings: InfluxSettings,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningApi]:
    """One API process for the module: every test uses its own ids (and bank parties)."""
    with running_api(tmp_path_factory.mktemp("api"), uuid.uuid4().hex[:10]) as running:
        yield running


async def collect(ws: ClientConnection, into: list[dict[str, Any]]) -> None:
    with contextlib.suppress(Exception):
        async for message in ws:
            into.append(json.loads(message))


async def until(check: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, f"no {what} within {timeout_s:.0f}s"
        await asyncio.sleep(0.5)  # polling the API under a deadline


async def test_live_feed_rest_history_and_roles(
    api: RunningApi,
    mqtt_settings: MqttSettings,
    kafka_settings: KafkaSettings,
    influx_settings: InfluxSettings,
    unique: str,
    tmp_path: Path,
) -> None:
    prefix = f"api{unique}"
    ships = [f"{prefix}-shp{i:05d}" for i in range(8)]
    fa, fb = await publish_facilities(kafka_settings, api, unique, ships[:4], ships[7:])
    keys = api.keys
    http = httpx.AsyncClient(base_url=api.url, timeout=30)

    async def get(path: str, role: str) -> httpx.Response:
        return await http.get(path, headers={"X-API-Key": keys[role]})

    async def facilities_known() -> bool:
        return (await get(f"/api/v1/facilities/{fb}", "bank_b")).status_code == 200

    await until(facilities_known, 60, "facility in the read model")

    operator_items: list[dict[str, Any]] = []
    bank_b_items: list[dict[str, Any]] = []
    shipment_filter = ",".join(ships)
    async with (
        connect(api.ws_url(f"key={keys['operator']}&shipment={shipment_filter}")) as operator_ws,
        connect(api.ws_url(f"key={keys['bank_b']}")) as bank_b_ws,
    ):
        assert json.loads(await operator_ws.recv())["type"] == "hello"
        assert json.loads(await bank_b_ws.recv())["principal"]["party"] == api.parties["bank_b"]
        readers = [
            asyncio.create_task(collect(operator_ws, operator_items)),
            asyncio.create_task(collect(bank_b_ws, bank_b_items)),
        ]
        stop = asyncio.Event()
        sink = Sink(
            kafka_settings,
            influx_settings,
            SinkConfig(group_id=f"api-sink-{unique}", from_beginning=False),
        )
        sink_task = asyncio.create_task(sink.run(stop))
        try:
            await asyncio.wait_for(sink.ready.wait(), 60)
            async with bridge_and_worker(
                mqtt_settings, kafka_settings, f"tradelane-streams-api-{unique}", tmp_path
            ):
                await simulate_reefer_failure(prefix)

                async def positions_and_alerts() -> bool:
                    placed = {i["shipment_id"] for i in operator_items if i["type"] == "position"}
                    alerts = {i["alert"] for i in operator_items if i["type"] == "alert"}
                    return len(placed) == len(ships) and "breach_started" in alerts

                await until(positions_and_alerts, 120, "positions of every shipment and a breach")
        finally:
            stop.set()
            await sink_task
            for task in readers:
                task.cancel()

    # the feed: only the filtered shipments to the operator; bank B only its own shipment
    assert {i["shipment_id"] for i in operator_items} <= set(ships)
    bank_b_shipments = {i["shipment_id"] for i in bank_b_items if i["shipment_id"]}
    assert bank_b_shipments == {ships[7]}
    assert {i["facility_id"] for i in bank_b_items if i["type"] == "finance"} <= {fb}

    # REST: state, paging and roles
    listed = (await get(f"/api/v1/shipments?q={prefix}&limit=5", "operator")).json()
    assert listed["total"] == len(ships)
    assert len(listed["items"]) == 5
    mine = (await get(f"/api/v1/shipments?q={prefix}", "bank_a")).json()
    assert [s["shipment_id"] for s in mine["items"]] == ships[:4]
    assert (await get(f"/api/v1/facilities/{fa}", "bank_a")).status_code == 200
    refused = await get(f"/api/v1/facilities/{fa}", "bank_b")
    assert refused.status_code == 404
    assert refused.headers["content-type"] == "application/problem+json"
    assert (await get(f"/api/v1/shipments/{ships[0]}", "bank_b")).status_code == 404
    assert (await get(f"/api/v1/shipments/{ships[0]}", "insurer")).status_code == 404

    breached = next(i["shipment_id"] for i in operator_items if i["alert"] == "breach_started")
    detail = (await get(f"/api/v1/shipments/{breached}", "operator")).json()
    assert detail["position"] is not None
    assert "condition_breached" in detail["flags"]
    assert detail["last_reading"]["device_id"].startswith(prefix)
    events = (await get(f"/api/v1/shipments/{breached}/events", "operator")).json()["items"]
    assert "breach_started" in {e["data"]["kind"] for e in events}

    # history from InfluxDB, downsampled
    async def track() -> list[dict[str, Any]]:
        response = await get(f"/api/v1/shipments/{breached}/track?resolution=6h", "operator")
        assert response.status_code == 200, response.text
        points: list[dict[str, Any]] = response.json()["points"]
        return points

    points = await until(track, 60, "track points in InfluxDB")
    assert all(-90 <= p["lat"] <= 90 and -180 <= p["lon"] <= 180 for p in points)
    coarse = (await get(f"/api/v1/shipments/{breached}/track?resolution=1d", "operator")).json()
    assert 0 < len(coarse["points"]) <= len(points)
    assert coarse["resolution_s"] == 86400
    query = "field=temperature_c&aggregate=max&resolution=1h"
    sensors = (await get(f"/api/v1/shipments/{breached}/sensors?{query}", "operator")).json()
    temperatures = [p["temperature_c"] for p in sensors["points"] if p["temperature_c"] is not None]
    assert temperatures
    assert sensors["temp_max_c"] is not None
    assert max(temperatures) > sensors["temp_max_c"]
    await http.aclose()


async def test_sse_feed_carries_positions(
    api: RunningApi, mqtt_settings: MqttSettings, kafka_settings: KafkaSettings, unique: str
) -> None:
    """The SSE feed, for simple clients, with the key in the query string."""
    prefix = f"sse{unique}"
    url = f"{api.url}/api/v1/live/sse?key={api.keys['operator']}&type=position&shipment="
    url += ",".join(f"{prefix}-shp{i:05d}" for i in range(2))
    seen: list[dict[str, Any]] = []

    async def read() -> None:
        async with (
            httpx.AsyncClient(timeout=None) as client,
            client.stream("GET", url) as response,
        ):
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    seen.append(json.loads(line[6:]))
                if any(s.get("type") == "position" for s in seen):
                    return

    reader = asyncio.create_task(read())
    await until(lambda: _hello_seen(seen), 30, "SSE hello")
    stop = asyncio.Event()
    from ingest.bridge import Bridge, BridgeConfig
    from transport.mqtt import forget_session

    bridge = Bridge(
        mqtt_settings,
        kafka_settings,
        BridgeConfig(client_id=f"sse-{unique}", share_group=f"sse-{unique}", metrics_port=None),
    )
    bridge_task = asyncio.create_task(bridge.run(stop))
    try:
        await asyncio.wait_for(bridge.subscribed.wait(), 15)
        sim = await asyncio.create_subprocess_exec(
            *_simulate(prefix), stdout=asyncio.subprocess.DEVNULL
        )
        await asyncio.wait_for(reader, 90)
        await asyncio.wait_for(sim.wait(), 60)
    finally:
        stop.set()
        await bridge_task
        forget_session(mqtt_settings, f"sse-{unique}")
    position = next(s for s in seen if s.get("type") == "position")
    assert position["shipment_id"].startswith(prefix)
    assert position["lat"] is not None


async def _hello_seen(seen: list[dict[str, Any]]) -> bool:
    return any(s.get("type") == "hello" for s in seen)


def _simulate(prefix: str) -> list[str]:
    import sys

    return [
        sys.executable,
        "-m",
        "cli.main",
        "simulate",
        "--trackers",
        "2",
        "--max-trackers-per-shipment",
        "1",
        "--speedup",
        "43200",
        "--duration",
        "8",
        "--prefix",
        prefix,
        "--quiet",
    ]
