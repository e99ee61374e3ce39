"""A payout to the pledging lender becomes one repayment command, under the payout's cause id."""

from __future__ import annotations

from finance.insurance import InsuranceState, apply
from finance.insurance.handoff import repayment
from tests.unit.finance.insurance.builders import breach, facility, policy, shipment_booking
from tradelane.contracts import ClaimEvent, ClaimPaid
from tradelane.contracts.finance import FinanceCommand, RepaymentReceived


def _events(*pledged: str) -> list[ClaimEvent]:
    state = InsuranceState()
    out: list[ClaimEvent] = []
    for item in [shipment_booking(), policy(), facility(shipments=list(pledged)), breach(30)]:
        state, events = apply(state, item)
        out.extend(events)
    return out


def test_a_lenders_payout_is_one_repayment_under_the_payouts_cause_id() -> None:
    events = _events("shp-1")
    commands = [c for c in map(repayment, events) if c is not None]
    assert len(commands) == 1
    command = commands[0]
    paid = events[-1].data
    assert isinstance(paid, ClaimPaid)
    assert isinstance(command.data, RepaymentReceived)
    assert (command.subject, command.data.facility_id) == ("fac-1", "fac-1")
    assert command.data.cause_id == paid.cause_id
    assert command.data.amount == paid.amount
    assert command.data.source == "insurance"
    assert command.type == "tradelane.finance.command.repayment_received.v1"
    assert repayment(events[-1]) == command  # redelivered: the same command, the same id
    assert FinanceCommand.model_validate_json(command.model_dump_json()) == command


def test_a_payout_to_the_insured_repays_nothing() -> None:
    assert [repayment(e) for e in _events()] == [None, None, None]
