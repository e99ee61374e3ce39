"""A facility state in the worker's table as segments, so a step writes what it changed.

One JSON document per facility (:func:`finance.facility_state.dump_state`) made every shipment
event rewrite - and send to the changelog - every pledged shipment: 580 kB per event for a
line of 1,000 shipments. Here a facility ``F`` is stored under several keys of the same table
(all written while handling ``F``'s messages, so in ``F``'s changelog partition):

==========================  ==============================================================
``F``                       header: ``{"layout":"segments","rev":n,"core":{...}}``, the
                            facility's scalars (principal, clock, base, margin call, ledger
                            head...) and a revision counting the writes
``F\\x00terms``             the facility terms (``null`` until known)
``F\\x00fx``                the FX rates held
``F\\x00handled``           every command decided, with its outcome
``F\\x00index``             the ids of the shipments held, sorted
``F\\x00window``            the value-dating window: closed days and booked movements
``F\\x00s:{shipment_id}``   one shipment's collateral record
==========================  ==============================================================

A step writes only the segments whose bytes changed, the header last; a step that changed
nothing writes nothing. A header in the old layout (a whole :class:`FacilityState`, as written
before) still loads, and is replaced by segments at the next write.

Which shipments a step may have changed is told by the caller (:func:`touched`); the others
are not serialised at all. The store keeps what it last wrote per segment and the state
object it belongs to, so a state is parsed from the table only when someone else wrote it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, TypeAdapter

from finance.facility_state import (
    BookedMovement,
    ClosedDay,
    FacilityState,
    ShipmentCollateral,
    load_state,
)
from tradelane.contracts import Facility, FxRate, ShipmentBooking
from tradelane.contracts.credit import AdvanceRatesChanged, CreditScoreChanged
from tradelane.contracts.finance import (
    BorrowingBaseChanged,
    DayTick,
    DrawdownExecuted,
    DrawdownRejected,
    DrawdownRequested,
    InterestAccrued,
    MarginCallCured,
    MarginCallExpired,
    MarginCallIssued,
    PledgeDecided,
    RepaymentReceived,
    ResultCode,
    SaleReported,
)
from tradelane.contracts.fx_quotes import (
    FxQuoteIssued,
    FxQuoteNotHonoured,
    FxQuoteRefused,
    FxQuoteRequested,
)
from tradelane.contracts.plans import (
    DefaultInterestAccrued,
    InstalmentOverdue,
    RepaymentPlanSet,
)
from tradelane.contracts.seller import (
    FundingReminder,
    RepaymentDelayDecided,
    RepaymentDelayRecorded,
    RepaymentDelayRequested,
    TrancheAwaitingConfirmation,
    TrancheDecision,
    TrancheDecisionRecorded,
    TrancheExpired,
)


class Table(Protocol):
    """The key-value view of a state table the shells read and write (a dict in the bench,
    :class:`streams.store.RawView` in the worker)."""

    def get(self, key: bytes, /) -> bytes | None: ...

    def __getitem__(self, key: bytes, /) -> bytes: ...

    def __setitem__(self, key: bytes, value: bytes, /) -> None: ...


LAYOUT = b'{"layout":"segments"'
_BIG = {"shipments", "terms", "fx", "handled", "closed_days", "movements"}
_TERMS = TypeAdapter(Facility | None)
_FX = TypeAdapter(dict[str, FxRate])
_HANDLED = TypeAdapter(dict[str, ResultCode])
_INDEX = TypeAdapter(list[str])


class _Window(BaseModel):
    """The value-dating window (:mod:`finance.value_dating`): changed only when a day closes
    or money moves, so kept out of the header every timed input rewrites."""

    model_config = ConfigDict(extra="forbid")
    closed_days: list[ClosedDay] = []
    movements: list[BookedMovement] = []


class _Header(BaseModel):
    model_config = ConfigDict(extra="forbid")
    layout: Literal["segments"]
    rev: int
    core: FacilityState


def segment_key(key: bytes, name: str) -> bytes:
    return key + b"\x00" + name.encode()


def shipment_key(key: bytes, shipment_id: str) -> bytes:
    return segment_key(key, f"s:{shipment_id}")


def touched(item: object, entries: int, events: Sequence[Any] = ()) -> set[str] | None:
    """The shipments whose records ``item``'s step may have changed; ``None``: any of them.

    A step that applied a repayment may have repaid across all shipments (the waterfall) and a
    command may touch the shipment it names or all of them: both count as all. A step whose
    entries are a drawdown or interest (``events`` says which) changes the drawn shipment's
    record only: counting those as all made every departure on a line of 800 shipments write
    all 800 records again. Otherwise a shipment event or booking changes only its own
    shipment's record, and terms, an FX rate, a day tick or an FX quote request none (the
    property tests check this against a full serialisation)."""
    if isinstance(item, DrawdownRequested | RepaymentReceived | SaleReported):
        return None
    if entries and any(not isinstance(e.data, _OWN_SHIPMENT_POSTINGS) for e in events):
        return None
    return merge(_own_shipments(item), _named(events))


def _own_shipments(item: object) -> set[str] | None:
    if isinstance(
        item,
        ShipmentBooking
        | PledgeDecided
        | TrancheDecision
        | RepaymentDelayRequested
        | RepaymentDelayDecided,
    ):
        return {item.shipment_id}
    if isinstance(item, Facility | FxRate | DayTick | FxQuoteRequested):
        return set()
    subject = getattr(item, "subject", None)
    return {subject} if isinstance(subject, str) else None


def _named(events: Sequence[Any]) -> set[str]:
    """Shipments whose records a step changed whatever its input: the clock it moved settled
    a waiting tranche (deadline) or reminded the borrower of a line."""
    return {e.data.shipment_id for e in events if isinstance(e.data, _NAMES_SHIPMENT)}


_OWN_SHIPMENT_POSTINGS = (
    DrawdownExecuted,
    DrawdownRejected,
    BorrowingBaseChanged,
    InterestAccrued,
    MarginCallIssued,
    MarginCallCured,
    MarginCallExpired,
    PledgeDecided,
    TrancheAwaitingConfirmation,
    TrancheDecisionRecorded,
    TrancheExpired,
    FundingReminder,
    DefaultInterestAccrued,
    InstalmentOverdue,
    RepaymentPlanSet,
    RepaymentDelayRecorded,
    AdvanceRatesChanged,
    CreditScoreChanged,
    FxQuoteIssued,
    FxQuoteRefused,
    FxQuoteNotHonoured,
)
"""Events whose step's ledger entries concern the facility and the event's own shipment."""

_NAMES_SHIPMENT = (
    DrawdownExecuted,
    DrawdownRejected,
    TrancheAwaitingConfirmation,
    TrancheDecisionRecorded,
    TrancheExpired,
    FundingReminder,
    InstalmentOverdue,
    RepaymentPlanSet,
    RepaymentDelayRecorded,
)
"""Events that name a shipment whose record their step changed."""


def merge(a: set[str] | None, b: set[str] | None) -> set[str] | None:
    return None if a is None or b is None else a | b


@dataclass
class _Written:
    state: FacilityState
    header: bytes
    """What the table holds under the facility's key after our last load or save."""
    rev: int = 0
    segments: dict[bytes, bytes] = field(default_factory=dict)
    terms: Facility | None = None
    """The terms object last written (terms are replaced, never changed in place)."""
    shipments: int = -1
    """How many shipments the written index lists (-1: none written in this layout)."""
    handled: int = -1
    """How many decided commands the written ``handled`` segment holds."""
    window: tuple[object, object] | None = None
    """The (closed days, movements) lists last written: the engine replaces them, never
    changes them in place, so an unchanged window is the same objects."""


