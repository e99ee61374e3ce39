"""The seller's page is served like the dashboard: without a key (it holds no data; its
calls carry the key), with every asset it names, and outside the OpenAPI document."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def test_the_seller_page_and_its_assets_are_served_without_a_key(client: TestClient) -> None:
    page = client.get("/seller")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    assert {"/static/seller.js", "/static/seller.css"} <= set(assets)
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    assert 'name="viewport"' in page.text  # a phone renders it at its own width
    assert "/seller" not in client.get("/openapi.json").json()["paths"]


def test_the_page_calls_only_endpoints_the_api_has(client: TestClient) -> None:
    script = client.get("/static/seller.js").text
    assert 'from "./seller-finance.js"' in script
    script += client.get("/static/seller-finance.js").text
    paths = client.get("/openapi.json").json()["paths"]
    wanted = {
        "/api/v1/me",
        "/api/v1/facilities",
        "/api/v1/facilities/{facility_id}",
        "/api/v1/facilities/{facility_id}/calendar",
        "/api/v1/facilities/{facility_id}/tranches",
        "/api/v1/facilities/{facility_id}/tranches/{shipment_id}/{milestone}/decision",
        "/api/v1/facilities/{facility_id}/reminders",
        "/api/v1/facilities/{facility_id}/credit-profile",
        "/api/v1/facilities/{facility_id}/instalments",
        "/api/v1/facilities/{facility_id}/instalments/{shipment_id}/{instalment_id}/delay",
        "/api/v1/facilities/{facility_id}/fx-quotes",
        "/api/v1/shipments",
    }
    assert wanted <= set(paths)
    tails = ["/calendar?", "/tranches?", "/reminders", "/decision", "/api/v1/shipments?"]
    tails += ['"/credit-profile"', '"/instalments"', "/delay`", '"/fx-quotes"']
    for tail in tails:
        assert tail in script, tail
    assert "post" in paths["/api/v1/facilities/{facility_id}/fx-quotes"]
