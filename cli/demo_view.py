"""What ``tradelane demo`` shows: a pure model of the picture, fed by events, and its renderers.

:class:`DemoView` holds one row per shipment (route and mode, status and last milestone with
its event time, trackers, last temperature and last alarm, pledged value and amount drawn) and
a short log of the latest events. Events reach the demo in consumption order, which interleaves
12 partitions; the view holds each one in a small reorder buffer for ``hold_s`` wall seconds
(the watermark) and releases them in event-time order, so the log and the rows follow event
time. A shipment's own events arrive in order (one partition per shipment), so its milestones
are shown in order; an event that arrives after later ones were already released is marked
``late`` rather than reordered silently.

:class:`Summary` is the closing account of a run, computed from what the pipeline wrote to
Kafka (ledger entries, finance, claim and shipment events), never from what the demo printed.

Two renderings: :func:`plain_line` (one line per released event, for pipes and tests) and
:func:`render` (a ``rich`` table and log for :class:`LiveDisplay` on a terminal).

Nothing here does I/O except the displays' printing; nothing imports Kafka.
"""

from __future__ import annotations

import heapq
import itertools
import sys
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TextIO, cast

from tradelane.contracts import (
    BreachEnded,
    BreachStarted,
    ClaimEvent,
    DataQualityChanged,
    MilestoneReached,
    ShipmentBooking,
    ShipmentEvent,
    TrackerReading,
)
from tradelane.contracts.finance import (
    BorrowingBaseChanged,
    DrawdownExecuted,
    DrawdownRejected,
    FinanceEvent,
    LedgerAccount,
    LedgerEntry,
    LedgerEntryKind,
)
from tradelane.contracts.insurance import ClaimPaid, ClaimRaised
from tradelane.contracts.seller import FundingReminder

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.live import Live

AnyEvent = ShipmentEvent | FinanceEvent | ClaimEvent
QUIET_KINDS = frozenset({"eta_changed", "breach_progress", "borrowing_base_changed"})
"""Kinds that update the picture but are too frequent for the log."""
ALARM_KINDS = frozenset(
    {
        "breach_started",
        "shock_detected",
        "tamper_detected",
        "battery_low",
        "tracker_silent",
        "deviation_started",
        "reading_implausible",
        "delay_predicted",
    }
)


@dataclass(frozen=True, slots=True)
class Happening:
    """One event released from the reorder buffer, ready to show."""

    time: datetime
    subject: str
    kind: str
    text: str | None
    """The log line's text; ``None`` for quiet kinds (they only update the rows)."""
    late: bool
    event: AnyEvent


class ReorderBuffer:
    """Holds items ``hold_s`` wall seconds, then releases them smallest event time first.

    The smallest event time is released only once it has been held for ``hold_s``, so
    an item that arrives within the hold with an earlier event time still goes first."""

    def __init__(self, hold_s: float) -> None:
        self.hold_s = hold_s
        self._heap: list[tuple[datetime, int, float, AnyEvent]] = []
        self._order = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def offer(self, time: datetime, item: AnyEvent, now: float) -> None:
        heapq.heappush(self._heap, (time, next(self._order), now, item))

    def due(self, now: float) -> list[tuple[datetime, AnyEvent]]:
        out = []
        while self._heap and self._heap[0][2] + self.hold_s <= now:
            time, _, _, item = heapq.heappop(self._heap)
            out.append((time, item))
        return out

    def drain(self) -> list[tuple[datetime, AnyEvent]]:
        out = [(time, item) for time, _, _, item in sorted(self._heap)]
        self._heap.clear()
        return out


@dataclass
class ShipmentRow:
    shipment_id: str
    route: str
    mode: str
    trackers: int
    pledged: str
    status: str = "booked"
    milestone: str = ""
    milestone_at: datetime | None = None
    temperature_c: float | None = None
    temperature_at: datetime | None = None
    alarm: str = ""
    alarm_at: datetime | None = None
    drawn: dict[str, Decimal] = field(default_factory=dict)


def _money(amount: Decimal, currency: str) -> str:
    return f"{currency} {amount:,.2f}"


def _route(booking: ShipmentBooking) -> tuple[str, str]:
    """``origin > destination`` and the modes, with the number of stops between."""
    stops = len(booking.legs) - 1
    modes = "+".join(dict.fromkeys(leg.mode.value for leg in booking.legs))
    via = f", {stops} stop{'s' if stops > 1 else ''}" if stops else ""
    return f"{booking.origin.locode} > {booking.destination.locode}", f"{modes}{via}"


