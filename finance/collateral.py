"""The borrowing base: what each pledged shipment is worth to the lender right now.

For one shipment (all in the facility currency)::

    value     = secured cargo value x current FX rate             (half-even to minor unit)
    eligible  = min(value x advance_rate(status) x (1 - haircut),
                    concentration_limit x facility limit)          (rounded down)

and the base is the sum of the eligible amounts. The secured cargo value is the cargo value, at
most the amount the facility's terms pledge and the amount the collateral register granted
(:mod:`finance.collateral_register`: one cargo secures its value once across facilities).
The concentration cap is a share of the *limit*, not of the base, so one shipment's
eligibility never changes because another shipment was damaged or delivered. A shipment is
eligible only while it is pledged, has a known cargo value and a collateral status (it has
departed); an FX rate that is missing counts as zero, the conservative reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from finance.facility_state import FacilityState, ShipmentCollateral, pledged_set
from finance.money import convert, convert_at, find_rate, round_down
from tradelane.contracts import CollateralStatus, Facility, Milestone, Money
from tradelane.contracts.finance import AppliedFx, CollateralLine
from tradelane.contracts.registries import ImpairmentKind

MILESTONE_ORDER: tuple[Milestone, ...] = tuple(Milestone)
"""Milestones in lifecycle order (the enum's declaration order)."""

STATUS_AFTER: dict[Milestone, CollateralStatus] = {
    Milestone.DEPARTED_ORIGIN: CollateralStatus.IN_TRANSIT,
    Milestone.ARRIVED_TRANSSHIPMENT: CollateralStatus.IN_TRANSIT,
    Milestone.DEPARTED_TRANSSHIPMENT: CollateralStatus.IN_TRANSIT,
    Milestone.ARRIVED_DESTINATION: CollateralStatus.IN_TRANSIT,
    Milestone.ENTERED_BONDED_WAREHOUSE: CollateralStatus.IN_WAREHOUSE,
    Milestone.CUSTOMS_CLEARED: CollateralStatus.IN_WAREHOUSE,
    Milestone.DELIVERED: CollateralStatus.DELIVERED,
}
"""The collateral status a shipment has once it reached a milestone (and none later)."""


def latest_milestone(shipment: ShipmentCollateral) -> Milestone | None:
    """The furthest milestone reached; arrival order does not matter, so a late duplicate of
    an earlier milestone never moves a shipment back."""
    reached = [m for m in MILESTONE_ORDER if m in shipment.reached]
    return reached[-1] if reached else None


def status_of(shipment: ShipmentCollateral) -> CollateralStatus | None:
    if shipment.sold:
        return CollateralStatus.DELIVERED
    latest = latest_milestone(shipment)
    return None if latest is None else STATUS_AFTER[latest]


def secured_value(terms: Facility, shipment: ShipmentCollateral) -> Money | None:
    """What of the cargo value the facility's pledge secures (in the cargo's currency): the
    cargo value, at most the amount the terms pledge (``Facility.pledge_amounts``) and at most
    what the collateral register granted (``PledgeDecided``). An amount in another currency
    than the cargo's secures nothing. ``None`` without a cargo value."""
    cargo = shipment.cargo_value
    if cargo is None:
        return None
    amount = cargo.amount
    for cap in (terms.pledge_amounts.get(shipment.shipment_id), shipment.pledge_granted):
        if cap is not None:
            amount = min(amount, cap.amount) if cap.currency == cargo.currency else Decimal(0)
    if amount == cargo.amount:
        return cargo
    return Money(amount=max(amount, Decimal(0)), currency=cargo.currency)


def haircut_of(shipment: ShipmentCollateral, terms: Facility) -> Decimal:
    """The largest haircut whose rule the shipment's worst severities meet (0 if none).

    Severities are remembered, not haircuts, so a schedule change re-prices every shipment.
    """
    severity = dict(shipment.severity)
    if shipment.tampered:
        severity[ImpairmentKind.TAMPER] = Decimal(0)
    cuts = [
        rule.haircut
        for rule in terms.haircut_schedule
        if rule.impairment in severity and severity[rule.impairment] >= rule.min_severity
    ]
    return max(cuts, default=Decimal(0))


@dataclass(frozen=True, slots=True)
class Valuation:
    """One shipment's value in the facility currency and what of it is lendable."""

    value: Decimal
    fx: AppliedFx
    advance_rate: Decimal
    haircut: Decimal
    eligible: Decimal


def valuation(
    state: FacilityState,
    shipment: ShipmentCollateral,
    status: CollateralStatus | None = None,
    rates: dict[str, AppliedFx | None] | None = None,
) -> Valuation | None:
    """Value ``shipment`` (at ``status``, default its current one); ``None`` without value/FX.

    ``rates``: a memo of the rate from each cargo currency, for valuing many shipments
    against the same FX rates."""
    terms = state.terms
    if terms is None or shipment.cargo_value is None:
        return None
    currency = terms.limit.currency
    cargo = secured_value(terms, shipment)
    assert cargo is not None
    if rates is None:
        converted = convert(cargo.amount, cargo.currency, currency, state.fx)
    else:
        if cargo.currency not in rates:
            rates[cargo.currency] = find_rate(state.fx, cargo.currency, currency)
        rate = rates[cargo.currency]
        converted = None if rate is None else (convert_at(cargo.amount, rate, currency), rate)
    if converted is None:
        return None
    value, fx = converted
    status = status if status is not None else status_of(shipment)
    advance = state.advance_rates.get(status, Decimal(0)) if status is not None else Decimal(0)
    cut = haircut_of(shipment, terms)
    lendable = value * advance * (1 - cut)
    cap = terms.concentration_limit * terms.limit.amount
    eligible = round_down(min(lendable, cap), currency)
    return Valuation(value=value, fx=fx, advance_rate=advance, haircut=cut, eligible=eligible)


@dataclass(frozen=True, slots=True)
class BaseSnapshot:
    """The borrowing base at one moment, with its per-shipment lines."""

    base: Decimal
    lines: tuple[CollateralLine, ...]

    def available(self, terms: Facility) -> Decimal:
        """What may be outstanding at most: the base, never more than the limit."""
        return min(self.base, terms.limit.amount)


def borrowing_base(state: FacilityState) -> BaseSnapshot:
    """Sum the eligible value of every pledged shipment (in pledge order, ids sorted)."""
    return valued(state).snapshot()


@dataclass(slots=True)
class Collateral:
    """A facility's collateral valued line by line: each pledged shipment's line and eligible
    amount, in base order (pledged ids sorted). The worker keeps the last one with the
    facility's state (:func:`revalued`), so that a shipment event re-values one shipment
    instead of all of them: that made a departure cost 40 ms on a line of 1,000 shipments."""

    lines: dict[str, CollateralLine]
    eligible: dict[str, Decimal]

    def snapshot(self) -> BaseSnapshot:
        return BaseSnapshot(sum(self.eligible.values(), Decimal(0)), tuple(self.lines.values()))


def valued(state: FacilityState) -> Collateral:
    """Every pledged shipment's line, valued now."""
    collateral = Collateral({}, {})
    terms = state.terms
    if terms is None:
        return collateral
    rates: dict[str, AppliedFx | None] = {}
    for shipment_id in sorted(pledged_set(terms)):
        shipment = state.shipments.get(shipment_id)
        if shipment is not None:
            _value_line(state, terms, shipment, rates, collateral)
    return collateral


def revalued(state: FacilityState, collateral: Collateral, shipment_id: str) -> bool:
    """Re-value ``shipment_id``'s line in ``collateral`` (valued for this state's terms, FX
    rates and other shipments), adding it in its place if it is new; False when the shipment
    has a line there but should have none (then ``collateral`` no longer matches the state and
    must be valued again in full)."""
    terms = state.terms
    shipment = state.shipments.get(shipment_id)
    if terms is None or shipment is None or shipment_id not in pledged_set(terms):
        return shipment_id not in collateral.lines
    known = shipment_id in collateral.lines
    _value_line(state, terms, shipment, {}, collateral)
    if not known:  # a pledged shipment's first record (its booking): its line joins in order
        order = sorted(collateral.lines)
        collateral.lines = {s: collateral.lines[s] for s in order}
        collateral.eligible = {s: collateral.eligible[s] for s in order}
    return True


def _value_line(
    state: FacilityState,
    terms: Facility,
    shipment: ShipmentCollateral,
    rates: dict[str, AppliedFx | None],
    into: Collateral,
) -> None:
    currency = terms.limit.currency
    status = status_of(shipment)
    found = valuation(state, shipment, status, rates)
    eligible = Decimal(0) if found is None else found.eligible
    into.eligible[shipment.shipment_id] = eligible
    into.lines[shipment.shipment_id] = CollateralLine(
        shipment_id=shipment.shipment_id,
        status=status,
        value=None if found is None else Money(amount=found.value, currency=currency),
        advance_rate=Decimal(0) if found is None else found.advance_rate,
        haircut=haircut_of(shipment, terms) if found is None else found.haircut,
        eligible=Money(amount=eligible, currency=currency),
    )


def current_base(state: FacilityState, shipment_id: str) -> Decimal:
    """The borrowing base now, in the middle of a step that changed only ``shipment_id``: from
    the collateral the state keeps (its line valued again), else summed in full."""
    kept = state._collateral
    if isinstance(kept, Collateral) and revalued(state, kept, shipment_id):
        return sum(kept.eligible.values(), Decimal(0))
    return base_total(state)


def base_total(state: FacilityState) -> Decimal:
    """``borrowing_base(state).base`` without building the collateral lines."""
    terms = state.terms
    if terms is None:
        return Decimal(0)
    rates: dict[str, AppliedFx | None] = {}
    total = Decimal(0)
    for shipment_id in sorted(pledged_set(terms)):
        shipment = state.shipments.get(shipment_id)
        if shipment is None:
            continue
        found = valuation(state, shipment, None, rates)
        total += Decimal(0) if found is None else found.eligible
    return total
