"""Keys, roles and what each role may read over REST; errors are problem details."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from api import auth
from api.access import can_see_item
from api.app import InsecureConfigError, check_keys, create_app
from api.auth import DEMO_KEYS, Principal, Role, hash_key, is_loopback, load_keys, new_key
from api.feed_item import FeedItem, ItemType
from api.projection import apply
from api.service import ApiState
from tests.unit.api import records
from tests.unit.api.conftest import BANK_A, BANK_B, INSURER, KEYS, OPS, SELLER_A, SELLER_B
from tradelane.topics import FINANCE_FACILITIES

PROBLEM = "application/problem+json"


def _entry(role: str, name: str, party: str | None = None) -> tuple[str, dict[str, str]]:
    key_id, key = new_key()
    entry = {"id": key_id, "hash": hash_key(key), "role": role, "name": name}
    return key, entry | ({"party": party} if party else {})


def test_key_file_of_hashes(tmp_path: Path) -> None:
    ops_key, ops = _entry("operator", "desk")
    bank_key, bank = _entry("bank", "b", "bank-9")
    path = tmp_path / "keys.yaml"
    path.write_text(yaml.safe_dump({"keys": [ops, bank]}))
    assert ops_key not in path.read_text()
    ring = load_keys(path)
    assert ring.lookup(ops_key) == Principal(name="desk", role=Role.OPERATOR)
    found = ring.authenticate(bank_key)
    assert found is not None
    assert (found.principal.party, found.key_id) == ("bank-9", bank["id"])
    assert ring.lookup(bank_key[:-1] + ("A" if bank_key[-1] != "A" else "B")) is None
    assert ring.lookup(ops_key.replace(ops["id"], bank["id"])) is None  # id of another key
    assert ring.lookup("demo-operator-key") is None
    assert ring.lookup(None) is None
    assert not ring.demo


def test_a_verified_key_is_remembered_not_rehashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, entry = _entry("operator", "desk")
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": [entry]}))
    ring = load_keys(path)
    checks: list[str] = []
    real = auth.HASHER

    class Counting:
        def verify(self, stored: str, presented: str) -> bool:
            checks.append(presented)
            return real.verify(stored, presented)

    monkeypatch.setattr(auth, "HASHER", Counting())
    for _ in range(3):
        assert ring.lookup(key) is not None
    assert ring.lookup(key[:-2] + "xx") is None
    assert ring.lookup(key[:-2] + "xx") is None
    assert len(checks) == 3  # the good key once; a wrong one is checked every time


def test_plain_text_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text("keys:\n  - {key: ops-secret-1, role: operator, name: desk}\n")
    with pytest.raises(ValueError, match="plain-text key"):
        load_keys(path)


def test_a_bank_key_needs_its_bank(tmp_path: Path) -> None:
    _, entry = _entry("bank", "b")
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": [entry]}))
    with pytest.raises(ValueError, match="needs a party"):
        load_keys(path)


def test_a_missing_key_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        load_keys(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),  # noqa: S104
        ("::", False),
        ("10.1.2.3", False),
        ("api.example", False),
    ],
)
def test_demo_keys_only_on_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    if loopback:
        check_keys(load_keys(None), host)
    else:
        with pytest.raises(InsecureConfigError, match="refusing to serve the public demo keys"):
            check_keys(load_keys(None), host)


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


def test_a_borrower_sees_its_own_facility_shipments_calendar_and_claims_only(
    client: TestClient,
) -> None:
    listed = client.get("/api/v1/facilities", headers=SELLER_A).json()
    assert [f["facility_id"] for f in listed["items"]] == ["fac-a"]
    assert client.get("/api/v1/facilities/fac-a", headers=SELLER_A).status_code == 200
    assert client.get("/api/v1/facilities/fac-a/calendar", headers=SELLER_A).status_code == 200
    assert client.get("/api/v1/facilities/fac-b", headers=SELLER_A).status_code == 404
    assert client.get("/api/v1/facilities/fac-a/calendar", headers=SELLER_B).status_code == 404
    shipments = client.get("/api/v1/shipments", headers=SELLER_A).json()["items"]
    assert [s["shipment_id"] for s in shipments] == ["shp-a"]
    assert client.get("/api/v1/shipments/shp-b", headers=SELLER_A).status_code == 404
    assert client.get("/api/v1/shipments/shp-a", headers=SELLER_A).json()["facilities"] == ["fac-a"]
    # the claim on its pledged goods, not the policy's terms; the other seller sees neither
    assert client.get("/api/v1/claims", headers=SELLER_A).json()["total"] == 1
    assert client.get("/api/v1/claims", headers=SELLER_B).json()["total"] == 0
    assert client.get("/api/v1/policies", headers=SELLER_A).json()["items"] == []
    assert client.get("/api/v1/me", headers=SELLER_A).json()["role"] == "borrower"


def test_a_borrower_key_named_like_a_bank_sees_nothing_of_the_bank(state: ApiState) -> None:
    """Role and party together name a tenant: a borrower whose id is a bank's id is not it."""
    impostor = Principal(name="x", role=Role.BORROWER, party="bank-a")
    t = records.T0
    items = (
        FeedItem(ItemType.POSITION, t, {}, shipment_id="shp-a"),
        FeedItem(ItemType.FINANCE, t, {}, facility_id="fac-a"),
    )
    assert not any(can_see_item(impostor, state.model, i) for i in items)


def test_shipments_by_facility_only_for_a_facility_the_key_sees(client: TestClient) -> None:
    found = client.get("/api/v1/shipments?facility_id=fac-a", headers=SELLER_A).json()
    assert [s["shipment_id"] for s in found["items"]] == ["shp-a"]
    assert client.get("/api/v1/shipments?facility_id=fac-b", headers=BANK_A).status_code == 404


def test_a_withdrawn_facility_is_seen_by_no_one(state: ApiState) -> None:
    """A tombstone on finance.facilities (the registry forgets a line) withdraws it."""
    apply(state.model, FINANCE_FACILITIES.name, None, b"fac-a")
    with TestClient(create_app(state)) as client:
        assert client.get("/api/v1/facilities/fac-a", headers=OPS).status_code == 404
        assert client.get("/api/v1/shipments", headers=SELLER_A).json()["total"] == 0


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
    seller_a, seller_b = KEYS["seller-a-key-1"], KEYS["seller-b-key-1"]
    assert [can_see_item(seller_a, model, i) for i in (position, money, claim)] == [1, 1, 1]
    assert [can_see_item(seller_b, model, i) for i in (position, money, claim)] == [0, 0, 0]


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