_INTEREST_KINDS = frozenset({LedgerEntryKind.INTEREST, LedgerEntryKind.INTEREST_ADJUSTMENT})


class DemoView:
    """The picture, fed by bookings, readings and events; ``advance`` releases the buffer."""

    def __init__(self, hold_s: float = 2.0, log_size: int = 12) -> None:
        self.rows: dict[str, ShipmentRow] = {}
        self.log: deque[str] = deque(maxlen=log_size)
        self.status = ""
        self.heartbeat = ""
        self.buffer = ReorderBuffer(hold_s)
        self.released_until: datetime | None = None
        self.late = 0
        self.counts: dict[str, int] = {}
        self._devices: dict[str, str] = {}
        self._seen: set[str] = set()

    def book(self, booking: ShipmentBooking, pledged: bool) -> None:
        route, mode = _route(booking)
        value = booking.cargo.value
        self.rows[booking.shipment_id] = ShipmentRow(
            booking.shipment_id,
            route,
            mode,
            len(booking.trackers),
            _money(value.amount, value.currency) if pledged else "",
        )
        for device in booking.trackers:
            self._devices[device] = booking.shipment_id

    def reading(self, reading: TrackerReading) -> None:
        row = self.rows.get(self._devices.get(reading.device_id, ""))
        if row is None or reading.temperature_c is None:
            return
        if row.temperature_at is None or reading.ts >= row.temperature_at:
            row.temperature_c, row.temperature_at = reading.temperature_c, reading.ts

    def offer(self, event: AnyEvent, now: float) -> None:
        """An event as consumed; shown once released (see :class:`ReorderBuffer`). A copy of
        one already offered (a redelivered reading re-emits its events with their ids) is
        dropped: consumers de-duplicate by id."""
        if event.id in self._seen:
            return
        self._seen.add(event.id)
        self.buffer.offer(event.time, event, now)

    def advance(self, now: float) -> list[Happening]:
        """Release what the watermark passed, apply it to the rows, log it; return it."""
        return [self._release(time, event) for time, event in self.buffer.due(now)]

    def flush(self) -> list[Happening]:
        return [self._release(time, event) for time, event in self.buffer.drain()]

    def _release(self, time: datetime, event: AnyEvent) -> Happening:
        late = self.released_until is not None and time < self.released_until
        if late:
            self.late += 1
        else:
            self.released_until = time
        kind = event.data.kind
        self.counts[kind] = self.counts.get(kind, 0) + 1
        happening = Happening(time, event.subject, kind, describe(event), late, event)
        self._apply(happening)
        if happening.text is not None:
            self.log.append(log_text(happening))
        return happening

    def _apply(self, h: Happening) -> None:
        data = h.event.data
        if isinstance(data, DrawdownExecuted):
            row = self.rows.get(data.shipment_id)
            if row is not None:
                cur = data.amount.currency
                row.drawn[cur] = row.drawn.get(cur, Decimal(0)) + data.amount.amount
            return
        if family(h.event) == "insurance":
            row = self.rows.get(str(getattr(data, "shipment_id", "")))
            if row is not None and h.text is not None:
                row.alarm, row.alarm_at = h.text, h.time
            return
        row = self.rows.get(h.subject)
        if row is None or family(h.event) != "shipment":
            return
        if isinstance(data, MilestoneReached):
            if row.milestone_at is None or h.time >= row.milestone_at:
                row.status = data.status.value.replace("_", " ")
                row.milestone = data.milestone.value.replace("_", " ")
                row.milestone_at = h.time
        elif h.kind in ALARM_KINDS and (row.alarm_at is None or h.time >= row.alarm_at):
            row.alarm, row.alarm_at = (h.text or h.kind), h.time


# --- what one event says ---------------------------------------------------------------------


def family(event: AnyEvent) -> str:
    """``shipment``, ``finance`` or ``insurance``, from the envelope's type."""
    return event.type.split(".")[1]


def describe(event: AnyEvent) -> str | None:
    """The log text of an event; ``None`` for the quiet kinds."""
    if event.data.kind in QUIET_KINDS:
        return None
    kind = family(event)
    if kind == "shipment":
        return _describe_shipment(cast(ShipmentEvent, event))
    if kind == "finance":
        return _describe_finance(cast(FinanceEvent, event))
    return _describe_claim(cast(ClaimEvent, event))


