"""One pledge per collateral: the register of one shipment's cargo across every facility. Pure.

A facility's engine sees only its own state, so two facilities pledged the same cargo each
counted its whole value (one 250,000 USD cargo secured 300,000 USD across two banks). The
register is keyed by shipment, not facility: it sees every facility's pledge of one cargo and
decides, first come first served, what part of the cargo value each pledge secures::

    want(pledge)    = the pledged amount (Facility.pledge_amounts), or the whole cargo value
    granted(pledge) = min(want, cargo value - granted to the pledges before it)

in the order the register first saw the pledges (pledges first seen in the same step are
ordered by facility id: registry records carry no time). So a later pledge never reduces an
earlier one, and the granted values never add up to more than the cargo value, whatever the
order (property tests). Each pledge's outcome is a :class:`PledgeCode`: accepted, capped to
the cargo value left, or refused (``collateral_already_pledged``; also
``pledge_currency_mismatch`` for an amount not in the cargo's currency).

:func:`decide` takes the register, the shipment's pledges as the registries hold them now
and its cargo value, and returns the next register and the :class:`PledgeDecided` records to
send, each to its facility. A facility is told only what differs from what it assumes
without a word (its terms' pledge, accepted in full): a pledge capped or refused, and any
later change of what it secures (its cargo value changed, an earlier pledge was released).
When a pledge is capped or refused, every earlier pledge that secures part of the cargo is
told too (``concerns = later_pledge``, same ``decision_id`` and code, none of the other
facility's terms). Ids derive from the shipment, the facility, the pledge's place in the
register and how many decisions it had; time is the event time the caller passes (never a
clock). The same pledges and cargo value given twice change nothing and send nothing.

A pledge whose amount changes, or that is dropped and pledged again, is a new pledge: it
queues behind the pledges the register already holds (and a facility that was told a decision
on its old pledge is told the outcome of the new one even when accepted in full: its engine
still holds the old decision).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext
from typing import Literal

from pydantic import BaseModel, ConfigDict

from finance.money import CONTEXT
from tradelane.contracts import Money
from tradelane.contracts.finance import PledgeCode, PledgeDecided
from tradelane.ids import derive_id

__all__ = ["Claim", "Register", "decide", "grants", "new_register", "pledges_of"]

REFUSED = (PledgeCode.COLLATERAL_ALREADY_PLEDGED, PledgeCode.PLEDGE_CURRENCY_MISMATCH)
"""Outcomes that secure nothing."""

CONTESTED = (PledgeCode.PLEDGE_CAPPED_TO_CARGO_VALUE, PledgeCode.COLLATERAL_ALREADY_PLEDGED)
"""Outcomes caused by earlier pledges: the facilities holding those are told as well."""


class _State(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Claim(_State):
    """One facility's pledge of the cargo, in the register's order."""

    facility_id: str
    requested: Money | None = None
    """The pledged amount; ``None``: the whole cargo value."""
    seq: int
    """The pledge's place in the register (first come, first served)."""
    told: tuple[PledgeCode, Decimal] | None = None
    """The outcome and granted amount last sent to the facility; ``None``: nothing sent, so
    the facility assumes its pledge accepted in full."""
    decisions: int = 0
    """Decisions sent about this pledge so far (the next decision's id counts them)."""


class Register(_State):
    """A shipment's pledges across every facility (the worker's state, keyed by shipment)."""

    shipment_id: str
    claims: list[Claim] = []
    next_seq: int = 0
    stale: list[str] = []
    """Facilities told a decision on a pledge they have since dropped or changed: their
    engines still hold it, so their next pledge of the cargo is told its outcome even when
    accepted in full."""


def new_register(shipment_id: str) -> Register:
    return Register(shipment_id=shipment_id)


def pledges_of(facilities: Mapping[str, object], shipment_id: str) -> dict[str, Money | None]:
    """The pledges of ``shipment_id`` the facility records (``Facility``) hold now: facility id
    → pledged amount (``None``: the whole cargo)."""
    out: dict[str, Money | None] = {}
    for facility_id, terms in facilities.items():
        pledged = getattr(terms, "pledged_shipments", ())
        if shipment_id in pledged:
            out[facility_id] = getattr(terms, "pledge_amounts", {}).get(shipment_id)
    return out


