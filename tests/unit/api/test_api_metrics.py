"""The API's series: requests counted by route template (never the raw path, whose ids would
make a series per shipment) and status, and the feed's clients and drops read from the hub."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.client_queue import ClientQueue
from api.feed_filter import FeedFilter
from api.service import ApiState
from tests.unit.api.conftest import KEYS, OPS
from transport.metrics import total, value


def test_requests_are_counted_by_route_template_and_status(
    client: TestClient, state: ApiState
) -> None:
    assert state.metrics is not None
    r = state.metrics.registry
    assert client.get("/api/v1/shipments/shp-a", headers=OPS).status_code == 200
    assert client.get("/api/v1/shipments/shp-a").status_code == 401
    assert client.get("/no/such/page").status_code == 404
    route = "/api/v1/shipments/{shipment_id}"
    ok = {"method": "GET", "route": route, "status": "200"}
    assert value(r, "tradelane_api_requests_total", ok) == 1
    assert value(r, "tradelane_api_requests_total", {**ok, "status": "401"}) == 1
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(r, "tradelane_api_requests_total", unmatched) == 1
    timed = {"method": "GET", "route": route}
    assert value(r, "tradelane_api_request_duration_seconds_count", timed) == 2
    assert total(r, "tradelane_api_requests_total") == 3


def test_feed_clients_and_drops_come_from_the_hub(state: ApiState) -> None:
    assert state.metrics is not None
    r = state.metrics.registry
    sub = state.hub.subscribe(KEYS["operator-key-1"], FeedFilter())
    assert value(r, "tradelane_api_feed_clients") == 1
    sub.queue = ClientQueue(1)
    sub.queue.dropped_positions = 3  # as a slow client's queue would have counted
    assert value(r, "tradelane_api_feed_dropped_total") == 3
    state.hub.unsubscribe(sub)
    assert value(r, "tradelane_api_feed_clients") == 0
    assert value(r, "tradelane_api_feed_dropped_total") == 3  # a counter: kept after it left