def _describe_shipment(event: ShipmentEvent) -> str:
    d = event.data
    if isinstance(d, MilestoneReached):
        where = f" at {d.place}" if d.place else ""
        spec = "" if d.in_spec else " (not in spec)"
        return f"{d.milestone.value.replace('_', ' ')}{where}{spec}"
    if isinstance(d, BreachStarted):
        return f"{d.breach.value} breach started ({d.rule.value}, {d.value:.1f} vs {d.limit})"
    if isinstance(d, BreachEnded):
        return f"{d.breach.value} breach ended after {d.duration_s // 60} min, peak {d.peak:.1f}"
    if isinstance(d, DataQualityChanged):
        why = "; ".join(d.reasons) or "recovered"
        return f"tracker {d.device_id} data quality {d.previous.value} -> {d.grade.value}: {why}"
    device = getattr(d, "device_id", None)
    reasons = getattr(d, "reasons", None)
    detail = f": {'; '.join(reasons)}" if reasons else ""
    return f"{d.kind.replace('_', ' ')}{f' ({device})' if device else ''}{detail}"


def _amount_of(data: dict[str, Any], *names: str) -> str:
    for name in names:
        value = data.get(name)
        if isinstance(value, dict) and "amount" in value:
            return f" {_money(Decimal(value['amount']), value['currency'])}"
    return ""


def _describe_finance(event: FinanceEvent) -> str:
    if isinstance(event.data, FundingReminder):
        r = event.data
        money = "" if r.amount is None else f" {_money(r.amount.amount, r.amount.currency)}"
        moved = f" (was {r.previous_expected_on})" if r.previous_expected_on else ""
        return (
            f"reminder to the seller: {r.line} {r.shipment_id}{money} at "
            f"{r.milestone.value.replace('_', ' ')}, expected {r.expected_on}{moved}"
        )
    data = event.data.model_dump(mode="json")
    code = f" ({data['code']})" if data.get("code") else ""
    shipment = f" {data['shipment_id']}" if data.get("shipment_id") else ""
    money = _amount_of(data, "amount", "shortfall", "received")
    return f"{event.data.kind.replace('_', ' ')}{shipment}{money}{code}"


def _describe_claim(event: ClaimEvent) -> str:
    data = event.data.model_dump(mode="json")
    money = _amount_of(data, "amount", "claim_value")
    trigger = f" ({data['trigger']})" if data.get("trigger") else ""
    return f"{event.data.kind.replace('_', ' ')}{money}{trigger}"


def log_text(h: Happening) -> str:
    late = " [late]" if h.late else ""
    return f"{h.time:%Y-%m-%d %H:%M} {h.subject}: {h.text}{late}"


def plain_line(h: Happening) -> str | None:
    """The line a pipe or a test sees for a released event (none for quiet kinds)."""
    return None if h.text is None else f"  {log_text(h)}"


# --- the live picture ------------------------------------------------------------------------


def _when(at: datetime | None) -> str:
    return "" if at is None else f"{at:%m-%d %H:%M}"


def _row_cells(row: ShipmentRow) -> list[str]:
    milestone = f"{row.milestone} {_when(row.milestone_at)}" if row.milestone else ""
    temp = "" if row.temperature_c is None else f"{row.temperature_c:.1f} °C"
    alarm = f"{row.alarm} {_when(row.alarm_at)}" if row.alarm else ""
    drawn = ", ".join(_money(a, c) for c, a in sorted(row.drawn.items()))
    return [
        row.shipment_id,
        f"{row.route}\n{row.mode}",
        f"{row.status}\n{milestone}",
        str(row.trackers),
        f"{temp}\n{alarm}",
        f"{row.pledged}\n{drawn}",
    ]


