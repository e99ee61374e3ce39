"""Parametric cargo insurance: a pure engine that turns shipment events into claims.

The wiring keeps an :class:`InsuranceState` per shipment and calls :func:`apply_in_place`
(a state it owns) or :func:`apply` (the same step on a copy) for every input; it publishes the
returned envelopes to ``insurance.claims``.
See docs/insurance.md.
"""

from __future__ import annotations

from .claims import claim_id, command_result, payment_id
from .engine import Input, PolicyResult, apply, apply_in_place, policy_result
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
    "apply_in_place",
    "cited",
    "claim_id",
    "command_result",
    "payment_id",
    "policy_result",
    "repayment",
    "verify",
]
