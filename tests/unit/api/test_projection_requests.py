"""Requests other than tranche decisions on ``finance.requests`` (a borrower's delay request
for an instalment, the bank's answer) are read without error and show no pending tranche."""

from __future__ import annotations

from api.projection import ReadModel, apply
from api.requests_out import envelope
from tests.unit.finance import builders as b
from tradelane.contracts import Milestone
from tradelane.topics import FINANCE_REQUESTS


def test_delay_requests_on_finance_requests_show_no_pending_tranche() -> None:
    model = ReadModel()
    for data in (b.delay_request("inst-1", 24 * 40, 24 * 20), b.delay_decision(True, 24 * 21)):
        apply(model, FINANCE_REQUESTS.name, envelope(data).model_dump_json().encode())
    assert model.unreadable == 0
    assert model.facility(b.FAC).seller.tranches == {}
    apply(
        model,
        FINANCE_REQUESTS.name,
        envelope(b.decision(Milestone.DEPARTED_ORIGIN, 1)).model_dump_json().encode(),
    )
    assert list(model.facility(b.FAC).seller.tranches) == [(b.SHP, "departed_origin")]