def render(view: DemoView, max_rows: int = 20) -> RenderableType:
    """The table of shipments, the latest events and the status line, for ``rich``."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Shipments (event time, UTC)", expand=True, show_lines=False)
    for name in ("shipment", "route / mode", "status / last milestone", "trk", "temp / alarm"):
        table.add_column(name, overflow="fold")
    table.add_column("pledged / drawn", justify="right")
    for row in list(view.rows.values())[:max_rows]:
        table.add_row(*_row_cells(row))
    if len(view.rows) > max_rows:
        table.caption = f"{len(view.rows) - max_rows} more shipments not shown"
    log = Table(title="Latest events (event-time order)", expand=True, show_header=False)
    log.add_column("event", overflow="fold")
    for line in view.log:
        log.add_row(line)
    status = "\n".join(part for part in (view.status, view.heartbeat.strip()) if part)
    return Group(table, log, Text(status, style="dim"))


# --- displays --------------------------------------------------------------------------------


class PlainDisplay:
    """For pipes, CI and tests: one line per released event and notice, no redraws."""

    live = False

    def __init__(self, view: DemoView, out: TextIO | None = None) -> None:
        self.view = view
        self.out = out

    def _print(self, text: str) -> None:
        print(text, file=self.out or sys.stdout, flush=True)

    def notice(self, text: str) -> None:
        self._print(text)

    def status(self, text: str) -> None:
        self.view.status = text
        self._print(f"  {text}")

    def heartbeat(self, text: str) -> None:
        self._print(text)

    def start(self) -> None:
        """Nothing to set up for plain lines."""

    def refresh(self, now: float) -> None:
        self._show(self.view.advance(now))

    def finish(self) -> None:
        self._show(self.view.flush())

    def _show(self, happenings: Iterable[Happening]) -> None:
        for h in happenings:
            line = plain_line(h)
            if line is not None:
                self._print(line)


class LiveDisplay(PlainDisplay):
    """On a terminal: the table and the latest events redrawn in place (``rich.live``)."""

    live = True

    def __init__(self, view: DemoView) -> None:
        super().__init__(view)
        self._live: Live | None = None

    def start(self) -> None:
        from rich.live import Live

        self._live = Live(render(self.view), refresh_per_second=4, transient=False)
        self._live.start()

    def notice(self, text: str) -> None:
        self.view.log.append(text.strip())

    def status(self, text: str) -> None:
        self.view.status = text

    def heartbeat(self, text: str) -> None:
        self.view.heartbeat = text

    def refresh(self, now: float) -> None:
        self.view.advance(now)
        if self._live is not None:
            self._live.update(render(self.view, self._rows_that_fit()))

    def _rows_that_fit(self) -> int:
        """Two lines a shipment; the log, titles, borders and status take the rest."""
        assert self._live is not None
        height = self._live.console.size.height
        return max(3, (height - (self.view.log.maxlen or 0) - 12) // 2)

    def finish(self) -> None:
        self.view.flush()
        if self._live is not None:
            self._live.update(render(self.view))
            self._live.stop()
            self._live = None


# --- the closing summary ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerVerdict:
    """:meth:`finance.ledger_store.LedgerStore.verify`'s answer for one facility."""

    facility_id: str
    ok: bool
    entries: int
    problems: tuple[str, ...] = ()
    signed: str = ""
    """What the signed checkpoints covered (e.g. ``signed to seq 6 by key …``), if checked."""


def _add(totals: dict[str, Decimal], currency: str, amount: Decimal) -> None:
    totals[currency] = totals.get(currency, Decimal(0)) + amount


def _per_currency(totals: dict[str, Decimal]) -> str:
    return ", ".join(_money(a, c) for c, a in sorted(totals.items())) or "nothing"


