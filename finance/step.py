"""One engine step: the working state and everything the step emits.

A :class:`Step` is created by the pledge engine's in-place step for one input, mutated by the
rule modules (its ``state`` becomes the next state), and its emissions turned into
:class:`Outputs`. It is the only place that
chains ledger entries (so ``seq`` and ``prev_hash`` always follow the state's head) and that
wraps event data into envelopes (so every id derives from the facility and the cause).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from finance.facility_state import FacilityState
from finance.ledger import Leg, build_entry
from tradelane.contracts import Money
from tradelane.contracts.finance import (
    FINANCE_EVENT_SOURCE,
    AppliedFx,
    FinanceEvent,
    FinanceEventData,
    LedgerEntry,
    LedgerEntryKind,
    Payout,
    ResultCode,
    finance_event_type,
)
from tradelane.ids import derive_id


@dataclass(frozen=True, slots=True)
class Outputs:
    """What one input produced: events for ``finance.events`` and entries for
    ``finance.ledger`` (both keyed by facility id, in this order), and the rule outcome of a
    command or an automatic drawdown (``None`` when the input asked for no decision)."""

    events: tuple[FinanceEvent, ...] = ()
    entries: tuple[LedgerEntry, ...] = ()
    result: ResultCode | None = None


@dataclass(slots=True)
class Step:
    state: FacilityState
    cause_key: str
    """Stable key of the input (event id, command id, FX pair and time...)."""
    now: datetime | None
    """The facility clock after this input; ``None`` until any event time was seen."""
    events: list[FinanceEvent] = field(default_factory=list)
    entries: list[LedgerEntry] = field(default_factory=list)
    result: ResultCode | None = None
    repaid: bool = False
    """A repayment was applied in this step (so a cure is 'by repayment')."""

    def money(self, amount: Decimal) -> Money:
        currency = self.state.currency
        assert currency is not None, "money before the facility terms are known"
        return Money(amount=amount, currency=currency)

    def emit(self, data: FinanceEventData, *key: str | int) -> None:
        """Wrap ``data`` in an envelope whose id derives from facility, kind and ``key``."""
        at = data.at
        self.events.append(
            FinanceEvent(
                id=derive_id("finance_event", self.state.facility_id, data.kind, *key),
                source=FINANCE_EVENT_SOURCE,
                type=finance_event_type(data.kind),
                subject=self.state.facility_id,
                time=at,
                data=data,
            )
        )

    def post(
        self,
        kind: LedgerEntryKind,
        cause_key: Sequence[str],
        cause_event_id: str,
        at: datetime,
        fx: AppliedFx,
        legs: Sequence[Leg],
        payout: Payout | None = None,
    ) -> LedgerEntry:
        """Append one balanced entry to the facility chain and advance the state's head."""
        currency = self.state.currency
        assert currency is not None, "postings before the facility terms are known"
        entry = build_entry(
            facility_id=self.state.facility_id,
            seq=self.state.ledger_seq,
            prev_hash=self.state.ledger_hash,
            kind=kind,
            cause_key=cause_key,
            cause_event_id=cause_event_id,
            at=at,
            currency=currency,
            fx=fx,
            legs=legs,
            payout=payout,
        )
        self.entries.append(entry)
        self.state.ledger_seq += 1
        self.state.ledger_hash = entry.hash
        return entry

    def outputs(self) -> Outputs:
        return Outputs(tuple(self.events), tuple(self.entries), self.result)
