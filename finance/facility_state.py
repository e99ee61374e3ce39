"""The pledge engine's state for one facility: everything it needs to decide, and nothing else.

State is a pydantic model so it serialises to JSON exactly (Decimals as strings, times in UTC):
:func:`dump_state` / :func:`load_state` round-trip it byte for byte. The worker's table holds
it in segments (:mod:`finance.facility_store`), one per shipment, so a step writes only what
it changed. The models are mutable because an engine step updates a state its caller owns
(:mod:`tradelane.discipline`): :func:`finance.pledge_engine.apply_in_place` updates the worker's
state itself; :func:`finance.pledge_engine.apply` runs the same rules on a deep copy and never
changes the state it was given.

What the state remembers, and why it stays bounded:

* per shipment, per milestone: reached time, in-spec flag, the auto-drawdown outcome and the
  amount drawn (at most 7 milestones) - this is what makes a drawdown happen at most once;
* per shipment: the worst severity seen per impairment kind (6 kinds), the latest tamper time,
  the open and closed condition keys (one per breach or deviation episode), each tracker's
  latest silence verdict;
* per facility, for value dating: the last 60 closed days (end-of-day principal, rate,
  interest) and the drawdowns and repayments booked since the window began
  (:mod:`finance.value_dating`);
* per facility: the borrower's credit history (a dozen counts) and the advance rates its score
  earns (:mod:`finance.credit`); per shipment, the keys of the facts already counted;
* per facility: the id and outcome of every command decided (repayments, sales, drawdown
  requests), so a payout or a sale delivered twice is applied once and a redelivered command
  never changes its first outcome - the same property TigerBeetle gets by persisting failed
  transfer ids. (Commands that arrive before the facility is known are not remembered: there
  was nothing to decide with.) A command that was rejected is retried under a new id.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from finance.credit_profile import CreditHistory
from finance.repayment_plan import Instalment
from tradelane.contracts import CollateralStatus, Facility, FxRate, Milestone, Money
from tradelane.contracts.base import UtcDatetime
from tradelane.contracts.finance import GENESIS_HASH, PledgeCode, RepaymentSource, ResultCode
from tradelane.contracts.registries import DayCount, ImpairmentKind
from tradelane.contracts.seller import Choice


class _State(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class PendingProceeds(_State):
    """Proceeds owed to the facility by a delivered or sold shipment, applied once an FX rate
    allows converting them (``amount is None``: the cargo value after haircut)."""

    cause_id: str
    source: RepaymentSource
    amount: Money | None = None
    at: UtcDatetime


class HeldChoice(_State):
    """The borrower's latest decision on one tranche (``tradelane.contracts.seller``)."""

    request_id: str
    choice: Choice
    amount: Decimal | None = None
    at: UtcDatetime
    fx_quote_id: str | None = None
    """The FX lock quote the borrower asked the tranche to be paid out at, if any."""


class DelayAsk(_State):
    """A borrower's request to move one instalment to ``new_due``, held for the bank."""

    instalment_id: str
    new_due: UtcDatetime
    at: UtcDatetime
    decided: bool = False


class AwaitingTranche(_State):
    """A tranche whose milestone was reached and which waits for the borrower's decision."""

    deadline: UtcDatetime
    cause_event_id: str
    at: UtcDatetime


