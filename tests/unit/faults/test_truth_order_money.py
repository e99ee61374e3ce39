"""The reefer-failure fleet books the same claims and tranches in the simulator's publish order
(store-and-forward flushes after coverage gaps) as in event-time order."""

from __future__ import annotations

import pytest

from faults.truth.scoring import Row, score_orders
from tests.unit.faults import fleets

SCENARIO, TRACKERS = "reefer-failure", 6


@pytest.fixture(scope="module")
def rows() -> dict[str, Row]:
    fleet, cache = fleets.fleet(SCENARIO, TRACKERS), fleets.replay_cache(SCENARIO, TRACKERS)
    return {
        r.order: r
        for r in score_orders(SCENARIO, fleet, fleets.SEED, ["ideal", "published"], cache)
    }


def test_published_order_pays_the_claims_ideal_pays(rows: dict[str, Row]) -> None:
    ideal, published = rows["ideal"].claims, rows["published"].claims
    assert ideal.paid > 0
    assert published == ideal


def test_published_order_releases_and_rejects_the_tranches_ideal_does(rows: dict[str, Row]) -> None:
    assert rows["published"].tranches == rows["ideal"].tranches


def test_published_order_books_the_interest_ideal_books(rows: dict[str, Row]) -> None:
    assert rows["published"].interest_booked == rows["ideal"].interest_booked
