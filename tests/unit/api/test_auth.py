"""Keys, roles and what each role may read over REST; errors are problem details."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.access import can_see_item
from api.auth import DEMO_KEYS, Principal, Role, load_keys
from api.feed_item import FeedItem, ItemType
from api.service import ApiState
from tests.unit.api import records
from tests.unit.api.conftest import BANK_A, BANK_B, INSURER, KEYS, OPS

PROBLEM = "application/problem+json"


def test_key_file_yaml(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(
        "keys:\n"
        "  - {key: ops-secret-1, role: operator, name: desk}\n"
        "  - {key: bank-secret-1, role: bank, name: b, party: bank-9}\n"
    )
    ring = load_keys(path)
    assert ring.lookup("ops-secret-1") == Principal(name="desk", role=Role.OPERATOR)
    found = ring.lookup("bank-secret-1")
    assert found is not None
    assert found.party == "bank-9"
    assert ring.lookup("demo-operator-key") is None
    assert ring.lookup(None) is None


def test_a_bank_key_needs_its_bank(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text('{"keys": [{"key": "bank-secret-1", "role": "bank", "name": "b"}]}')
    with pytest.raises(ValueError, match="needs a party"):
        load_keys(path)


def test_demo_keys_without_a_file() -> None:
    ring = load_keys(None)
    for key, principal in DEMO_KEYS.items():
        assert ring.lookup(key) == principal


def test_no_key_and_a_wrong_key_are_401_problems(client: TestClient) -> None:
    for headers in ({}, {"X-API-Key": "wrong-key-000"}):
        response = client.get("/api/v1/shipments", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM
        body = response.json()
        assert (body["status"], body["title"]) == (401, "Unauthorized")
        assert body["instance"] == "/api/v1/shipments"


def test_bearer_token_works(client: TestClient) -> None:
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer bank-a-key-123"})
    assert response.json() == {"name": "bank a", "role": "bank", "party": "bank-a"}


def test_a_bank_cannot_read_another_banks_facility(client: TestClient) -> None:
    assert client.get("/api/v1/facilities/fac-a", headers=BANK_A).status_code == 200
    other = client.get("/api/v1/facilities/fac-b", headers=BANK_A)
    assert other.status_code == 404
    assert other.headers["content-type"] == PROBLEM
    assert client.get("/api/v1/facilities/fac-a", headers=BANK_B).status_code == 404
    listed = client.get("/api/v1/facilities", headers=BANK_A).json()
    assert [f["facility_id"] for f in listed["items"]] == ["fac-a"]


def test_a_bank_sees_only_its_pledged_shipments(client: TestClient) -> None:
    listed = client.get("/api/v1/shipments", headers=BANK_B).json()
    assert [s["shipment_id"] for s in listed["items"]] == ["shp-b"]
    assert client.get("/api/v1/shipments/shp-a", headers=BANK_B).status_code == 404
    assert client.get("/api/v1/shipments/shp-a/events", headers=BANK_B).status_code == 404
    assert client.get("/api/v1/shipments/shp-a/track", headers=BANK_B).status_code == 404
    assert client.get("/api/v1/shipments/shp-a", headers=BANK_A).status_code == 200


def test_an_insurer_sees_its_policies_and_claims_only(client: TestClient) -> None:
    policies = client.get("/api/v1/policies", headers=INSURER).json()["items"]
    assert [p["policy_id"] for p in policies] == ["pol-shp-a"]
    claims = client.get("/api/v1/claims", headers=INSURER).json()
    assert claims["total"] == 1
    assert client.get("/api/v1/shipments", headers=INSURER).json()["total"] == 0
    assert client.get("/api/v1/facilities", headers=INSURER).json()["total"] == 0
    assert client.get("/api/v1/claims", headers=BANK_A).json()["total"] == 0
    assert client.get("/api/v1/policies", headers=BANK_A).json()["items"] == []


def test_the_operator_sees_everything(client: TestClient) -> None:
    assert client.get("/api/v1/shipments", headers=OPS).json()["total"] == 2
    assert client.get("/api/v1/facilities", headers=OPS).json()["total"] == 2
    assert client.get("/api/v1/claims", headers=OPS).json()["total"] == 1


def test_feed_items_follow_the_same_rules(state: ApiState) -> None:
    bank_a, bank_b, insurer = KEYS["bank-a-key-123"], KEYS["bank-b-key-123"], KEYS["insurer-key-12"]
    t = records.T0
    position = FeedItem(ItemType.POSITION, t, {}, shipment_id="shp-a")
    money = FeedItem(ItemType.FINANCE, t, {}, facility_id="fac-a")
    claim = FeedItem(ItemType.CLAIM, t, {}, shipment_id="shp-a", policy_id="pol-shp-a")
    model = state.model
    assert [can_see_item(bank_a, model, i) for i in (position, money, claim)] == [1, 1, 0]
    assert [can_see_item(bank_b, model, i) for i in (position, money, claim)] == [0, 0, 0]
    assert [can_see_item(insurer, model, i) for i in (position, money, claim)] == [0, 0, 1]


def test_validation_errors_are_problems(client: TestClient) -> None:
    response = client.get("/api/v1/shipments?limit=0", headers=OPS)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"][0]["loc"] == ["query", "limit"]
    bad_box = client.get("/api/v1/shipments?bbox=1,2,3", headers=OPS)
    assert bad_box.status_code == 422


def test_unknown_paths_are_problems(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here", headers=OPS)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/readyz").json()["status"] == "ready"
