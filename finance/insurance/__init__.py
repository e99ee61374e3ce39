"""Parametric cargo insurance: a pure engine that turns shipment events into claims.

The wiring (a faust agent) keeps an :class:`InsuranceState` per shipment and calls
:func:`apply` for every input; it publishes the returned envelopes to ``insurance.claims``.
See docs/insurance.md.
"""

from __future__ import annotations

from .claims import claim_id, command_result, payment_id
from .engine import Input, PolicyResult, apply, policy_result
from .evidence import cited, verify
from .handoff import repayment
from .state import Claim, ClaimStatus, CommandResult, InsuranceState

__all__ = [
    "Claim",
    "ClaimStatus",
    "CommandResult",
    "Input",
    "InsuranceState",
    "PolicyResult",
    "apply",
    "cited",
    "claim_id",
    "command_result",
    "payment_id",
    "policy_result",
    "repayment",
    "verify",
]
