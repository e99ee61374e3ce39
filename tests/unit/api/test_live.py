"""The live feed over WebSocket and SSE: hello, filtered items, access rules, close codes."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from api.projection import apply
from api.service import ApiState
from tests.unit.api import records as r


def publish(client: TestClient, state: ApiState, record: r.Record) -> None:
    """Fold and fan out on the app's event loop, as the Kafka follower does."""

    def fold_and_fan_out() -> None:
        state.hub.publish(apply(state.model, *record))

    assert client.portal is not None
    client.portal.call(fold_and_fan_out)


def receive_until_closed(ws: WebSocketTestSession) -> None:
    while True:
        ws.receive_json()


def test_ws_hello_then_only_visible_filtered_items(client: TestClient, state: ApiState) -> None:
    url = "/api/v1/live/ws?key=bank-a-key-123&type=position,alert"
    with client.websocket_connect(url) as ws:
        hello = ws.receive_json()
        assert hello["type"] == "hello"
        assert hello["principal"]["party"] == "bank-a"
        assert hello["filter"]["type"] == ["alert", "position"]
        publish(client, state, r.reading("dev-b", 2, 5, 52.0, 5.0))  # bank b's shipment: not sent
        publish(client, state, r.base_changed("fac-a", "1", "0", 30))  # finance: filtered out
        publish(client, state, r.reading("dev-a", 2, 5, 30.0, 125.0))
        item = ws.receive_json()
        assert (item["type"], item["shipment_id"], item["lon"]) == ("position", "shp-a", 125.0)


def test_ws_filter_can_be_replaced(client: TestClient, state: ApiState) -> None:
    with client.websocket_connect("/api/v1/live/ws?key=operator-key-1") as ws:
        ws.receive_json()
        ws.send_json({"filter": {"shipment": ["shp-b"]}})
        assert ws.receive_json()["filter"]["shipment"] == ["shp-b"]
        publish(client, state, r.reading("dev-a", 3, 6, 30.0, 126.0))
        publish(client, state, r.reading("dev-b", 3, 6, 52.0, 6.0))
        assert ws.receive_json()["shipment_id"] == "shp-b"


def test_ws_bad_key_closes_4401(client: TestClient) -> None:
    with client.websocket_connect("/api/v1/live/ws?key=nope") as ws:
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4401


def test_ws_bad_filter_closes_4422(client: TestClient) -> None:
    with client.websocket_connect("/api/v1/live/ws?key=operator-key-1&bbox=1,2") as ws:
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4422


def test_ws_client_that_falls_behind_on_alerts_is_closed_4008(
    client: TestClient, state: ApiState
) -> None:
    with client.websocket_connect("/api/v1/live/ws?key=operator-key-1&type=alert") as ws:
        ws.receive_json()
        [sub] = state.hub.subscribers

        def flood() -> None:  # more alerts than the queue holds, before the sender can run
            for minute in range(state.hub.queue_max + 1):
                state.hub.publish(apply(state.model, *r.breach("shp-b", 100 + minute)))

        assert client.portal is not None
        client.portal.call(flood)
        assert sub.queue.overflowed
        with pytest.raises(WebSocketDisconnect) as closed:
            receive_until_closed(ws)  # what was queued arrives, then the close
        assert closed.value.code == 4008


def test_sse_needs_a_key(client: TestClient) -> None:
    response = client.get("/api/v1/live/sse")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_sse_streams_hello_and_items(client: TestClient, state: ApiState) -> None:
    with client.stream("GET", "/api/v1/live/sse?key=operator-key-1&type=alert") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert next(lines) == "event: hello"
        assert json.loads(next(lines)[len("data: ") :])["principal"]["role"] == "operator"
        publish(client, state, r.breach("shp-b", 70))
        seen = [next(lines) for _ in range(3)]
        assert seen[1] == "event: alert"
        assert json.loads(seen[2][len("data: ") :])["alert"] == "breach_started"
