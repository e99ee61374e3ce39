"""REST shapes over a folded read model: list filters and paging, detail, events."""

from __future__ import annotations

from decimal import Decimal

from fastapi.testclient import TestClient

from tests.unit.api.conftest import OPS


def test_list_filters_and_paging(client: TestClient) -> None:
    page = client.get("/api/v1/shipments?limit=1&offset=1", headers=OPS).json()
    assert (page["total"], page["limit"], page["offset"]) == (2, 1, 1)
    assert [s["shipment_id"] for s in page["items"]] == ["shp-b"]

    def ids(query: str) -> list[str]:
        found = client.get(f"/api/v1/shipments?{query}", headers=OPS).json()["items"]
        return [s["shipment_id"] for s in found]

    assert ids("status=in_transit") == ["shp-a"]
    assert ids("alert=breach_started") == ["shp-a"]
    assert ids("flag=condition_breached") == ["shp-a"]
    assert ids("bbox=0,40,10,60") == ["shp-b"]
    assert ids("q=SHP-B") == ["shp-b"]


def test_detail_has_state_position_route_and_parties(client: TestClient) -> None:
    detail = client.get("/api/v1/shipments/shp-a", headers=OPS).json()
    assert detail["status"] == "in_transit"
    assert detail["flags"] == ["condition_breached"]
    assert detail["position"]["lat"] == 31.0
    assert detail["last_reading"]["temperature_c"] == 5
    assert detail["route"][0] == [31.23, 121.47]
    assert detail["route"][-1] == [51.95, 4.14]
    assert detail["facilities"] == ["fac-a"]
    assert detail["policies"] == ["pol-shp-a"]
    assert (detail["temp_min_c"], detail["temp_max_c"]) == (2, 8)


def test_events_oldest_first_and_by_kind(client: TestClient) -> None:
    events = client.get("/api/v1/shipments/shp-a/events", headers=OPS).json()["items"]
    assert [e["data"]["kind"] for e in events] == ["milestone_reached", "breach_started"]
    only = client.get("/api/v1/shipments/shp-a/events?kind=breach_started", headers=OPS).json()
    assert len(only["items"]) == 1


def test_facility_detail_history_and_drawdowns(client: TestClient) -> None:
    detail = client.get("/api/v1/facilities/fac-a", headers=OPS).json()
    assert (detail["base"], detail["outstanding"], detail["headroom"]) == (
        "150000",
        "75000",
        "75000",
    )
    assert [p["outstanding"] for p in detail["history"]] == ["75000"]
    assert [p["base"] for p in detail["base_history"]] == ["150000"]
    assert detail["position"]["outstanding"] == detail["outstanding"]
    assert detail["position"]["ledger_seq"] == 0
    assert detail["drawdowns"][0]["amount"] == {"amount": "75000", "currency": "USD"}


def test_history_without_influx_is_503(client: TestClient) -> None:
    response = client.get("/api/v1/shipments/shp-a/track", headers=OPS)
    assert response.status_code == 503
    bad = client.get("/api/v1/shipments/shp-a/track?resolution=5x", headers=OPS)
    assert bad.status_code == 422


def test_dashboard_and_openapi_are_served(client: TestClient) -> None:
    assert client.get("/").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/v1/shipments/{shipment_id}/track" in paths
    assert "/api/v1/live/sse" in paths


def test_calendar_states_the_summary_balance_and_a_reached_milestone_as_done(
    client: TestClient,
) -> None:
    summary = client.get("/api/v1/facilities/fac-a", headers=OPS).json()
    cal = client.get("/api/v1/facilities/fac-a/calendar?start=2026-11-21T00:00:00Z", headers=OPS)
    assert cal.status_code == 200, cal.text
    body = cal.json()
    assert body["outstanding"] == summary["outstanding"] == summary["history"][-1]["outstanding"]
    assert body["position"] == summary["position"]
    assert body["headroom"] == summary["headroom"]
    departure = [line for line in body["lines"] if line["milestone"] == "departed_origin"]
    assert [(d["status"], d["amount"], d["overdue"]) for d in departure] == [
        ("done", "75000.00", False)  # the ledger's amount on the currency's minor unit
    ]
    assert [(d["basis"], d["certainty"]) for d in departure] == [("reached", "certain")]
    assert len(body["days"]) == 28
    assert body["days"][0]["day"] == "2026-11-21"
    assert body["days"][0]["opening"] == f"{Decimal(body['outstanding']):.2f}"
    assert len(body["weeks"]) == 4
    assert body["firm_days"] == 7


def test_calendar_window_in_days_is_bounded(client: TestClient) -> None:
    path = "/api/v1/facilities/fac-a/calendar?start=2026-11-21T00:00:00Z"
    short = client.get(f"{path}&days=3", headers=OPS)
    assert short.status_code == 200, short.text
    assert [d["day"] for d in short.json()["days"]] == ["2026-11-21", "2026-11-22", "2026-11-23"]
    assert client.get(f"{path}&days=183", headers=OPS).status_code == 422
    assert client.get(f"{path}&days=0", headers=OPS).status_code == 422
    assert client.get(f"{path}&days=7&weeks=1", headers=OPS).status_code == 422
    default = client.get("/api/v1/facilities/fac-a/calendar", headers=OPS).json()
    assert len(default["days"]) == 28
