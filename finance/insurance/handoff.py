"""Hand a lender's payout to the pledge engine as a repayment command.

When a claim pays the lender of a pledged shipment, the money repays the facility: the pledge
engine receives a ``RepaymentReceived`` on ``finance.commands`` (key ``facility_id``) whose
``cause_id`` is the payout's ``ClaimPaid.cause_id``. The pledge engine applies a cause id at
most once per facility, and the command's own id is derived from it too, so a ``ClaimPaid``
delivered twice, or re-emitted after a crash, repays once.
"""

from __future__ import annotations

from tradelane.contracts import ClaimEvent, ClaimPaid, PayeeRole
from tradelane.contracts.finance import (
    FinanceCommand,
    RepaymentReceived,
    RepaymentSource,
    finance_command_type,
)
from tradelane.contracts.insurance import INSURANCE_EVENT_SOURCE
from tradelane.ids import derive_id


def repayment(event: ClaimEvent) -> FinanceCommand | None:
    """The repayment command a claim event implies: only a payout to a pledging lender."""
    paid = event.data
    if not isinstance(paid, ClaimPaid) or paid.payee_role is not PayeeRole.LENDER:
        return None
    if paid.facility_id is None:
        return None
    command = RepaymentReceived(
        facility_id=paid.facility_id,
        shipment_id=paid.shipment_id,
        amount=paid.amount,
        cause_id=paid.cause_id,
        source=RepaymentSource.INSURANCE,
        at=paid.at,
    )
    return FinanceCommand(
        id=derive_id("insurance.repayment", paid.facility_id, paid.cause_id),
        source=INSURANCE_EVENT_SOURCE,
        type=finance_command_type(command.kind),
        subject=paid.facility_id,
        time=paid.at,
        data=command,
    )