def grants(cargo: Money, claims: list[Claim]) -> list[tuple[PledgeCode, Decimal]]:
    """Each claim's outcome and granted amount (in the cargo's currency), in order."""
    out: list[tuple[PledgeCode, Decimal]] = []
    with localcontext(CONTEXT):
        left = max(cargo.amount, Decimal(0))
        for claim in claims:
            requested = claim.requested
            if requested is not None and requested.currency != cargo.currency:
                out.append((PledgeCode.PLEDGE_CURRENCY_MISMATCH, Decimal(0)))
                continue
            want = max(cargo.amount if requested is None else requested.amount, Decimal(0))
            granted = min(want, left)
            if granted == want:
                code = PledgeCode.PLEDGE_ACCEPTED
            elif granted > 0:
                code = PledgeCode.PLEDGE_CAPPED_TO_CARGO_VALUE
            else:
                code = PledgeCode.COLLATERAL_ALREADY_PLEDGED
            left -= granted
            out.append((code, granted))
    return out


def decide(
    register: Register,
    pledges: Mapping[str, Money | None],
    cargo: Money | None,
    at: datetime,
) -> tuple[Register, list[PledgeDecided]]:
    """The register after seeing ``pledges`` (facility id → amount, ``None``: whole cargo) of
    a cargo worth ``cargo`` at event time ``at``, and the decisions to send (each to its
    ``facility_id``, in order). ``register`` is not modified. Without a cargo value nothing is
    decided yet (the pledges keep their places)."""
    kept = [
        c.model_copy()
        for c in register.claims
        if c.facility_id in pledges and pledges[c.facility_id] == c.requested
    ]
    known = {c.facility_id for c in kept}
    stale = set(register.stale) | {
        c.facility_id for c in register.claims if c.told is not None and c not in kept
    }
    seq = register.next_seq
    for facility_id in sorted(set(pledges) - known):
        kept.append(Claim(facility_id=facility_id, requested=pledges[facility_id], seq=seq))
        seq += 1
    decisions = [] if cargo is None else _tell(register.shipment_id, kept, stale, cargo, at)
    after = Register(
        shipment_id=register.shipment_id, claims=kept, next_seq=seq, stale=sorted(stale)
    )
    return (register if after == register else after), decisions


def _tell(
    shipment_id: str, kept: list[Claim], stale: set[str], cargo: Money, at: datetime
) -> list[PledgeDecided]:
    """The decisions ``kept``'s outcomes call for, in order (a facility is told what differs
    from what it assumes or was last told); records what each was told in its claim and
    takes a facility told again out of ``stale``."""
    outcomes = grants(cargo, kept)
    with localcontext(CONTEXT):
        total = sum((g for _, g in outcomes), Decimal(0))
    decisions: list[PledgeDecided] = []
    for index, (claim, (code, granted)) in enumerate(zip(kept, outcomes, strict=True)):
        told = claim.told
        if (code, granted) == told:
            continue
        if told is None and code is PledgeCode.PLEDGE_ACCEPTED and claim.facility_id not in stale:
            continue  # what the facility assumes without a word
        stale.discard(claim.facility_id)
        decision_id = derive_id(
            "pledge_decision", shipment_id, claim.facility_id, claim.seq, claim.decisions
        )
        claim.told, claim.decisions = (code, granted), claim.decisions + 1
        decision = _Decision(shipment_id, decision_id, code, cargo, total, at)
        decisions.append(decision.to(claim, granted, "own_pledge"))
        if code in CONTESTED:
            decisions += [
                decision.to(holder, held, "later_pledge")
                for holder, (_, held) in zip(kept[:index], outcomes[:index], strict=True)
                if held > 0
            ]
    return decisions


@dataclass(frozen=True, slots=True)
class _Decision:
    """One decision on a shipment's pledge, as told to the pledge's facility and to every
    earlier facility its outcome contests (same id and code, each with its own amounts)."""

    shipment_id: str
    decision_id: str
    code: PledgeCode
    cargo: Money
    total: Decimal
    """What every pledge of the cargo secures together."""
    at: datetime

    def to(
        self, claim: Claim, granted: Decimal, concerns: Literal["own_pledge", "later_pledge"]
    ) -> PledgeDecided:
        currency = self.cargo.currency
        with localcontext(CONTEXT):
            elsewhere = self.total - granted
        return PledgeDecided(
            facility_id=claim.facility_id,
            shipment_id=self.shipment_id,
            decision_id=self.decision_id,
            concerns=concerns,
            code=self.code,
            cargo_value=self.cargo,
            requested=claim.requested,
            granted=Money(amount=granted, currency=currency),
            pledged_elsewhere=Money(amount=elsewhere, currency=currency),
            at=self.at,
        )
