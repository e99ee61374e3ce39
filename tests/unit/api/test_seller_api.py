"""The seller's endpoints over a read model fed by the real pledge engine.

The engine (pure) plays a confirming facility's story; its events and ledger entries are
folded into the API's read model as the Kafka follower would; a decision the API sends is fed
back through the engine, so the loop click -> request -> engine -> events -> view is closed
without Kafka (the integration test runs it on the real services).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import KeyRing, Principal, Role
from api.hub import Hub
from api.projection import ReadModel, apply
from api.requests_out import RequestSink
from api.service import ApiState
from api.settings import ApiSettings
from finance.facility_state import FacilityState, new_state
from finance.pledge_engine import EngineInput
from finance.pledge_engine import apply as engine_apply
from tests.unit.finance import builders as b
from tradelane.contracts import Facility, ShipmentBooking, ShipmentEvent
from tradelane.contracts.registries import FxLockTerms
from tradelane.contracts.seller import ConfirmationTerms
from tradelane.topics import (
    FINANCE_EVENTS,
    FINANCE_FACILITIES,
    FINANCE_LEDGER,
    FINANCE_REQUESTS,
    SHIPMENTS_EVENTS,
    SHIPMENTS_REGISTRY,
)

KEYS = {
    "seller-key-001": Principal(name="seller", role=Role.BORROWER, party="shipper-1"),
    "other-seller-1": Principal(name="other", role=Role.BORROWER, party="shipper-2"),
    "bank-key-0001": Principal(name="bank", role=Role.BANK, party="bank-1"),
}
SELLER, OTHER, BANK = ({"X-API-Key": k} for k in KEYS)
DEP = b.Milestone.DEPARTED_ORIGIN.value
URL = f"/api/v1/facilities/{b.FAC}"


class Loop:
    """The engine and the read model, kept in step."""

    def __init__(self, terms: Facility) -> None:
        self.state: FacilityState = new_state(b.FAC)
        self.model = ReadModel()
        self.sink = RequestSink()
        self.feed(terms, b.booking(b.SHP), b.booking(b.SHP2), b.eur_usd())

    def feed(self, *items: EngineInput) -> None:
        for item in items:
            self._fold(item)
            self.state, out = engine_apply(self.state, item)
            for event in out.events:
                apply(self.model, FINANCE_EVENTS.name, event.model_dump_json().encode())
            for entry in out.entries:
                apply(self.model, FINANCE_LEDGER.name, entry.model_dump_json().encode())

    def _fold(self, item: Any) -> None:
        topic = {
            Facility: FINANCE_FACILITIES.name,
            ShipmentBooking: SHIPMENTS_REGISTRY.name,
        }.get(type(item))
        if isinstance(item, ShipmentEvent):
            topic = SHIPMENTS_EVENTS.name
        if topic is not None:
            apply(self.model, topic, item.model_dump_json().encode())

    def read_requests(self) -> None:
        """What the API's follower does with finance.requests: fold them (pending)."""
        for request in self.sink.sent:
            apply(self.model, FINANCE_REQUESTS.name, request.model_dump_json().encode())

    def deliver_requests(self) -> None:
        """What the worker does with finance.requests: apply each to the engine."""
        sent, self.sink.sent = self.sink.sent, []
        for request in sent:
            self.feed(request.data)


def _client(loop: Loop) -> TestClient:
    state = ApiState(
        settings=ApiSettings(),
        keys=KeyRing(KEYS),
        model=loop.model,
        hub=Hub(loop.model, 50),
        history=None,
        finance=None,
        requests=loop.sink,
    )
    return TestClient(create_app(state))


@pytest.fixture
def loop() -> Loop:
    return Loop(b.facility(confirmation=ConfirmationTerms(window_hours=48), reminder_days=3))


@pytest.fixture
def client(loop: Loop) -> Iterator[TestClient]:
    with _client(loop) as test_client:
        yield test_client


def _items(client: TestClient, headers: dict[str, str]) -> dict[tuple[str, str], Any]:
    found = client.get(f"{URL}/tranches", headers=headers)
    assert found.status_code == 200, found.text
    return {(t["shipment_id"], t["milestone"]): t for t in found.json()["items"]}


