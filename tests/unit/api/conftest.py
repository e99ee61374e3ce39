"""An API app over a read model folded from :func:`records.fleet`, with keys for every role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import KeyRing, Principal, Role
from api.hub import Hub
from api.projection import ReadModel, apply
from api.service import ApiState
from api.settings import ApiSettings
from tests.unit.api import records

KEYS = {
    "operator-key-1": Principal(name="ops", role=Role.OPERATOR),
    "bank-a-key-123": Principal(name="bank a", role=Role.BANK, party="bank-a"),
    "bank-b-key-123": Principal(name="bank b", role=Role.BANK, party="bank-b"),
    "insurer-key-12": Principal(name="insurer", role=Role.INSURER, party="ins-a"),
    "seller-a-key-1": Principal(name="seller a", role=Role.BORROWER, party="seller-a"),
    "seller-b-key-1": Principal(name="seller b", role=Role.BORROWER, party="seller-b"),
}
OPS, BANK_A, BANK_B, INSURER, SELLER_A, SELLER_B = ({"X-API-Key": k} for k in KEYS)


@pytest.fixture
def state() -> ApiState:
    model = ReadModel()
    for topic, value in records.fleet():
        apply(model, topic, value)
    return ApiState(
        settings=ApiSettings(),
        keys=KeyRing(KEYS),
        model=model,
        hub=Hub(model, 50),
        history=None,
        finance=None,
        loopback=True,
    )


@pytest.fixture
def client(state: ApiState) -> Iterator[TestClient]:
    with TestClient(create_app(state)) as test_client:
        yield test_client
