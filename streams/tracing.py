"""The worker's spans: one per applied input, continuing the trace its record's headers carry.

A loop asks :func:`batch_trace` once per batch; with no tracer provider installed it gets None
and nothing here runs (no per-record work when tracing is off). Otherwise, for that batch:

- a routed record's copy on the loop's keyed topic (``{app}-by-shipment``, ``{app}-finance-in``)
  carries the routed record's own trace headers across the repartition
  (:meth:`BatchTrace.routed`);
- each keyed input applied gets a span (``shipment step`` or ``pledge step``) whose parent is
  the context in the input's headers (the bridge's span of the reading, the shipment step that
  sent a pledged shipment's event), and every record that input caused (events, claims,
  commands, the pledge engine's inputs) carries that span's context in its headers;
- in the pledge loop each ledger entry gets a span of its own under the step (facility, entry
  id, amount and currency as attributes), and its ``finance.ledger`` record carries it.

Records are tuples without headers (:data:`streams.store.Send`), so the headers a batch's
outputs carry are kept here, by the identity of each send tuple, until the loop produces them
(:meth:`BatchTrace.headers`); a tuple lives in the batch's list until then, so its identity
cannot be reused meanwhile. Changelog records and checkpoints carry no trace.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal

from opentelemetry import trace

from streams.stage import Message, Record
from streams.store import Send
from tradelane.contracts.finance import Direction, LedgerEntry
from tradelane.topics import FINANCE_LEDGER
from transport import tracing
from transport.tracing import Headers

SHIPMENT_STEP = "shipment step"
PLEDGE_STEP = "pledge step"
LEDGER_ENTRY = "ledger entry"


class BatchTrace:
    """The spans of one batch of one loop, and the headers of what it produces."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer
        self._inputs: dict[tuple[str, int, int], Sequence[tuple[str, bytes]]] = {}
        self._out: dict[int, tuple[Send, Headers]] = {}

    def read(self, topic: str, partition: int, messages: Sequence[Message]) -> None:
        """Remember the trace headers of a keyed partition's records (those that have any)."""
        for m in messages:
            if m.headers:
                self._inputs[(topic, partition, m.offset)] = m.headers

    def routed(self, sends: list[Send], message: Message) -> None:
        """``sends`` are what routing made of ``message``: they carry its trace headers on."""
        headers = [(k, v) for k, v in message.headers or () if k in _PROPAGATED]
        if headers:
            for send in sends:
                self._out[id(send)] = (send, headers)

    @contextmanager
    def step(self, record: Record, name: str, sends: list[Send]) -> Iterator[trace.Span]:
        """A span around applying ``record``; what it appends to ``sends`` meanwhile carries
        the span's context. A failure is recorded on the span and raised on."""
        span = self.begin(record, name)
        mark = len(sends)
        try:
            with trace.use_span(span, end_on_exit=False, record_exception=True):
                yield span
        except BaseException:
            span.end()
            raise
        self.end(span, sends, mark)

    def begin(self, record: Record, name: str) -> trace.Span:
        """Start the span of applying ``record``, under the context its headers carried."""
        topic, partition, key, _value, offset = record
        return self._tracer.start_span(
            name,
            context=tracing.context_of(self._inputs.get((topic, partition, offset))),
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": topic,
                "messaging.destination.partition.id": str(partition),
                "messaging.kafka.offset": offset,
                "messaging.kafka.message.key": key.decode("utf-8", "replace"),
            },
        )

    def end(self, span: trace.Span, sends: list[Send], mark: int) -> None:
        """End ``span``; ``sends[mark:]`` (what its input caused) carry its context, and each
        ledger entry among them a child span of its own."""
        headers = tracing.headers_of(span) if len(sends) > mark else []
        for send in sends[mark:]:
            if send[0] == FINANCE_LEDGER.name:
                self._out[id(send)] = (send, self._ledger_entry(span, send[2]))
            else:
                self._out[id(send)] = (send, headers)
        span.set_attribute("tradelane.outputs", len(sends) - mark)
        span.end()

    def _ledger_entry(self, parent: trace.Span, raw: bytes) -> Headers:
        """A span for one ledger entry under the pledge step that appended it; the headers
        its ``finance.ledger`` record carries."""
        entry = LedgerEntry.model_validate_json(raw)
        debits = sum(
            (p.amount for p in entry.postings if p.direction is Direction.DEBIT), Decimal(0)
        )
        span = self._tracer.start_span(
            LEDGER_ENTRY,
            context=trace.set_span_in_context(parent),
            attributes={
                "tradelane.facility": entry.facility_id,
                "tradelane.ledger.entry_id": entry.entry_id,
                "tradelane.ledger.seq": entry.seq,
                "tradelane.ledger.kind": entry.kind.value,
                "tradelane.ledger.amount": str(debits),
                "tradelane.ledger.currency": entry.postings[0].currency,
                "tradelane.ledger.cause_event_id": entry.cause_event_id,
            },
        )
        span.end()
        return tracing.headers_of(span)

    def headers(self, send: Send) -> Headers | None:
        """The trace headers ``send`` is to carry, if any."""
        found = self._out.get(id(send))
        return found[1] if found is not None and found[0] is send else None


_PROPAGATED = frozenset({tracing.TRACEPARENT, tracing.TRACESTATE})


def batch_trace() -> BatchTrace | None:
    """A new batch's tracing, or None when no tracer provider records anything (checked once
    per batch)."""
    if not tracing.active():
        return None
    return BatchTrace(trace.get_tracer("tradelane.worker"))
