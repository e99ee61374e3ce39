"""What the pledge and insurance agents do with one message, without faust: parse it, bring the
state up to date, apply the engine, serialise the outputs and write the table.

:mod:`streams.pledge_stage` calls the pledge shell for every message and only sends what it returns;
``tradelane bench engines`` (:mod:`bench.engines`) calls them with a plain dict as the
table, so it measures exactly the agents' per-message code without Kafka.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Generic, Protocol, TypeVar

from finance import pledge_engine
from finance.event_json import event_json
from finance.facility_store import FacilityStore, merge, touched
from finance.insurance.engine import apply_in_place
from finance.insurance.handoff import repayment
from finance.insurance.state import InsuranceState
from tradelane.contracts import ClaimDecision, ClaimEvent, ShipmentEvent
from tradelane.contracts.finance import FinanceCommand, PledgeDecided

EVENT, COMMAND, DECISION, PLEDGE = b"E", b"C", b"D", b"P"
"""First byte of a routed message: a shipment event, a finance command, an insurer decision,
the collateral register's decision on a pledge (``PledgeDecided``)."""

S = TypeVar("S")


class Table(Protocol):
    """The key-value view of a state table the shells read and write (a dict in the bench,
    :class:`streams.store.RawView` in the worker)."""

    def get(self, key: bytes, /) -> bytes | None: ...

    def __getitem__(self, key: bytes, /) -> bytes: ...

    def __setitem__(self, key: bytes, value: bytes, /) -> None: ...


Send = tuple[str, bytes, bytes]
"""(destination, key, value): destinations ``events``, ``ledger``, ``claims``, ``commands``."""


class StateCache(Generic[S]):
    """The states this process last wrote, parsed: an engine state is parsed from its table
    only when another worker (or a restart) wrote it last. Parsing a 60 kB insurance state
    for every shipment event was half of each event's cost. The shell owns the cached
    states and the engine updates them in place (:mod:`tradelane.discipline`): one whose step
    raised is forgotten, to be parsed again from the table."""

    def __init__(self) -> None:
        self._states: dict[bytes, tuple[bytes, S]] = {}

    def get(self, key: bytes, raw: bytes | None, parse: Callable[[bytes], S]) -> S | None:
        if raw is None:
            return None
        cached = self._states.get(key)
        if cached is not None and cached[0] == raw:  # bytes compare by identity first
            return cached[1]
        return parse(raw)

    def put(self, key: bytes, raw: bytes, state: S) -> bytes:
        self._states[key] = (raw, state)
        return raw

    def forget(self, key: bytes) -> None:
        self._states.pop(key, None)


def _finance_sends(outputs: pledge_engine.Outputs, key: bytes) -> list[Send]:
    sends = [("events", key, event_json(e)) for e in outputs.events]
    sends += [("ledger", key, e.model_dump_json().encode()) for e in outputs.entries]
    return sends


class PledgeShell:
    """The pledge agent's per-message work (table keyed by facility id, in the segmented
    layout of :mod:`finance.facility_store`).

    The shell owns the facility states it holds, so it applies inputs to them in place
    (:func:`finance.pledge_engine.apply_in_place`, equal to the copying ``apply``) and writes
    back only the segments a step changed."""

    def __init__(self) -> None:
        self.store = FacilityStore()

    def warm(self, table: Table, key: bytes) -> None:
        """Parse ``key``'s state now and write it in the segmented layout, as a worker that
        has already handled it holds it."""
        state = self.store.load(table, key)
        if state is not None:
            self.store.save(table, key, state, None)

    def handle(
        self,
        table: Table,
        key: bytes,
        value: bytes,
        sync: Callable[[pledge_engine.EngineInput], list[Any]],
    ) -> list[Send]:
        """Apply the routed message ``value`` (and first what ``sync`` says the state must
        know before it) to the facility ``key``; write the table; return what to send."""
        item: pledge_engine.EngineInput
        if value[:1] == EVENT:
            item = ShipmentEvent.model_validate_json(value[1:])
        elif value[:1] == PLEDGE:
            item = PledgeDecided.model_validate_json(value[1:])
        else:
            item = FinanceCommand.model_validate_json(value[1:]).data
        state = self.store.load(table, key) or pledge_engine.new_state(key.decode())
        sends: list[Send] = []
        changed: set[str] | None = set()
        try:
            for step in [*sync(item), item]:
                outputs = pledge_engine.apply_in_place(state, step)
                sends += _finance_sends(outputs, key)
                changed = merge(changed, touched(step, len(outputs.entries), outputs.events))
        except BaseException:
            self.store.forget(key)  # the held state may be half updated: read it again
            raise
        self.store.save(table, key, state, changed)  # a step that changed nothing writes none
        return sends


class InsuranceShell:
    """The insurance agent's per-message work (table keyed by shipment id)."""

    def __init__(self) -> None:
        self.cache: StateCache[InsuranceState] = StateCache()

    def warm(self, table: Table, key: bytes) -> None:
        """Parse ``key``'s state now (as a worker that has already handled it holds it)."""
        raw = table.get(key)
        if raw is not None:
            self.cache.put(key, raw, InsuranceState.model_validate_json(raw))

    def handle(
        self, table: Table, key: bytes, value: bytes, sync: Callable[[], list[Any]]
    ) -> list[Send]:
        """Apply what ``sync`` says the state must know (registry records) and then the routed
        message ``value`` to the shipment ``key``'s state; write the table; return what to
        send."""
        raw = table.get(key)
        state = self.cache.get(key, raw, InsuranceState.model_validate_json) or InsuranceState()
        item: ShipmentEvent | ClaimDecision = (
            ShipmentEvent.model_validate_json(value[1:])
            if value[:1] == EVENT
            else ClaimDecision.model_validate_json(value[1:])
        )
        changed = False
        sends: list[Send] = []
        try:
            for step in [*sync(), item]:
                outputs = apply_in_place(state, step)
                changed = changed or outputs.changed
                sends += _claim_sends(outputs.claims)
        except BaseException:
            self.cache.forget(key)  # the held state may be half updated: read it again
            raise
        if not changed and raw is not None:
            return sends  # nothing changed: the table already holds this state
        fresh = self.cache.put(key, state.model_dump_json().encode(), state)
        if fresh != raw:
            table[key] = fresh
        return sends


def _claim_sends(claims: Iterable[ClaimEvent]) -> list[Send]:
    """Each claim event to ``claims``, and a lender's payout also as a repayment command."""
    sends: list[Send] = []
    for claim in claims:
        sends.append(("claims", claim.subject.encode(), claim.model_dump_json().encode()))
        command = repayment(claim)
        if command is not None:
            sends.append(("commands", command.subject.encode(), command.model_dump_json().encode()))
    return sends
