"""``/api/v1/webhooks``: tenants manage their own subscriptions; secrets shown once; rotation
keeps the old secret valid for the overlap; bad input is a problem+json 422, a URL outside the
destination policy too; a tenant past its subscription cap gets a 409. DNS is a fake here."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.service import ApiState
from tests.unit.api.conftest import BANK_A, BANK_B, INSURER, OPS
from webhooks.address import IPAddress
from webhooks.lifecycle import active_secrets
from webhooks.settings import WebhookSettings
from webhooks.store import SubscriptionStore

HOOK = {"url": "https://bank-a.example/hooks", "event_types": ["tradelane.finance.*"]}


DNS = {
    "bank-a.example": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    "x.example": ["93.184.215.15"],
    "rebind.example": ["93.184.215.16", "127.0.0.1"],
    "intranet.example": ["10.1.2.3"],
    "v6.example": ["fc00::1"],
}


async def fake_lookup(host: str, port: int) -> list[IPAddress]:
    if host not in DNS:
        raise OSError(f"{host}: no such host")
    return [ipaddress.ip_address(a) for a in DNS[host]]


@pytest.fixture
def hooks(state: ApiState) -> Iterator[tuple[TestClient, SubscriptionStore]]:
    store = SubscriptionStore(WebhookSettings(max_subscriptions_per_tenant=3), fake_lookup)
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


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hooks",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/",
        "https://[::1]/",
        "https://[fc00::1]/",
        "https://rebind.example/hooks",
        "https://intranet.example/hooks",
        "https://v6.example/hooks",
        "https://nowhere.example/hooks",
        "http://bank-a.example/hooks",
    ],
)
def test_destinations_outside_the_policy_are_refused(
    hooks: tuple[TestClient, SubscriptionStore], url: str
) -> None:
    client, store = hooks
    answer = client.post("/api/v1/webhooks", json={"url": url}, headers=BANK_A)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"].startswith("url refused: ")
    assert store.all() == []
    sid = client.post("/api/v1/webhooks", json=HOOK, headers=BANK_A).json()["subscription_id"]
    patched = client.patch(f"/api/v1/webhooks/{sid}", json={"url": url}, headers=BANK_A)
    assert patched.status_code == 422
    assert client.get(f"/api/v1/webhooks/{sid}", headers=BANK_A).json()["url"] == HOOK["url"]


def test_a_tenant_past_its_cap_is_refused_others_are_not(
    hooks: tuple[TestClient, SubscriptionStore],
) -> None:
    client, _ = hooks
    for _ in range(3):
        assert client.post("/api/v1/webhooks", json=HOOK, headers=BANK_A).status_code == 201
    over = client.post("/api/v1/webhooks", json=HOOK, headers=BANK_A)
    assert over.status_code == 409
    assert over.headers["content-type"] == "application/problem+json"
    assert "already has 3 webhook subscriptions" in over.json()["detail"]
    assert client.post("/api/v1/webhooks", json=HOOK, headers=BANK_B).status_code == 201
    first = client.get("/api/v1/webhooks", headers=BANK_A).json()["items"][0]
    client.delete(f"/api/v1/webhooks/{first['subscription_id']}", headers=BANK_A)
    assert client.post("/api/v1/webhooks", json=HOOK, headers=BANK_A).status_code == 201
