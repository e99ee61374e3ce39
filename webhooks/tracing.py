"""The webhook worker's spans: one per delivery attempt, continuing the trace of the event.

An event read from Kafka with a ``traceparent`` header (the span that caused it in the worker)
is delivered with that context twice over: in the CloudEvent itself, as the distributed-tracing
extension attribute ``traceparent`` (:func:`webhooks.delivery.with_traceparent`; the event's
origin, the same on every retry), and in the POST's own ``traceparent`` HTTP header, which
names the attempt's span (``webhook delivery``, a child of the event's context), so a receiver
that traces its requests joins the same trace.

:func:`delivery_tracing` is None when no tracer provider is installed: attempts then run as
before, without a span or a header.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from typing import Any

from opentelemetry import context, trace

from transport import tracing
from webhooks.delivery import Delivery

DELIVERY_SPAN = "webhook delivery"


class DeliveryTracing:
    """Runs each attempt in a span of its own."""

    def __init__(self, provider: trace.TracerProvider) -> None:
        self._tracer = provider.get_tracer("tradelane.webhooks")

    def start(
        self, attempt: Coroutine[Any, Any, None], d: Delivery, number: int
    ) -> asyncio.Task[None]:
        """``attempt`` (of delivery ``d``, the ``number``-th) as a task whose current span is
        the attempt's; the span ends with the task."""
        origin = None if d.traceparent is None else [("traceparent", d.traceparent.encode())]
        span = self._tracer.start_span(
            DELIVERY_SPAN,
            context=tracing.context_of(origin),
            kind=trace.SpanKind.CLIENT,
            attributes={
                "tradelane.webhook.subscription_id": d.subscription_id,
                "tradelane.webhook.delivery_id": d.delivery_id,
                "tradelane.webhook.attempt": number,
                "cloudevents.event_id": d.event_id,
                "cloudevents.event_type": d.event_type,
                "cloudevents.event_subject": d.subject,
            },
        )
        scope = contextvars.copy_context()
        scope.run(context.attach, trace.set_span_in_context(span))
        task = asyncio.create_task(attempt, context=scope)
        task.add_done_callback(lambda _task: span.end())
        return task

    @staticmethod
    def carry(headers: dict[str, str]) -> None:
        """Add the current attempt's ``traceparent`` to a request's headers."""
        for name, value in tracing.headers_of(trace.get_current_span()):
            headers[name] = value.decode("latin-1")

    @staticmethod
    def answered(status: int | None, failure: str | None) -> None:
        """Record the receiver's answer (None: no answer) on the current attempt's span."""
        span = trace.get_current_span()
        if status is not None:
            span.set_attribute("http.response.status_code", status)
        if failure is not None:
            span.set_status(trace.StatusCode.ERROR, failure)


def delivery_tracing(provider: trace.TracerProvider | None = None) -> DeliveryTracing | None:
    """The webhook worker's tracing, or None when ``provider`` (default: the global one)
    records nothing."""
    provider = provider if provider is not None else trace.get_tracer_provider()
    return DeliveryTracing(provider) if tracing.active(provider) else None
