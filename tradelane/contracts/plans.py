"""Staged repayment plans on the wire: what the pledge engine announces on ``finance.events``
when it enforces a facility's ``repayment_plan`` (docs/finance.md, "Staged repayment plans").

A pledged shipment's principal falls due in instalments from its delivery or sale
(:class:`RepaymentPlanSet`); each instalment is announced once when it is paid in full
(:class:`InstalmentPaid`) and once when it is still open past its due date and grace
(:class:`InstalmentOverdue`); the amounts in default accrue penalty interest day by day
(:class:`DefaultInterestAccrued`, posted as a ``default_interest`` ledger entry). The
borrower's delay requests and the bank's answers are in :mod:`tradelane.contracts.seller`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field

from tradelane.contracts.base import Contract, UtcDatetime
from tradelane.contracts.money import Fraction, Money
from tradelane.contracts.registries import DayCount, PlanStart
from tradelane.contracts.seller import FacilityKey, InstalmentId
from tradelane.contracts.shipments import ShipmentId

Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class PlannedInstalment(Contract):
    """One instalment as planned: its id, position, due date and amount."""

    instalment_id: InstalmentId
    index: Annotated[int, Field(ge=0)]
    due: UtcDatetime
    amount: Money


class RepaymentPlanSet(Contract):
    """A pledged shipment's plan started: its principal then lent falls due in these
    instalments (they add up to ``principal`` exactly; the last takes the rounding)."""

    kind: Literal["repayment_plan_set"] = "repayment_plan_set"
    facility_id: FacilityKey
    shipment_id: ShipmentId
    start: UtcDatetime = Field(description="The delivery or sale the days count from")
    start_event: PlanStart
    principal: Money
    instalments: list[PlannedInstalment]
    grace_days: Annotated[int, Field(ge=0)]
    default_rate: Fraction
    at: UtcDatetime


class InstalmentPaid(Contract):
    """An instalment was paid in full (by the principal repayments allocated to it)."""

    kind: Literal["instalment_paid"] = "instalment_paid"
    facility_id: FacilityKey
    shipment_id: ShipmentId
    instalment_id: InstalmentId
    index: Annotated[int, Field(ge=0)]
    amount: Money
    due: UtcDatetime
    late: bool = Field(description="Paid after its due date")
    at: UtcDatetime


class InstalmentOverdue(Contract):
    """An instalment is still open past its due date and grace period: from ``default_from``
    its open amount accrues the plan's default rate on top of the facility's interest."""

    kind: Literal["instalment_overdue"] = "instalment_overdue"
    facility_id: FacilityKey
    shipment_id: ShipmentId
    instalment_id: InstalmentId
    index: Annotated[int, Field(ge=0)]
    due: UtcDatetime
    grace_days: Annotated[int, Field(ge=0)]
    open_amount: Money
    default_from: date
    at: UtcDatetime = Field(description="Due date + grace: when it became overdue")


class DefaultInterestAccrued(Contract):
    """One day's default (penalty) interest on the facility's instalments in default, posted
    as a ``default_interest`` ledger entry stamped at the end of ``day``."""

    kind: Literal["default_interest_accrued"] = "default_interest_accrued"
    facility_id: FacilityKey
    day: date
    in_default: Money = Field(description="Open amounts of the instalments in default")
    annual_rate: Fraction
    day_count: DayCount
    amount: Money
    interest_due_after: Money
    at: UtcDatetime
    ledger_seq: Annotated[int, Field(ge=0)]
    ledger_hash: Sha256Hex
