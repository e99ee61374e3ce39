"""The insurance engine's state: a pydantic model, so it can live in a faust table as JSON.

Serialise with ``state.model_dump_json()`` and restore with
``InsuranceState.model_validate_json(raw)``; the round trip is exact (Decimals travel as
strings, timestamps as ISO 8601 UTC). The engine's discipline is every engine's
(:mod:`tradelane.discipline`): a step updates the :class:`InsuranceState` its caller owns - its
maps - in place; the records in them (a shipment's observations, a claim, a pledge) are frozen
values that a step replaces, never changes, so a copy of the state needs its own maps only.

The state may hold one shipment (a table keyed by ``shipment_id``) or many (tests, a single
replaying worker): nothing in the engine assumes either.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from tradelane.contracts import BreachRule, Evidence, GateFinding, Policy, TriggerKind

SHOCK_SIGHTINGS = 32
"""How many of a shipment's strongest shocks the engine keeps as evidence."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Observation(_Frozen):
    """The strongest sighting so far of one episode (a breach, a device's shock, a deviation).

    ``measure`` is in the event's own unit (seconds out of band, g, km; 1 for tamper and
    arrival). Only a strictly larger measure replaces an observation, so a duplicate or an
    out-of-order older event changes nothing: that is what makes replays idempotent.
    """

    measure: float
    at: datetime
    event_id: str
    evidence: Evidence | None = None
    started_at: datetime | None = None
    rule: BreachRule | None = None


class ShipmentObservations(_Frozen):
    """What the shipment events have proven about one shipment, independent of any policy,
    so a policy registered late is judged on everything seen before it."""

    shipment_id: str
    temperature: dict[str, Observation] = {}
    """Key ``{breach}/consecutive/{started_at}`` per episode, ``{breach}/cumulative`` per trip."""
    shocks: dict[str, Observation] = {}
    """Key device id: the device's largest shock."""
    shock_sightings: dict[str, Observation] = {}
    """Key ``{device}/{at}``: the strongest :data:`SHOCK_SIGHTINGS` shocks of any tracker, each
    with its reading, so a shock can be confirmed by another reading (added compatibly)."""
    tampers: dict[str, Observation] = {}
    """Key device id: the device's first tamper."""
    deviations: dict[str, Observation] = {}
    """Key ``started_at``: the episode's largest distance off the corridor."""
    arrival: Observation | None = None
    planned_arrival_booked: datetime | None = None
    planned_arrival_seen: datetime | None = None
    trackers: list[str] | None = None
    """The booking's trackers; None until the booking is seen."""
    devices_seen: list[str] = []
    """Every device named by an event, sorted: the quorum's fallback without a booking."""

    @property
    def planned_arrival(self) -> datetime | None:
        """The booked arrival wins over one quoted by ETA events."""
        return self.planned_arrival_booked or self.planned_arrival_seen


class ClaimStatus(StrEnum):
    NEEDS_REVIEW = "needs_review"
    APPROVED = "approved"
    """Approved and nothing (more) payable: the deductible or the policy cap absorbed it."""
    PAID = "paid"
    REJECTED = "rejected"
    """Terminal: an insurer's rejection is final for the claim's trigger."""


class Claim(_Frozen):
    """One claim per (policy, trigger). ``share`` only grows; ``paid`` only grows."""

    claim_id: str
    policy_id: str
    shipment_id: str
    trigger: str
    trigger_kind: TriggerKind
    tier: int
    share: Decimal
    measure: float
    threshold: float
    status: ClaimStatus
    approved_share: Decimal = Decimal(0)
    paid: Decimal = Decimal(0)
    currency: str
    raised_at: datetime
    updated_at: datetime
    evidence: list[Evidence] = []
    findings: list[GateFinding] = []
    decisions: list[str] = []
    """Command ids of the insurer decisions that acted on this claim (its audit trail)."""


class CommandResult(StrEnum):
    """Outcome of an insurer decision, in precedence order (the first that applies wins)."""

    OK = "ok"
    DUPLICATE = "duplicate"
    """This ``command_id`` already had a result: nothing to do, and nothing wrong."""
    UNKNOWN_CLAIM = "unknown_claim"
    MISMATCH = "mismatch"
    """The decision names another policy or shipment than the claim's."""
    NOT_INSURER = "not_insurer"
    NOT_IN_REVIEW = "not_in_review"
    STALE_SHARE = "stale_share"
    """The claim was upgraded since the insurer looked: decide again on the new share."""


class Pledge(_Frozen):
    """A shipment pledged to a facility: the lender who is loss payee by default."""

    facility_id: str
    bank_id: str


class InsuranceState(BaseModel):
    """Everything the engine knows. Start from ``InsuranceState()``. Mutable: the engine step
    updates its maps (:func:`finance.insurance.engine.apply_in_place`)."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    policies: dict[str, Policy] = {}
    shipments: dict[str, ShipmentObservations] = {}
    pledges: dict[str, Pledge] = {}
    """By shipment id."""
    claims: dict[str, Claim] = {}
    """By claim id."""
    decisions: dict[str, CommandResult] = {}
    """Every insurer decision's result by ``command_id``: each decision has one result,
    forever, whenever it is redelivered."""

    def observations(self, shipment_id: str) -> ShipmentObservations:
        found = self.shipments.get(shipment_id)
        return found if found is not None else ShipmentObservations(shipment_id=shipment_id)

    def policies_on(self, shipment_id: str) -> list[Policy]:
        """The shipment's policies in a fixed order, so outputs come in a fixed order."""
        return sorted(
            (p for p in self.policies.values() if p.shipment_id == shipment_id),
            key=lambda p: p.policy_id,
        )

    def paid_on_policy(self, policy_id: str) -> Decimal:
        return sum((c.paid for c in self.claims.values() if c.policy_id == policy_id), Decimal(0))
