"""Money of a claim: its value, the payment now due under the policy's cap, and who is paid.

Rule: a claim is worth ``share x sum insured - deductible`` (never below zero; the deductible
applies per claim), rounded down to the currency's minor unit so rounding never pays more
than the policy promises. Payments on all claims of a policy together never exceed the sum
insured: a payment is the claim's value not yet paid, cut to the room left under the cap.

All arithmetic is Decimal in the policy's currency; a float never touches an amount.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from tradelane.contracts import PayeeRole, Policy

from .state import Pledge

_MINOR_UNITS = {
    # ISO 4217 exponents that differ from 2, for the currencies a policy is likely to use.
    **dict.fromkeys(["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG"], 0),
    **dict.fromkeys(["RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"], 0),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
}


def quantum(currency: str) -> Decimal:
    """The currency's minor unit as a Decimal exponent (0.01 for most)."""
    return Decimal(1).scaleb(-_MINOR_UNITS.get(currency, 2))


def round_down(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(quantum(currency), rounding=ROUND_DOWN)


def claim_value(policy: Policy, share: Decimal) -> Decimal:
    """``share x sum insured - deductible``, at least 0, in minor units rounded down."""
    currency = policy.sum_insured.currency
    gross = share * policy.sum_insured.amount - policy.deductible.amount
    return round_down(max(gross, Decimal(0)), currency)


@dataclass(frozen=True, slots=True)
class Payment:
    amount: Decimal
    capped: bool


def payment_due(
    value: Decimal, claim_paid: Decimal, policy_paid: Decimal, policy: Policy
) -> Payment:
    """What to pay now on a claim worth ``value`` of which ``claim_paid`` is paid, when the
    policy's claims have received ``policy_paid`` in total."""
    due = max(value - claim_paid, Decimal(0))
    room = round_down(
        max(policy.sum_insured.amount - policy_paid, Decimal(0)), policy.sum_insured.currency
    )
    amount = min(due, room)
    return Payment(amount=amount, capped=amount < due)


@dataclass(frozen=True, slots=True)
class Payee:
    party: str
    role: PayeeRole
    facility_id: str | None = None


def payee(policy: Policy, pledge: Pledge | None) -> Payee:
    """Who receives a payout on ``policy`` now.

    The policy's ``loss_payee`` when it names one; when it names none, the lender of the
    facility the shipment is pledged to, else the insured. A named payee that is the pledging
    bank is the lender too, so the payout reaches the facility as a repayment.
    """
    if pledge is not None and policy.loss_payee in (None, pledge.bank_id):
        return Payee(pledge.bank_id, PayeeRole.LENDER, pledge.facility_id)
    if policy.loss_payee is None or policy.loss_payee == policy.insured_id:
        return Payee(policy.insured_id, PayeeRole.INSURED)
    return Payee(policy.loss_payee, PayeeRole.NAMED)
