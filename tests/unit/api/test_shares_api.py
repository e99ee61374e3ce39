"""``/api/v1/shipments/{id}/shares``, ``/api/v1/shares/{id}`` and ``/api/v1/shared/{token}``
over the in-memory share store: a key that sees a shipment makes a link, the holder reads it
without a key (no finance, never cached), revocation and expiry answer the same 404 as a link
that never existed, and only the creator's party or an operator manage a share."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.service import ApiState
from api.shares import routes as share_routes
from api.shares.routes import PRIVATE
from api.shares.store import ShareStore
from api.shares.tokens import new_token
from tests.unit.api.conftest import BANK_A, BANK_B, INSURER, OPS
from tests.unit.api.test_shares_core import FINANCE_WORDS, _keys


@pytest.fixture
def api(state: ApiState) -> Iterator[tuple[TestClient, ShareStore]]:
    store = ShareStore()
    state.shares = store
    with TestClient(create_app(state)) as client:
        yield client, store


def _private(headers: Any) -> None:
    for name, value in PRIVATE.items():
        assert headers[name] == value, name


def test_make_read_list_and_revoke(api: tuple[TestClient, ShareStore]) -> None:
    client, _store = api
    made = client.post(
        "/api/v1/shipments/shp-a/shares",
        json={"label": "Fresh Imports BV", "audience": "consignee"},
        headers=BANK_A,
    )
    assert made.status_code == 201, made.text
    body = made.json()
    _private(made.headers)
    assert body["token"].startswith("tlshr_")
    assert body["url"].endswith(body["path"])
    assert body["path"] == f"/api/v1/shared/{body['token']}"
    assert (body["creator_role"], body["creator_party"]) == ("bank", "bank-a")

    read = client.get(body["path"])  # no key
    assert read.status_code == 200, read.text
    _private(read.headers)
    shared = read.json()
    assert shared["shipment_id"] == "shp-a"
    assert shared["condition"]["breached"] is True
    assert shared["track"] is None  # no history configured here
    assert not {k for k in _keys(shared) if FINANCE_WORDS.search(k)}
    assert "fac-a" not in read.text
    assert "bank-a" not in read.text
    by_header = client.get("/api/v1/shared", headers={"X-Share-Token": body["token"]})
    assert by_header.json() == shared

    listed = client.get("/api/v1/shipments/shp-a/shares", headers=BANK_A).json()["items"]
    assert [s["share_id"] for s in listed] == [body["share_id"]]
    assert "token" not in listed[0]
    assert body["token"] not in str(listed)
    assert listed[0]["live"] is True

    assert client.delete(f"/api/v1/shares/{body['share_id']}", headers=BANK_A).status_code == 204
    gone = client.get(body["path"])
    assert gone.status_code == 404
    _private(gone.headers)
    assert body["token"] not in gone.text  # the problem names the route, not the path
    never = client.get(f"/api/v1/shared/{new_token()}")
    assert (never.status_code, never.json()["detail"]) == (404, gone.json()["detail"])
    listed = client.get("/api/v1/shipments/shp-a/shares", headers=BANK_A).json()["items"]
    assert (listed[0]["status"], listed[0]["live"]) == ("revoked", False)
    # revoking again changes nothing
    assert client.delete(f"/api/v1/shares/{body['share_id']}", headers=OPS).status_code == 204


def test_an_expired_link_answers_like_an_unknown_one(
    api: tuple[TestClient, ShareStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _store = api
    body = client.post(
        "/api/v1/shipments/shp-a/shares", json={"expires_in_s": 3600}, headers=OPS
    ).json()
    assert client.get(body["path"]).status_code == 200
    later = share_routes._now() + timedelta(hours=1, seconds=1)
    monkeypatch.setattr(share_routes, "_now", lambda: later)
    expired = client.get(body["path"])
    assert expired.status_code == 404
    assert expired.json()["detail"] == client.get(f"/api/v1/shared/{new_token()}").json()["detail"]


def test_a_shipment_the_key_cannot_see_cannot_be_shared(
    api: tuple[TestClient, ShareStore],
) -> None:
    client, store = api
    for key in (BANK_B, INSURER):
        refused = client.post("/api/v1/shipments/shp-a/shares", json={}, headers=key)
        assert refused.status_code == 404
        assert client.get("/api/v1/shipments/shp-a/shares", headers=key).status_code == 404
    assert client.post("/api/v1/shipments/shp-zz/shares", json={}, headers=OPS).status_code == 404
    assert client.post("/api/v1/shipments/shp-a/shares", json={}).status_code == 401
    assert not store.book.shares


@pytest.mark.parametrize(
    "body", [{"expires_in_s": 90 * 86_400 + 1}, {"expires_in_s": 10}, {"label": "x" * 201}]
)
def test_bounds_are_enforced(api: tuple[TestClient, ShareStore], body: dict[str, Any]) -> None:
    client, _store = api
    assert client.post("/api/v1/shipments/shp-a/shares", json=body, headers=OPS).status_code == 422


def test_only_the_creators_party_or_an_operator_revoke_or_list(
    api: tuple[TestClient, ShareStore],
) -> None:
    client, _store = api
    by_ops = client.post("/api/v1/shipments/shp-b/shares", json={}, headers=OPS).json()
    by_b = client.post("/api/v1/shipments/shp-b/shares", json={}, headers=BANK_B).json()
    assert client.delete(f"/api/v1/shares/{by_ops['share_id']}", headers=BANK_B).status_code == 404
    assert client.delete(f"/api/v1/shares/{by_b['share_id']}", headers=BANK_A).status_code == 404
    listed = client.get("/api/v1/shipments/shp-b/shares", headers=BANK_B).json()["items"]
    assert [s["share_id"] for s in listed] == [by_b["share_id"]]
    everything = client.get("/api/v1/shipments/shp-b/shares", headers=OPS).json()["items"]
    assert {s["share_id"] for s in everything} == {by_ops["share_id"], by_b["share_id"]}
    assert client.delete(f"/api/v1/shares/{by_b['share_id']}", headers=OPS).status_code == 204
    assert client.get(by_b["path"]).status_code == 404
    assert client.get(by_ops["path"]).status_code == 200


def test_a_link_shows_no_more_than_its_creator_still_sees(
    api: tuple[TestClient, ShareStore],
) -> None:
    client, _store = api
    body = client.post("/api/v1/shipments/shp-a/shares", json={}, headers=BANK_A).json()
    assert client.get(body["path"]).status_code == 200
    state: ApiState = client.app.state.api  # type: ignore[attr-defined]
    state.model.shipment_facilities["shp-a"] = set()  # the pledge ended
    assert client.get(body["path"]).status_code == 404


def test_unknown_links_spend_the_address_limit(api: tuple[TestClient, ShareStore]) -> None:
    client, _store = api
    body = client.post("/api/v1/shipments/shp-a/shares", json={}, headers=OPS).json()
    answers = [client.get(f"/api/v1/shared/{new_token()}").status_code for _ in range(25)]
    assert answers[:20] == [404] * 20
    assert 429 in answers[20:]
    assert client.get(body["path"]).status_code == 200  # a valid link is not held up


def test_without_a_store_the_endpoints_say_so(state: ApiState) -> None:
    with TestClient(create_app(state)) as client:
        made = client.post("/api/v1/shipments/shp-a/shares", json={}, headers=OPS)
        assert made.status_code == 503
        unavailable = client.get(f"/api/v1/shared/{new_token()}")
        assert unavailable.status_code == 503
        _private(unavailable.headers)
