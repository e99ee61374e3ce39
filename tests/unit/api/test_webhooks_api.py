"""``/api/v1/webhooks``: tenants manage their own subscriptions; secrets shown once; rotation
keeps the old secret valid for the overlap; bad input is a problem+json 422."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.service import ApiState
from api.webhooks.lifecycle import active_secrets
from api.webhooks.store import SubscriptionStore
from tests.unit.api.conftest import BANK_A, BANK_B, INSURER, OPS

HOOK = {"url": "https://bank-a.example/hooks", "event_types": ["tradelane.finance.*"]}


@pytest.fixture
def hooks(state: ApiState) -> Iterator[tuple[TestClient, SubscriptionStore]]:
    store = SubscriptionStore()
    state.webhooks = store
    with TestClient(create_app(state)) as client:
        yield client, store


def test_create_list_get_update_delete(hooks: tuple[TestClient, SubscriptionStore]) -> None:
    client, store = hooks
    made = client.post("/api/v1/webhooks", json=HOOK, headers=BANK_A)
    assert made.status_code == 201, made.text
    body = made.json()
    sid = body["subscription_id"]
    assert body["secret"].startswith("whsec_")
    assert (body["owner_role"], body["owner_party"]) == ("bank", "bank-a")
    stored = store.get(sid)
    assert stored is not None
    assert active_secrets(stored, stored.created_at) == [body["secret"]]

    listed = client.get("/api/v1/webhooks", headers=BANK_A).json()["items"]
    assert [s["subscription_id"] for s in listed] == [sid]
    assert "secret" not in listed[0]
    assert client.get(f"/api/v1/webhooks/{sid}", headers=BANK_A).json()["url"] == HOOK["url"]

    patched = client.patch(
        f"/api/v1/webhooks/{sid}", json={"subjects": ["fac-a"]}, headers=BANK_A
    ).json()
    assert patched["subjects"] == ["fac-a"]
    assert patched["event_types"] == ["tradelane.finance.*"]

    assert client.delete(f"/api/v1/webhooks/{sid}", headers=BANK_A).status_code == 204
    assert client.get(f"/api/v1/webhooks/{sid}", headers=BANK_A).status_code == 404


def test_tenants_see_only_their_own(hooks: tuple[TestClient, SubscriptionStore]) -> None:
    client, _ = hooks
    sid = client.post("/api/v1/webhooks", json=HOOK, headers=BANK_A).json()["subscription_id"]
    for other in (BANK_B, INSURER):
        assert client.get("/api/v1/webhooks", headers=other).json()["items"] == []
        for method in ("get", "delete"):
            answer = client.request(method.upper(), f"/api/v1/webhooks/{sid}", headers=other)
            assert answer.status_code == 404
            assert answer.headers["content-type"] == "application/problem+json"
        rotated = client.post(f"/api/v1/webhooks/{sid}/rotate-secret", json={}, headers=other)
        assert rotated.status_code == 404
    ops = client.get("/api/v1/webhooks", headers=OPS).json()["items"]
    assert [s["subscription_id"] for s in ops] == [sid]
    assert client.get("/api/v1/webhooks").status_code == 401


def test_rotation_signs_with_both_during_overlap(
    hooks: tuple[TestClient, SubscriptionStore],
) -> None:
    client, store = hooks
    first = client.post("/api/v1/webhooks", json=HOOK, headers=BANK_A).json()
    sid = first["subscription_id"]
    second = client.post(
        f"/api/v1/webhooks/{sid}/rotate-secret", json={"overlap_s": 3600}, headers=BANK_A
    ).json()
    assert second["secret"] != first["secret"]
    sub = store.get(sid)
    assert sub is not None
    now = sub.updated_at
    assert active_secrets(sub, now) == [first["secret"], second["secret"]]
    assert active_secrets(sub, now + timedelta(hours=2)) == [second["secret"]]


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://x.example/"},
        {"url": "https://x.example/", "event_types": ["finance.*"]},
        {"url": "https://x.example/", "secret": "whsec_mine"},
        {},
    ],
)
def test_bad_input_is_a_problem(
    hooks: tuple[TestClient, SubscriptionStore], body: dict[str, object]
) -> None:
    client, _ = hooks
    answer = client.post("/api/v1/webhooks", json=body, headers=BANK_A)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
