"""The read model fold: deterministic, order-tolerant, idempotent under redelivery."""

from __future__ import annotations

from decimal import Decimal

from api.feed_item import ItemType
from api.projection import ReadModel, apply
from tests.unit.api import records as r
from tradelane.contracts import Milestone
from tradelane.roles import Role
from tradelane.tenancy import shipment_tenants
from tradelane.topics import SHIPMENTS_EVENTS, TRACKER_READINGS


def fold(recs: list[r.Record], model: ReadModel | None = None) -> ReadModel:
    model = model or ReadModel()
    for topic, value in recs:
        apply(model, topic, value)
    return model


def test_booking_then_reading_places_the_shipment_and_emits_a_position() -> None:
    model = fold([r.booked("shp-a", "dev-a")])
    items = apply(model, *r.reading("dev-a", 1, 5, 30.5, 122.0))
    assert [i.type for i in items] == [ItemType.POSITION]
    assert (items[0].shipment_id, items[0].lat, items[0].lon) == ("shp-a", 30.5, 122.0)
    view = model.shipments["shp-a"]
    assert view.position is not None
    assert (view.position.lat, view.position.device_id) == (30.5, "dev-a")
    assert view.last_reading is not None
    assert view.last_reading["seq"] == 1


def test_a_late_reading_does_not_move_the_shipment_back() -> None:
    model = fold([r.booked("shp-a", "dev-a"), r.reading("dev-a", 2, 10, 30.0, 123.0)])
    assert apply(model, *r.reading("dev-a", 1, 5, 31.0, 121.0)) == []
    position = model.shipments["shp-a"].position
    assert position is not None
    assert position.lon == 123.0


def test_readings_of_unknown_devices_are_ignored() -> None:
    model = fold([r.reading("nobody", 1, 0, 1.0, 2.0)])
    assert model.shipments == {}


def test_events_set_status_flags_and_alerts() -> None:
    model = fold([r.booked("shp-a", "dev-a"), r.departed("shp-a")])
    items = apply(model, *r.breach("shp-a"))
    assert [(i.type, i.alert) for i in items] == [(ItemType.ALERT, "breach_started")]
    view = model.shipments["shp-a"]
    assert view.status == "in_transit"
    assert "departed_origin" in view.milestones
    assert view.flags == {"condition_breached"}
    assert view.alerts == {"breach_started": 1}
    assert [i.flags for i in items] == [("condition_breached",)]
    assert '"flags":["condition_breached"]' in items[0].json()


def test_tracker_resumed_clears_silent() -> None:
    model = fold([r.booked("shp-a", "dev-a"), r.silent("shp-a", "dev-a")])
    assert "tracker_silent" in model.shipments["shp-a"].flags
    items = apply(model, *r.resumed("shp-a", "dev-a"))
    assert "tracker_silent" not in model.shipments["shp-a"].flags
    assert [i.flags for i in items] == [()]  # the item tells clients the flag is gone


def test_milestones_are_state_changes_not_alerts() -> None:
    model = fold([r.booked("shp-a", "dev-a")])
    [item] = apply(model, *r.departed("shp-a"))
    assert item.type is ItemType.STATE
    assert item.status == "in_transit"


def test_an_event_before_its_booking_is_kept_and_the_booking_fills_in() -> None:
    model = fold([r.departed("shp-a"), r.booked("shp-a", "dev-a")])
    view = model.shipments["shp-a"]
    assert view.status == "in_transit"
    assert view.booking is not None
    assert model.device_shipment["dev-a"] == "shp-a"


def test_redelivered_events_are_folded_once() -> None:
    record = r.breach("shp-a")
    model = fold([r.booked("shp-a", "dev-a"), record])
    assert apply(model, *record) == []
    assert model.shipments["shp-a"].alerts == {"breach_started": 1}
    assert len(model.shipments["shp-a"].events) == 1


def test_unreadable_records_are_counted_not_fatal() -> None:
    model = ReadModel()
    assert apply(model, SHIPMENTS_EVENTS.name, b'{"not": "an event"}') == []
    assert apply(model, TRACKER_READINGS.name, b"garbage") == []
    assert model.unreadable == 2


def test_facility_figures_and_history() -> None:
    model = fold(r.fleet())
    view = model.facilities["fac-a"]
    assert (view.base, view.outstanding, view.headroom) == (
        Decimal(150000),
        Decimal(75000),
        Decimal(75000),
    )
    assert [(p["seq"], p["outstanding"]) for p in view.history()] == [(0, "75000")]
    assert [p["base"] for p in view.base_history] == ["150000"]
    assert view.position.head_hash == r.drawdown_entry("fac-a", "shp-a", "75000", 11).hash
    assert len(view.drawdowns) == 1
    assert _banks(model, "shp-a") == {"bank-a"}
    assert _banks(model, "shp-b") == {"bank-b"}


def _banks(model: ReadModel, shipment_id: str) -> set[str]:
    return {t.party for t in shipment_tenants(model, shipment_id) if t.role is Role.BANK}


def test_claims_move_through_their_states() -> None:
    model = fold([*r.fleet(), r.claim_paid("pol-shp-a", "shp-a")])
    claim = model.claims[r.claim_id("pol-shp-a")]
    assert claim.status == "paid"
    assert claim.claim_value == {"amount": "60000.00", "currency": "USD"}
    assert claim.paid_total == {"amount": "60000.00", "currency": "USD"}
    assert len(claim.events) == 2


def test_replaying_the_same_records_gives_the_same_model() -> None:
    first, second = fold(r.fleet()), fold(r.fleet())
    assert first.shipments["shp-a"] == second.shipments["shp-a"]
    assert first.facilities["fac-a"] == second.facilities["fac-a"]


def test_outstanding_is_the_ledger_not_what_events_repeat() -> None:
    """Events and entries reach the model in either order; only the entries move balances."""
    first = r.drawdown_entry("fac-a", "shp-a", "75000", 11)
    second = r.drawdown_entry(
        "fac-a", "shp-a", "25000", 12, seq=1, prev_hash=first.hash, milestone=Milestone.DELIVERED
    )
    model = fold([r.facility("fac-a", "bank-a", ["shp-a"]), r.ledger(first)])
    view = model.facilities["fac-a"]
    assert view.outstanding == 75000
    fold([r.base_changed("fac-a", "150000", "0", 13)], model)  # an event saying 0 moves nothing
    assert (view.outstanding, view.headroom) == (Decimal(75000), Decimal(75000))
    fold([r.ledger(first), r.ledger(second)], model)  # a redelivery, then the next entry
    assert view.outstanding == 100000
    assert [p["outstanding"] for p in view.history()] == ["75000", "100000"]
    forged = second.model_copy(update={"seq": 2})
    fold([r.ledger(forged)], model)  # does not continue the chain: ignored, reported
    assert view.outstanding == 100000
    assert not view.position.verified