class ShipmentCollateral(_State):
    """One shipment as collateral: value, progress, condition, and what was lent against it."""

    shipment_id: str
    cargo_value: Money | None = None
    planned: dict[Milestone, UtcDatetime] = {}
    eta: UtcDatetime | None = None
    eta_at: UtcDatetime | None = None
    """When the ETA held was estimated: an older estimate, redelivered, does not replace it."""
    reached: dict[Milestone, UtcDatetime] = {}
    in_spec: dict[Milestone, bool] = {}
    attempted: dict[Milestone, ResultCode] = {}
    drawn: dict[Milestone, Decimal] = {}
    principal: Decimal = Decimal(0)
    severity: dict[ImpairmentKind, Decimal] = {}
    open_conditions: list[str] = []
    closed_conditions: list[str] = []
    tracker_verdicts: dict[str, tuple[UtcDatetime, bool]] = Field(
        default={}, description="device -> (time of latest verdict, silent?)"
    )
    sold: bool = False
    pledge_code: PledgeCode | None = None
    """The collateral register's latest decision on this facility's pledge of the shipment
    (``None``: none received, the pledge counts as the terms say)."""
    pledge_granted: Money | None = None
    """The part of the cargo value the pledge secures, as the register decided (cargo
    currency); the shipment is valued at most at it."""
    pending_proceeds: PendingProceeds | None = None
    proceeds_applied: bool = False

    latest_tamper: UtcDatetime | None = None
    choices: dict[Milestone, HeldChoice] = {}
    """The borrower's decisions on this shipment's tranches (facilities that confirm)."""
    awaiting: dict[Milestone, AwaitingTranche] = {}
    """Tranches reached and waiting for a decision, with their deadlines."""
    reminded: dict[str, date] = {}
    """Expected line (``drawdown:departed_origin``) -> the date the borrower was last reminded
    it is expected on."""
    plan_start: UtcDatetime | None = None
    """When the shipment's staged repayment plan started (delivery or sale); ``None``: no plan
    governs it (:mod:`finance.instalments`)."""
    instalments: list[Instalment] = []
    """The plan's instalments; their open amounts add up to ``principal`` after every step."""
    overdue_announced: dict[str, UtcDatetime] = {}
    """Instalment id -> the due date it was announced overdue for (a delay may re-announce)."""
    delay_asks: dict[str, DelayAsk] = {}
    """The borrower's delay requests by request id, waiting for or given the bank's answer."""
    credited: list[str] = []
    """What the facility's credit history already counted of this shipment, one key a fact
    (``milestone:departed_origin``, ``delivered``, ``excursion:{episode}``, ``shock:{day}``,
    ``tamper``; :mod:`finance.credit`), so a redelivered event is never counted twice."""

    @property
    def tampered(self) -> bool:
        """Tampered with while pledged: a tamper at or after the first milestone (departure).
        Doors opened at the origin while the container is stuffed are not an impairment."""
        if self.latest_tamper is None or not self.reached:
            return False
        return self.latest_tamper >= min(self.reached.values())

    @property
    def silent_trackers(self) -> list[str]:
        return sorted(d for d, (_, silent) in self.tracker_verdicts.items() if silent)


class ClosedDay(_State):
    """A closed day as booked: its end-of-day principal, the rate it accrued at and the
    interest booked for it (after any correction). Kept for the value-dating window, so a
    back-dated repayment can re-price the days it should have reduced."""

    day: date
    principal: Decimal
    annual_rate: Decimal
    day_count: DayCount
    interest: Decimal
    default_interest: Decimal = Decimal(0)
    """Penalty interest booked for the day on instalments in default (not re-priced by a
    value-dated movement; kept so the replay knows what was due before it)."""


class BookedMovement(_State):
    """A principal movement booked in the value-dating window: a drawdown (``principal``:
    what each shipment was lent) or a repayment (its amount in the facility currency and its
    waterfall: ``interest``, ``principal`` per shipment, ``surplus``). ``at`` is its value
    date. A back-dated repayment replays the movements after its value date to re-split
    them as an event-time-ordered run would have."""

    at: UtcDatetime
    cause_id: str
    kind: Literal["drawdown", "repayment"]
    shipment_id: str | None = None
    amount: Decimal = Decimal(0)
    interest: Decimal = Decimal(0)
    principal: dict[str, Decimal] = {}
    surplus: Decimal = Decimal(0)


class HeldQuote(_State):
    """An FX lock quote the facility issued (:mod:`finance.fx_quotes`): 1 ``base`` =
    ``all_in_rate`` ``quote`` for money whose event time lies in [``at``, ``valid_until``],
    up to ``notional``; ``used_by`` is the cause that used it (a quote is used once)."""

    side: Literal["drawdown_payout", "repayment"]
    base: str
    quote: str
    all_in_rate: Decimal
    mid_as_of: UtcDatetime | None = None
    via: str | None = None
    notional: Money
    at: UtcDatetime
    valid_until: UtcDatetime
    used_by: str | None = None


class MarginCall(_State):
    margin_call_id: str
    issued_at: UtcDatetime
    due_at: UtcDatetime
    shortfall: Decimal
    expired: bool = False


class CreditState(_State):
    """The borrower's credit record as the engine folded it (:mod:`finance.credit`), and the
    advance rates it earns under the facility's ``score_bands``: a dozen counts, kept in the
    facility header."""

    history: CreditHistory = CreditHistory()
    band: str | None = Field(default=None, description="The band of the rates applied")
    rates: dict[CollateralStatus, Decimal] | None = Field(
        default=None,
        description="The advance rates collateral is valued at (None: the terms' advance_rates)",
    )
    announced: int | None = Field(
        default=None, description="The score last announced (CreditScoreChanged)"
    )