def test_a_reached_tranche_waits_and_one_click_draws_it(loop: Loop, client: TestClient) -> None:
    loop.feed(b.milestone(b.Milestone.DEPARTED_ORIGIN, 1))
    items = _items(client, SELLER)
    waiting = items[(b.SHP, DEP)]
    assert (waiting["state"], waiting["amount"], waiting["can_decide"]) == (
        "awaiting",
        "66000.00",
        True,
    )
    assert waiting["deadline"].startswith("2026-03-04T09:00")
    assert items[(b.SHP2, DEP)]["state"] == "upcoming"  # planned for today, not reached
    path = f"{URL}/tranches/{b.SHP}/{DEP}/decision"
    click = client.post(path, json={"choice": "confirm"}, headers=SELLER)
    again = client.post(path, json={"choice": "confirm"}, headers=SELLER)
    assert click.status_code == 202, click.text
    assert click.json()["request_id"] == again.json()["request_id"]  # the same click, twice
    loop.read_requests()  # the API's follower reads them back from finance.requests
    sent = _items(client, SELLER)[(b.SHP, DEP)]
    assert (sent["pending_request_id"], sent["pending_choice"]) == (
        click.json()["request_id"],
        "confirm",
    )
    loop.deliver_requests()
    assert loop.state.principal == 66000
    late = client.post(path, json={"choice": "confirm"}, headers=SELLER)  # after it was recorded
    assert late.json()["request_id"] == click.json()["request_id"]
    loop.deliver_requests()
    assert loop.state.principal == 66000
    done = _items(client, SELLER)[(b.SHP, DEP)]
    assert (done["state"], done["choice"], done["can_decide"]) == ("executed", "confirm", False)
    assert done["pending_request_id"] is None  # answered
    summary = client.get(URL, headers=SELLER).json()
    assert summary["outstanding"] == "66000.00"


def test_a_resized_decision_before_the_milestone_lends_what_was_asked(
    loop: Loop, client: TestClient
) -> None:
    body = {"choice": "change_amount", "amount": "5000"}
    assert (
        client.post(f"{URL}/tranches/{b.SHP}/{DEP}/decision", json=body, headers=SELLER).status_code
        == 202
    )
    loop.deliver_requests()
    assert _items(client, SELLER)[(b.SHP, DEP)]["state"] == "recorded"
    loop.feed(b.milestone(b.Milestone.DEPARTED_ORIGIN, 1))
    done = _items(client, SELLER)[(b.SHP, DEP)]
    assert (done["state"], done["amount"], done["chosen_amount"]) == ("executed", "5000", "5000")


def test_who_may_decide(loop: Loop, client: TestClient) -> None:
    loop.feed(b.milestone(b.Milestone.DEPARTED_ORIGIN, 1))
    path = f"{URL}/tranches/{b.SHP}/{DEP}/decision"
    assert client.post(path, json={"choice": "confirm"}, headers=BANK).status_code == 403
    assert client.post(path, json={"choice": "confirm"}, headers=OTHER).status_code == 404
    assert _items(client, BANK)[(b.SHP, DEP)]["state"] == "awaiting"  # the bank may look
    assert client.get(f"{URL}/tranches", headers=OTHER).status_code == 404
    bad = client.post(path, json={"choice": "confirm", "amount": "5"}, headers=SELLER)
    assert bad.status_code == 422
    unknown = client.post(
        f"{URL}/tranches/shp-9/{DEP}/decision", json={"choice": "confirm"}, headers=SELLER
    )
    assert unknown.status_code == 404
    assert loop.sink.sent == []


def test_a_facility_that_does_not_confirm_refuses_decisions() -> None:
    loop = Loop(b.facility())
    with _client(loop) as client:
        path = f"{URL}/tranches/{b.SHP}/{DEP}/decision"
        assert client.post(path, json={"choice": "confirm"}, headers=SELLER).status_code == 409


def test_reminders_are_listed_latest_per_line(loop: Loop, client: TestClient) -> None:
    loop.feed(b.milestone(b.Milestone.DEPARTED_ORIGIN, 1), b.tick(24 * 17 + 1))
    found = client.get(f"{URL}/reminders", headers=SELLER).json()
    upcoming = [
        (r["shipment_id"], r["milestone"], r["needs_confirmation"]) for r in found["upcoming"]
    ]
    assert (b.SHP, "entered_bonded_warehouse", True) in upcoming
    assert found["reminder_days"] == 3
    assert all(r["milestone"] != DEP or r["shipment_id"] != b.SHP for r in found["upcoming"])
    assert client.get(f"{URL}/reminders", headers=OTHER).status_code == 404