@dataclass
class Summary:
    """A run's figures, from the records the pipeline produced (see :meth:`build`)."""

    drawdowns: int = 0
    drawn: dict[str, Decimal] = field(default_factory=dict)
    repayments: int = 0
    repaid: dict[str, Decimal] = field(default_factory=dict)
    interest_entries: int = 0
    interest: dict[str, Decimal] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    """Rejected tranches (shipment, milestone: code) and how many rejections each got (the
    engine tries a rejected tranche again on the shipment's later events)."""
    haircuts: dict[str, Decimal] = field(default_factory=dict)
    margin_calls: dict[str, int] = field(default_factory=dict)
    claims_raised: list[str] = field(default_factory=list)
    claims_paid: int = 0
    paid: dict[str, Decimal] = field(default_factory=dict)
    tamper: list[str] = field(default_factory=list)
    ledgers: list[LedgerVerdict] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        ledger: Sequence[LedgerEntry],
        finance: Sequence[FinanceEvent],
        claims: Sequence[ClaimEvent],
        shipments: Sequence[ShipmentEvent],
        verdicts: Sequence[LedgerVerdict],
    ) -> Summary:
        summary = cls(ledgers=list(verdicts))
        for entry in ledger:
            summary._entry(entry)
        for event in finance:
            summary._finance(event)
        for claim in claims:
            summary._claim(claim)
        summary.tamper = [
            f"{e.subject} at {e.time:%Y-%m-%d %H:%M}"
            for e in shipments
            if e.data.kind == "tamper_detected"
        ]
        return summary

    def _entry(self, entry: LedgerEntry) -> None:
        """Money figures from the ledger: principal lent and repaid, interest income."""
        for p in entry.postings:
            if entry.kind is LedgerEntryKind.DRAWDOWN and p.account is LedgerAccount.LOAN_PRINCIPAL:
                _add(self.drawn, p.currency, p.amount)
            elif entry.kind is LedgerEntryKind.REPAYMENT and p.account is LedgerAccount.FUNDING:
                _add(self.repaid, p.currency, p.amount)
            elif entry.kind in _INTEREST_KINDS and p.account is LedgerAccount.INTEREST_INCOME:
                _add(self.interest, p.currency, p.amount)  # a value-dated correction included
        self.drawdowns += entry.kind is LedgerEntryKind.DRAWDOWN
        self.repayments += entry.kind is LedgerEntryKind.REPAYMENT
        self.interest_entries += entry.kind is LedgerEntryKind.INTEREST

    def _finance(self, event: FinanceEvent) -> None:
        data = event.data
        if isinstance(data, DrawdownRejected):
            tranche = f"{data.shipment_id} {data.milestone.value}: {data.code.value}"
            self.rejected[tranche] = self.rejected.get(tranche, 0) + 1
        elif isinstance(data, BorrowingBaseChanged):
            for line in data.collateral:
                if line.haircut > self.haircuts.get(line.shipment_id, Decimal(0)):
                    self.haircuts[line.shipment_id] = line.haircut
        elif data.kind.startswith("margin_call_"):
            state = data.kind.removeprefix("margin_call_")
            self.margin_calls[state] = self.margin_calls.get(state, 0) + 1

    def _claim(self, claim: ClaimEvent) -> None:
        data = claim.data
        if isinstance(data, ClaimRaised):
            self.claims_raised.append(
                f"{data.shipment_id} {data.trigger} tier {data.tier}: {data.measure:g} {data.unit}"
                f" >= {data.threshold:g}"
            )
        elif isinstance(data, ClaimPaid):
            self.claims_paid += 1
            _add(self.paid, data.amount.currency, data.amount.amount)

    @property
    def clean(self) -> bool:
        """What a nominal fleet should produce: no claim, no tamper, no rejected tranche."""
        return not (self.claims_raised or self.tamper or self.rejected)

    def lines(self) -> list[str]:
        calls = self.margin_calls
        out = [
            "Summary (from finance.ledger, finance.events, insurance.claims and "
            "shipments.events of this run):",
            f"  drawdowns         {self.drawdowns}: {_per_currency(self.drawn)}",
            f"  rejected tranches {len(self.rejected)} ({sum(self.rejected.values())} rejections)",
            f"  haircuts          {len(self.haircuts)} shipment(s) with a haircut",
            f"  margin calls      {calls.get('issued', 0)} issued, {calls.get('cured', 0)} cured, "
            f"{calls.get('expired', 0)} expired",
            f"  repayments        {self.repayments}: {_per_currency(self.repaid)} received",
            f"  interest booked   {self.interest_entries} entries: {_per_currency(self.interest)}",
            f"  claims            {len(self.claims_raised)} raised, {self.claims_paid} paid: "
            f"{_per_currency(self.paid)}",
            f"  tamper            {len(self.tamper)}",
        ]
        for v in self.ledgers:
            verdict = "verified OK" if v.ok else f"verification FAILED ({len(v.problems)} problems)"
            signed = f", {v.signed}" if v.signed else ""
            out.append(f"  ledger {v.facility_id}: {v.entries} entries{signed}, {verdict}")
            out.extend(f"    {problem}" for problem in v.problems[:5])
        out.extend(self._findings())
        return out

    def _findings(self) -> list[str]:
        if self.clean:
            return ["  clean run: 0 claims, 0 tamper, 0 rejected tranches"]
        out = ["  NOT a clean run:"]
        out.extend(f"    claim raised: {c}" for c in self.claims_raised)
        out.extend(f"    tamper: {t}" for t in self.tamper)
        out.extend(f"    tranche rejected: {r} (x{n})" for r, n in self.rejected.items())
        out.extend(
            f"    haircut {share:.0%}: {shipment}" for shipment, share in self.haircuts.items()
        )
        return out