class FacilityState(_State):
    """One facility's engine state (the value of the finance worker's table)."""

    facility_id: str
    terms: Facility | None = None
    shipments: dict[str, ShipmentCollateral] = {}
    fx: dict[str, FxRate] = {}
    principal: Decimal = Decimal(0)
    interest_due: Decimal = Decimal(0)
    accrued_until: date | None = Field(
        default=None, description="First day whose interest is not yet accrued"
    )
    clock: UtcDatetime | None = Field(
        default=None, description="Latest event time seen (never moves back)"
    )
    base: Decimal = Decimal(0)
    margin_call: MarginCall | None = None
    handled: dict[str, ResultCode] = {}
    ledger_seq: int = 0
    ledger_hash: str = GENESIS_HASH
    window_from: UtcDatetime | None = Field(
        default=None,
        description="Earliest value date the facility can book at: closed_days and movements "
        "hold everything from it on (None: nothing yet)",
    )
    closed_days: list[ClosedDay] = Field(
        default=[], description="The last closed days, oldest first (value-dating window)"
    )
    movements: list[BookedMovement] = Field(
        default=[], description="Drawdowns and repayments since window_from, by value date"
    )
    next_deadline: UtcDatetime | None = Field(
        default=None, description="Earliest deadline of a tranche awaiting confirmation"
    )
    reminders_on: date | None = Field(
        default=None, description="The day (event time) the expected lines were last reviewed"
    )
    next_overdue: UtcDatetime | None = Field(
        default=None,
        description="Earliest due + grace of an open instalment not yet announced overdue",
    )
    credit: CreditState = CreditState()
    fx_quotes: dict[str, HeldQuote] = Field(
        default={},
        description="FX lock quotes by quote id, until QUOTE_MEMORY after they expired",
    )
    _collateral: Any = PrivateAttr(default=None)
    """The last :class:`finance.collateral.Collateral` valued for this state (never stored:
    a state read back values its collateral in full once)."""

    def __eq__(self, other: object) -> bool:
        """Equal fields; the kept collateral is a cache and does not count."""
        if not isinstance(other, FacilityState):
            return NotImplemented
        return type(self) is type(other) and self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]

    @property
    def currency(self) -> str | None:
        return None if self.terms is None else self.terms.limit.currency

    def shipment(self, shipment_id: str) -> ShipmentCollateral:
        """The shipment's collateral record, created empty on first mention. Records are kept
        in id order, the order a state read back from its segments has, so that a restart
        never changes the order anything iterates them in."""
        found = self.shipments.get(shipment_id)
        if found is None:
            found = ShipmentCollateral(shipment_id=shipment_id)
            grown = {**self.shipments, shipment_id: found}
            self.shipments = {k: grown[k] for k in sorted(grown)}
        return found

    @property
    def advance_rates(self) -> Mapping[CollateralStatus, Decimal]:
        """The advance rates collateral is valued at: the ones the borrower's score earns when
        the terms have ``score_bands``, else the terms' own."""
        assert self.terms is not None, "advance rates before the facility terms are known"
        rates = self.credit.rates
        return self.terms.advance_rates if rates is None else rates

    def pledged(self, shipment_id: str) -> bool:
        return self.terms is not None and shipment_id in pledged_set(self.terms)


_PLEDGED: dict[int, tuple[Facility, frozenset[str]]] = {}


def pledged_set(terms: Facility) -> frozenset[str]:
    """``terms.pledged_shipments`` as a set (a list of 1,000 ids is slow to search), kept per
    terms object: terms are replaced, never changed in place."""
    held = _PLEDGED.get(id(terms))
    if held is not None and held[0] is terms:
        return held[1]
    if len(_PLEDGED) >= 256:
        _PLEDGED.clear()
    found = frozenset(terms.pledged_shipments)
    _PLEDGED[id(terms)] = (terms, found)
    return found


def new_state(facility_id: str) -> FacilityState:
    """The state of a facility the engine has not seen anything of yet."""
    return FacilityState(facility_id=facility_id)


def dump_state(state: FacilityState) -> str:
    """JSON for a table or a file; :func:`load_state` reads it back to an equal state."""
    return state.model_dump_json()


def load_state(text: str | bytes) -> FacilityState:
    return FacilityState.model_validate_json(text)
