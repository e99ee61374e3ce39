"""Live-feed filters: shipments, statuses, alert kinds, item types, bounding boxes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.feed_filter import FeedFilter, in_bbox, parse_bbox
from api.feed_item import FeedItem, ItemType

T = datetime(2026, 11, 21, tzinfo=UTC)
POS = FeedItem(ItemType.POSITION, T, {}, shipment_id="a", status="in_transit", lat=10, lon=20)
ALERT = FeedItem(ItemType.ALERT, T, {}, shipment_id="b", status="booked", alert="tamper_detected")
MONEY = FeedItem(ItemType.FINANCE, T, {}, facility_id="fac")


def test_empty_filter_passes_everything() -> None:
    f = FeedFilter.parse()
    assert all(f.matches(i) for i in (POS, ALERT, MONEY))


def test_shipments_and_statuses() -> None:
    assert FeedFilter.parse(shipments=["a,c"]).matches(POS)
    assert not FeedFilter.parse(shipments=["c"]).matches(POS)
    assert FeedFilter.parse(statuses=["booked"]).matches(ALERT)
    assert not FeedFilter.parse(statuses=["booked"]).matches(POS)


def test_alert_kinds_only_narrow_alerts() -> None:
    f = FeedFilter.parse(alerts=["shock_detected"])
    assert not f.matches(ALERT)
    assert f.matches(POS)
    assert FeedFilter.parse(alerts=["tamper_detected"]).matches(ALERT)


def test_types() -> None:
    f = FeedFilter.parse(types=["alert", "finance"])
    assert [f.matches(i) for i in (POS, ALERT, MONEY)] == [False, True, True]
    with pytest.raises(ValueError, match="bogus"):
        FeedFilter.parse(types=["bogus"])


def test_bbox_keeps_items_inside_and_drops_unplaced_ones() -> None:
    assert FeedFilter.parse(bbox="0,0,30,30").matches(POS)
    assert not FeedFilter.parse(bbox="30,0,40,30").matches(POS)
    assert not FeedFilter.parse(bbox="0,0,30,30").matches(ALERT)


def test_bbox_across_the_antimeridian() -> None:
    box = parse_bbox("170,-10,-170,10")
    assert box is not None
    assert in_bbox(box, 0, 175)
    assert in_bbox(box, 0, -175)
    assert not in_bbox(box, 0, 0)


@pytest.mark.parametrize("text", ["1,2,3", "a,b,c,d", "0,50,10,40", "0,-91,10,0", "200,0,0,0"])
def test_malformed_bbox_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"bbox|could not convert"):
        parse_bbox(text)