class FacilityStore:
    """Loads and saves facility states in a table in the segmented layout."""

    def __init__(self) -> None:
        self._written: dict[bytes, _Written] = {}

    def load(self, table: Table, key: bytes) -> FacilityState | None:
        """The facility's state; the object last saved when the table still holds its write."""
        raw = table.get(key)
        if raw is None:
            return None
        held = self._written.get(key)
        if held is not None and held.header == raw:  # bytes compare by identity first
            return held.state
        if not raw.startswith(LAYOUT):
            state = load_state(raw)  # the old layout: one document
            self._written[key] = _Written(state, raw)
            return state
        header = _Header.model_validate_json(raw)
        segments: dict[bytes, bytes] = {}

        def part(name: str, default: bytes) -> bytes:
            k = segment_key(key, name)
            value = table.get(k)
            if value is not None:
                segments[k] = value
            return default if value is None else value

        state = header.core
        state.terms = _TERMS.validate_json(part("terms", b"null"))
        state.fx = _FX.validate_json(part("fx", b"{}"))
        state.handled = _HANDLED.validate_json(part("handled", b"{}"))
        window = _Window.model_validate_json(part("window", b"{}"))
        state.closed_days, state.movements = window.closed_days, window.movements
        shipments: dict[str, ShipmentCollateral] = {}
        for shipment_id in _INDEX.validate_json(part("index", b"[]")):
            k = shipment_key(key, shipment_id)
            value = table[k]
            segments[k] = value
            shipments[shipment_id] = ShipmentCollateral.model_validate_json(value)
        state.shipments = shipments
        self._written[key] = _Written(
            state,
            raw,
            header.rev,
            segments,
            state.terms,
            len(shipments),
            len(state.handled),
            (state.closed_days, state.movements),
        )
        return state

    def forget(self, key: bytes) -> None:
        """Drop what is held for ``key`` (its state object was left half updated)."""
        self._written.pop(key, None)

    def save(
        self, table: Table, key: bytes, state: FacilityState, shipments: Iterable[str] | None
    ) -> bool:
        """Write the segments of ``state`` that changed; ``shipments``: the only shipment
        records that may have changed since the last save (``None``: any). Returns whether
        anything was written."""
        held = self._written.get(key)
        if held is None or not held.header.startswith(LAYOUT):
            # First write in this layout (a new facility, or one read in the old layout).
            held = self._written[key] = _Written(state, b"")
            shipments = None
        held.state = state
        writes: list[tuple[bytes, bytes]] = []
        segments = held.segments

        def put(k: bytes, value: bytes) -> None:
            if segments.get(k) != value:
                segments[k] = value
                writes.append((k, value))

        ids = state.shipments if shipments is None else shipments
        for shipment_id in sorted(ids):
            record = state.shipments.get(shipment_id)
            if record is not None:
                put(shipment_key(key, shipment_id), record.model_dump_json().encode())
        if shipments is None or len(state.shipments) != held.shipments:
            put(segment_key(key, "index"), _INDEX.dump_json(sorted(state.shipments)))
            held.shipments = len(state.shipments)
        if shipments is None or state.terms is not held.terms:
            put(segment_key(key, "terms"), _TERMS.dump_json(state.terms))
            held.terms = state.terms
        put(segment_key(key, "fx"), _FX.dump_json(state.fx))
        if shipments is None or len(state.handled) != held.handled:
            put(segment_key(key, "handled"), _HANDLED.dump_json(state.handled))
            held.handled = len(state.handled)
        window = (state.closed_days, state.movements)
        held_window = held.window
        if (
            shipments is None
            or held_window is None
            or any(a is not b for a, b in zip(window, held_window, strict=True))
        ):
            put(segment_key(key, "window"), _window_json(state))
            held.window = window
        core = state.model_dump_json(exclude=_BIG).encode()
        if not writes and held.header.endswith(b',"core":' + core + b"}"):
            return False
        held.rev += 1
        header = b'{"layout":"segments","rev":%d,"core":%s}' % (held.rev, core)
        for k, value in writes:
            table[k] = value
        table[key] = header
        held.header = header
        return True


def _window_json(state: FacilityState) -> bytes:
    window = _Window(closed_days=state.closed_days, movements=state.movements)
    return window.model_dump_json().encode()
