"""The API's spans: each HTTP request, and each event the live feed serves.

- :class:`TraceRequests`, a pure ASGI middleware, makes every HTTP request a server span that
  continues the trace of an incoming W3C ``traceparent`` header (a caller that traces its own
  requests sees the API's work in its trace);
- :class:`FeedTrace` makes the fold of a record into live feed items a ``feed publish`` span
  under the context its Kafka headers carry, so a milestone's trace shows when the dashboard
  got it. Only once the read model is live: the catch-up read at start-up replays weeks of
  records and would add a span to every old trace.

Both exist only when a tracer provider is installed (:func:`transport.tracing.active`):
``create_app`` adds the middleware only then, and the consumer asks :func:`feed_trace` once per
batch, so an API without tracing does nothing per request or per record for it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry import context, trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from transport import tracing

FEED_PUBLISH = "feed publish"
_W3C_HEADERS = frozenset({b"traceparent", b"tracestate"})


class TraceRequests:
    """A server span per HTTP request, under the caller's ``traceparent`` if it sent one."""

    def __init__(self, app: ASGIApp, provider: trace.TracerProvider | None = None) -> None:
        self.app = app
        provider = provider if provider is not None else trace.get_tracer_provider()
        self._tracer = provider.get_tracer("tradelane.api")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        caller = [(k.decode("latin-1"), v) for k, v in scope["headers"] if k in _W3C_HEADERS]
        method = scope.get("method", "")
        span = self._tracer.start_span(
            f"{method} {scope.get('path', '')}",
            context=tracing.context_of(caller),
            kind=trace.SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": scope.get("path", "")},
        )

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                span.set_attribute("http.response.status_code", message["status"])
                if message["status"] >= 500:
                    span.set_status(trace.StatusCode.ERROR)
            await send(message)

        token = context.attach(trace.set_span_in_context(span))
        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None)
            if route:  # the route template, not the path with its ids
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
            context.detach(token)
            span.end()


class FeedTrace:
    """The spans of one batch of the read model's live fold."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    @contextmanager
    def publishing(
        self, topic: str, headers: Sequence[tuple[str, bytes]] | None, items: int
    ) -> Iterator[None]:
        """A span around publishing the ``items`` feed items one record made, continuing the
        trace its ``headers`` carry (records without a trace make none)."""
        parent = tracing.context_of(headers)
        if parent is None:
            yield
            return
        span = self._tracer.start_span(
            FEED_PUBLISH,
            context=parent,
            attributes={"messaging.destination.name": topic, "tradelane.feed.items": items},
        )
        with trace.use_span(span, end_on_exit=True):
            yield


def feed_trace() -> FeedTrace | None:
    """A batch's feed tracing, or None when no tracer provider records anything."""
    return FeedTrace(trace.get_tracer("tradelane.api")) if tracing.active() else None
