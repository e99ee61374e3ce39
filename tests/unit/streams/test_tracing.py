"""One trace from a reading to its ledger entry, in memory: the shipment stage's step continues
the bridge's span its record carries, what the step causes carries the step's context, the
pledge stage's step continues from there, and each ledger entry is a span under it whose
context its ``finance.ledger`` record carries."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from streams.hotpath import READING
from streams.pledge_stage import PledgeStage
from streams.registries import Registries
from streams.store import Send
from streams.tracing import LEDGER_ENTRY, PLEDGE_STEP, SHIPMENT_STEP, BatchTrace
from tests.samples import booking
from tests.unit.streams.test_collateral_wiring import DEVICE, FIN, SHIPMENT, _hot, line, usd
from tests.unit.streams.test_hotpath import voyage
from tradelane.topics import FINANCE_EVENTS, FINANCE_LEDGER, SHIPMENTS_EVENTS
from transport import tracing


@pytest.fixture
def spans() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _message(offset: int, headers: list[tuple[str, bytes]]) -> Any:
    return SimpleNamespace(offset=offset, headers=headers)


def _traced(trace: BatchTrace, sends: list[Send], topic: str) -> list[tuple[Send, str]]:
    """Each send to ``topic`` with the traceparent it is to carry."""
    out = []
    for send in sends:
        if send[0] == topic:
            parent = tracing.traceparent(trace.headers(send))
            assert parent is not None, send[:2]
            out.append((send, parent))
    return out


def _span_id(traceparent: str) -> int:
    return int(traceparent.split("-")[2], 16)


def _by_name(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == name]


def test_a_reading_s_trace_reaches_its_ledger_entry(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    tracer = provider.get_tracer("test")
    registries = Registries()
    registries.learn(booking(SHIPMENT, [DEVICE]))
    registries.learn(line("fac-a", "bank-a", usd(150_000)))
    hot = _hot(registries)
    bridge = [tracer.start_span("mqtt receive") for _ in range(4)]
    records = [
        ("by-shipment", 0, SHIPMENT.encode(), READING + r.model_dump_json().encode(), n)
        for n, r in enumerate(voyage(DEVICE, 4))
    ]
    shipment_trace = BatchTrace(tracer)
    shipment_trace.read(
        "by-shipment", 0, [_message(n, tracing.headers_of(s)) for n, s in enumerate(bridge)]
    )
    sends = hot.apply(records, shipment_trace)

    steps = _by_name(exporter, SHIPMENT_STEP)
    assert [s.parent.span_id for s in steps if s.parent] == [
        s.get_span_context().span_id for s in bridge
    ]
    step_ids = {s.context.span_id for s in steps}
    assert all(
        _span_id(p) in step_ids for _, p in _traced(shipment_trace, sends, SHIPMENTS_EVENTS.name)
    )
    to_pledge = _traced(shipment_trace, sends, FIN)
    assert to_pledge
    assert all(_span_id(p) in step_ids for _, p in to_pledge)
    assert shipment_trace.headers(("c-ship", b"", b"", 0)) is None  # not one of its sends

    stage = PledgeStage(registries, FIN, "c-fac")
    stage.store.load(0, [])
    pledge_trace = BatchTrace(tracer)
    pledge_trace.read(
        FIN, 0, [_message(n, [("traceparent", p.encode())]) for n, (_, p) in enumerate(to_pledge)]
    )
    out = stage.apply([(FIN, 0, s[1], s[2], n) for n, (s, _) in enumerate(to_pledge)], pledge_trace)

    pledge_steps = _by_name(exporter, PLEDGE_STEP)
    assert {s.parent.span_id for s in pledge_steps if s.parent} <= step_ids
    assert {s.context.trace_id for s in pledge_steps} <= {s.context.trace_id for s in steps}
    [entry] = _by_name(exporter, LEDGER_ENTRY)
    assert entry.parent is not None
    assert entry.parent.span_id in {s.context.span_id for s in pledge_steps}
    assert entry.attributes is not None
    assert entry.attributes["tradelane.facility"] == "fac-a"
    assert entry.attributes["tradelane.ledger.kind"] == "drawdown"
    assert entry.attributes["tradelane.ledger.currency"] == "USD"
    assert Decimal(str(entry.attributes["tradelane.ledger.amount"])) > 0
    [(_, ledger_parent)] = _traced(pledge_trace, out, FINANCE_LEDGER.name)
    assert _span_id(ledger_parent) == entry.context.span_id
    finance = _traced(pledge_trace, out, FINANCE_EVENTS.name)
    assert finance
    assert all(_span_id(p) in {s.context.span_id for s in pledge_steps} for _, p in finance)
    assert all(pledge_trace.headers(s) is None for s in out if s[0] == "c-fac")  # changelogs


def test_a_routed_copy_carries_its_record_s_trace_across_the_repartition(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, _ = spans
    trace = BatchTrace(provider.get_tracer("test"))
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    routed: list[Send] = [("by-shipment", b"shp", b"R{}", None)]
    trace.routed(routed, _message(3, [("traceparent", parent.encode()), ("other", b"x")]))
    assert trace.headers(routed[0]) == [("traceparent", parent.encode())]


def test_a_failed_step_is_recorded_and_raised_on(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    trace = BatchTrace(provider.get_tracer("test"))
    sends: list[Send] = []

    def fail() -> None:
        with trace.step(("in", 0, b"k", b"v", 5), SHIPMENT_STEP, sends):
            sends.append(("out", b"k", b"v", None))
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        fail()
    assert trace.headers(sends[0]) is None  # a failed step's outputs are never produced
    [span] = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["messaging.kafka.offset"] == 5
    assert span.parent is None  # its record carried no trace: a trace of its own
