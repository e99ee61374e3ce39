"""Shipment shares on the real services: an operator makes a link on one ``tradelane api``
process, its holder reads it without a key (no finance in it, never cached), a second process
started afterwards knows the link from ``api.shares`` alone (as after a restart), a revocation
made there reaches the first, and a bank cannot share a shipment it cannot see."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from devtools.services.kafka import Kafka
from devtools.services.kafka_access import provision
from tests.integration.api_helpers import (
    RunningApi,
    publish_facilities,
    running_api,
    wait_until,
)
from tests.samples import booking
from tests.unit.api.test_shares_core import FINANCE_WORDS, _keys
from tradelane.settings import KafkaSettings, ServicesSettings
from tradelane.topics import SHIPMENTS_REGISTRY
from transport import kafka as clients

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def granted(kafka_settings: KafkaSettings) -> KafkaSettings:
    """The broker's ACLs made equal to tradelane/principals.py again (idempotent, as `services
    up` does on start): a broker started before ``api.shares`` existed lacks its grant to the
    API principal."""
    broker = Kafka(ServicesSettings(), kafka_settings)
    provision(broker.kafka, broker.libs, broker.cache, broker.process.log_file)
    return kafka_settings


@pytest.fixture(scope="module")
def shared_run(
    granted: KafkaSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningApi, str, str]]:
    """One API process, a booked shipment pledged to its bank A, and the run's suffix."""
    unique = uuid.uuid4().hex[:10]
    shipment = f"shr{unique}-shp1"
    with running_api(tmp_path_factory.mktemp("api-shares"), unique) as api:
        asyncio.run(_publish(granted, api, unique, shipment))
        yield api, unique, shipment


async def _publish(kafka: KafkaSettings, api: RunningApi, unique: str, shipment: str) -> None:
    producer = clients.producer(kafka, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            SHIPMENTS_REGISTRY.name,
            booking(shipment, [f"shr{unique}-trk1"]).model_dump_json().encode(),
            key=shipment.encode(),
        )
    finally:
        await producer.stop()
    await publish_facilities(kafka, api, unique, [shipment], [f"shr{unique}-other"])


def _call(api: RunningApi, method: str, path: str, key: str | None, **kw: object) -> httpx.Response:
    headers = {"X-API-Key": key} if key else {}
    return httpx.request(method, f"{api.url}{path}", headers=headers, timeout=30, **kw)  # type: ignore[arg-type]


def _private(response: httpx.Response) -> None:
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_share_read_without_key_on_another_process_then_revoke(
    shared_run: tuple[RunningApi, str, str], tmp_path: Path
) -> None:
    api, unique, shipment = shared_run
    keys = api.keys
    wait_until(
        lambda: _call(api, "GET", f"/api/v1/shipments/{shipment}", keys["bank_a"]).is_success,
        60,
        "the shipment pledged to bank A in the read model",
    )

    # a bank cannot share (or list shares of) a shipment it cannot see
    path = f"/api/v1/shipments/{shipment}/shares"
    assert _call(api, "POST", path, keys["bank_b"], json={}).status_code == 404
    assert _call(api, "GET", path, keys["bank_b"]).status_code == 404

    made = _call(api, "POST", path, keys["operator"], json={"label": "consignee"})
    assert made.status_code == 201, made.text
    share = made.json()
    read = _call(api, "GET", share["path"], None)
    assert read.status_code == 200, read.text
    _private(read)
    assert read.json()["shipment_id"] == shipment
    assert not {k for k in _keys(read.json()) if FINANCE_WORDS.search(k)}
    for hidden in (f"fa-{unique}", api.parties["bank_a"], "50000000", "250000"):
        assert hidden not in read.text, hidden

    # a process started after the share was made learns it from api.shares alone
    with running_api(tmp_path, unique) as other:

        def known_there() -> httpx.Response | None:
            answer = _call(other, "GET", share["path"], None)
            return answer if answer.status_code != 503 else None  # 503: still catching up

        there = wait_until(known_there, 60, "the share on the second process")
        assert there.status_code == 200, there.text
        assert there.json()["shipment_id"] == shipment

        revoke = f"/api/v1/shares/{share['share_id']}"
        assert _call(other, "DELETE", revoke, other.keys["bank_b"]).status_code == 404
        assert _call(other, "DELETE", revoke, other.keys["operator"]).status_code == 204
        gone = _call(other, "GET", share["path"], None)
        assert gone.status_code == 404
        _private(gone)

    # the first process folds the revocation written by the second
    wait_until(
        lambda: _call(api, "GET", share["path"], None).status_code == 404,
        30,
        "the revocation on the first process",
    )
    listed = _call(api, "GET", path, keys["operator"]).json()["items"]
    assert [(s["share_id"], s["status"]) for s in listed] == [(share["share_id"], "revoked")]