def test_a_late_seller_asks_to_move_an_instalment_and_the_bank_approves() -> None:
    loop = Loop(b.facility(repayment_plan=b.plan(), reminder_days=0))
    loop.feed(b.milestone(b.Milestone.DEPARTED_ORIGIN, 1), b.milestone(b.Milestone.DELIVERED, 240))
    with _client(loop) as client:
        plan = client.get(f"{URL}/instalments", headers=SELLER).json()
        first = plan["instalments"][0]
        assert (first["due"][:10], first["amount"], first["state"]) == (
            "2026-04-11",
            "33000.00",
            "open",
        )
        ask = f"{URL}/instalments/{b.SHP}/{first['instalment_id']}/delay"
        body = {"new_due": "2026-04-25T08:00:00Z", "reason": "stock held at customs"}
        assert client.post(ask, json=body, headers=BANK).status_code == 403
        asked = client.post(ask, json=body, headers=SELLER)
        assert asked.status_code == 202, asked.text
        loop.deliver_requests()
        delays = client.get(f"{URL}/instalments", headers=BANK).json()["delays"]
        assert [(d["request_id"], d["state"]) for d in delays] == [
            (asked.json()["request_id"], "requested")
        ]
        decide = f"{URL}/delays/{asked.json()['request_id']}/decision"
        assert client.post(decide, json={"approve": True}, headers=SELLER).status_code == 403
        assert client.post(decide, json={"approve": True}, headers=BANK).status_code == 202
        loop.deliver_requests()
        after = client.get(f"{URL}/instalments", headers=SELLER).json()
        assert after["delays"][0]["state"] == "approved"
        assert after["instalments"][0]["due"][:10] == "2026-04-25"
        assert client.post(decide, json={"approve": False}, headers=BANK).status_code == 409
        assert client.get(f"{URL}/instalments", headers=OTHER).status_code == 404


def test_the_credit_profile_shows_the_score_and_its_factors(loop: Loop, client: TestClient) -> None:
    loop.feed(b.milestone(b.Milestone.DEPARTED_ORIGIN, 1), b.milestone(b.Milestone.DELIVERED, 240))
    profile = client.get(f"{URL}/credit-profile", headers=SELLER).json()
    assert 0 <= profile["score"] <= 1000
    assert profile["factors"]
    assert all(f["explanation"] for f in profile["factors"])
    assert sum(f["points"] for f in profile["factors"]) == profile["score"]
    assert client.get(f"{URL}/credit-profile", headers=OTHER).status_code == 404


def test_a_seller_locks_an_fx_rate_for_a_repayment() -> None:
    lock = FxLockTerms(spread_bp=25, validity_minutes=30, max_notional=b.usd(1_000_000))
    terms = b.facility(fx_lock=lock, reminder_days=0)
    loop = Loop(terms)
    with _client(loop) as client:
        body = {"side": "repayment", "amount": "1000", "currency": "EUR"}
        assert client.post(f"{URL}/fx-quotes", json=body, headers=BANK).status_code == 403
        asked = client.post(f"{URL}/fx-quotes", json=body, headers=SELLER)
        assert asked.status_code == 202, asked.text
        loop.deliver_requests()
        (quote,) = client.get(f"{URL}/fx-quotes", headers=SELLER).json()["quotes"]
        assert (quote["state"], quote["base"], quote["quote"]) == ("issued", "EUR", "USD")
        assert Decimal(quote["all_in_rate"]) < Decimal(quote["mid_rate"]) == Decimal("1.10")
    with _client(Loop(b.facility())) as client:
        assert client.post(f"{URL}/fx-quotes", json=body, headers=SELLER).status_code == 409


def test_a_tranche_paid_out_in_euros_at_a_locked_quote() -> None:
    lock = FxLockTerms(spread_bp=25, validity_minutes=600, max_notional=b.usd(1_000_000))
    confirm = ConfirmationTerms(window_hours=48)
    loop = Loop(b.facility(fx_lock=lock, confirmation=confirm, reminder_days=0))
    loop.feed(b.milestone(b.Milestone.DEPARTED_ORIGIN, 1))
    with _client(loop) as client:
        body = {"side": "drawdown_payout", "amount": "100000", "currency": "EUR"}
        assert client.post(f"{URL}/fx-quotes", json=body, headers=SELLER).status_code == 202
        loop.deliver_requests()
        (quote,) = client.get(f"{URL}/fx-quotes", headers=SELLER).json()["quotes"]
        assert quote["state"] == "issued"
        path = f"{URL}/tranches/{b.SHP}/{DEP}/decision"
        declined = {"choice": "decline", "fx_quote_id": quote["quote_id"]}
        assert client.post(path, json=declined, headers=SELLER).status_code == 422
        click = {"choice": "confirm", "fx_quote_id": quote["quote_id"]}
        assert client.post(path, json=click, headers=SELLER).status_code == 202
        loop.read_requests()
        loop.deliver_requests()
        done = _items(client, SELLER)[(b.SHP, DEP)]
        assert (done["state"], done["fx_quote_id"]) == ("executed", quote["quote_id"])
        (used,) = client.get(f"{URL}/fx-quotes", headers=SELLER).json()["quotes"]
        assert used["state"] == "used"
    executed = [
        e["data"]
        for e in loop.model.facilities[b.FAC].events
        if e["data"]["kind"] == "drawdown_executed"
    ]
    assert [d["payout"]["currency"] for d in executed] == ["EUR"]
    assert executed[0]["payout_quote_id"] == quote["quote_id"]
