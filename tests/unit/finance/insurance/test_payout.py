"""Payout arithmetic and loss-payee resolution, one case a line."""

from __future__ import annotations

from decimal import Decimal

import pytest

from finance.insurance.payout import claim_value, payee, payment_due
from finance.insurance.state import Pledge
from tests.unit.finance.insurance.builders import policy
from tradelane.contracts import PayeeRole

D = Decimal

# (share, sum insured, deductible, currency, claim paid, policy paid) -> (payment, capped)
PAYMENTS = [
    ("0.1", "100000", "1000", "USD", "0", "0", "9000.00", False),
    ("0.5", "100000", "1000", "USD", "0", "0", "49000.00", False),
    ("1", "100000", "1000", "USD", "0", "0", "99000.00", False),
    ("0.01", "100000", "1000", "USD", "0", "0", "0.00", False),
    ("0.5", "100000", "1000", "USD", "9000", "9000", "40000.00", False),
    ("0.1", "100000", "1000", "USD", "9000", "9000", "0.00", False),
    ("1", "100000", "0", "USD", "9000", "95000", "5000.00", True),
    ("1", "100000", "0", "USD", "0", "100000", "0.00", True),
    ("0.333333", "100.01", "0", "USD", "0", "0", "33.33", False),
    ("0.333333", "1000000", "0", "JPY", "0", "0", "333333", False),
    ("0.333333", "100", "0", "KWD", "0", "0", "33.333", False),
    ("0.5", "100000.005", "0", "USD", "0", "99999.99", "0.01", True),
]


@pytest.mark.parametrize(
    ("share", "si", "deductible", "currency", "claim_paid", "policy_paid", "amount", "capped"),
    PAYMENTS,
)
def test_payment(
    share: str,
    si: str,
    deductible: str,
    currency: str,
    claim_paid: str,
    policy_paid: str,
    amount: str,
    capped: bool,
) -> None:
    p = policy(sum_insured=si, deductible=deductible, currency=currency)
    value = claim_value(p, D(share))
    due = payment_due(value, D(claim_paid), D(policy_paid), p)
    assert (due.amount, due.capped) == (D(amount), capped)
    assert due.amount.as_tuple().exponent == D(amount).as_tuple().exponent  # minor units


PLEDGE = Pledge(facility_id="fac-1", bank_id="bank-1")

# (policy's loss payee, pledge) -> (paid party, role, facility)
PAYEES = [
    (None, None, "shipper-1", PayeeRole.INSURED, None),
    (None, PLEDGE, "bank-1", PayeeRole.LENDER, "fac-1"),
    ("bank-1", PLEDGE, "bank-1", PayeeRole.LENDER, "fac-1"),
    ("bank-1", None, "bank-1", PayeeRole.NAMED, None),
    ("bank-9", PLEDGE, "bank-9", PayeeRole.NAMED, None),
    ("shipper-1", PLEDGE, "shipper-1", PayeeRole.INSURED, None),
]


@pytest.mark.parametrize(("loss_payee", "pledge", "party", "role", "facility"), PAYEES)
def test_payee(
    loss_payee: str | None,
    pledge: Pledge | None,
    party: str,
    role: PayeeRole,
    facility: str | None,
) -> None:
    got = payee(policy(loss_payee=loss_payee), pledge)
    assert (got.party, got.role, got.facility_id) == (party, role, facility)
