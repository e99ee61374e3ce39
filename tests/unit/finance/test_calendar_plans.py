"""Staged repayment plans in the funding calendar, through the engine and the API's read model.

b.plan(): 30 and 60 days after delivery, half each. shp-1 draws 66,000.00 at departure (hour
1, 2 March); planned arrival 22 March, so delivery is expected 24 March (arrival + 2 days).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from tests.unit.finance import builders as b
from tests.unit.finance.test_calendar import projected
from tradelane.contracts import Milestone

DEP, DEL = Milestone.DEPARTED_ORIGIN, Milestone.DELIVERED


def _repayments(found: object) -> list[tuple[date, str, Decimal, str | None]]:
    return [
        (
            line.day,
            line.status,
            line.amount.amount if line.amount else Decimal(-1),
            line.instalment_id,
        )
        for line in found.lines  # type: ignore[attr-defined]
        if line.kind == "repayment" and line.shipment_id == b.SHP
    ]


def test_a_planned_shipment_shows_the_instalments_it_will_owe_not_one_repayment() -> None:
    items = [*b.setup(repayment_plan=b.plan()), b.milestone(DEP, 1)]
    start = datetime(2026, 3, 20, tzinfo=UTC)
    found = projected(items, start)
    # from 20 March, 28 days: the first instalment (30 days after 24 March) lies beyond the
    # window, so nothing is owed in it, and no repayment at delivery is shown
    assert _repayments(found) == []
    later = projected(items, datetime(2026, 4, 10, tzinfo=UTC))
    lines = _repayments(later)
    assert [(d, s) for d, s, _, _ in lines] == [(date(2026, 4, 23), "expected")]
    # the warehouse tranche tops the line up to 80 % of 220,000 = 176,000: half of it
    assert lines[0][2] == Decimal("88000.00")
    assert lines[0][3] is not None


def test_a_started_plan_shows_its_open_instalments_and_the_overdue_one() -> None:
    items = [
        *b.setup(repayment_plan=b.plan()),
        b.milestone(DEP, 1),
        b.milestone(DEL, 240),  # delivered 12 March: 11 April and 11 May
    ]
    found = projected(items, datetime(2026, 4, 20, tzinfo=UTC))
    assert [(d, s, a) for d, s, a, _ in _repayments(found)] == [
        (date(2026, 4, 11), "overdue", Decimal("33000.00")),
        (date(2026, 5, 11), "expected", Decimal("33000.00")),
    ]
    # 34,000 pays the interest first, then the first instalment in full
    paid = [*items, b.repayment("34000", 24 * 31, cause_id="pay-first", shipment_id=b.SHP)]
    after = projected(paid, datetime(2026, 4, 20, tzinfo=UTC))
    assert [(d, s) for d, s, _, _ in _repayments(after)] == [(date(2026, 5, 11), "expected")]
