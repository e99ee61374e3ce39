"""Tracing at the edge: the OpenTelemetry SDK set up for one process, when it is configured.

Each long-running command (bridge, worker, webhooks, api) calls :func:`configure` first. It
reads only the standard ``OTEL_*`` variables, so any OpenTelemetry collector or backend takes
the traces as they are (docs/operations.md, "Tracing"):

- tracing is **on** when an exporter is named: ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
  ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) set, or ``OTEL_TRACES_EXPORTER`` = ``otlp`` or
  ``console``; ``OTEL_TRACES_EXPORTER=none`` or ``OTEL_SDK_DISABLED=true`` keeps it off;
- OTLP goes over HTTP/protobuf; the SDK's own variables choose the rest: the sampler
  (``OTEL_TRACES_SAMPLER=parentbased_traceidratio``, ``OTEL_TRACES_SAMPLER_ARG=0.01`` keeps
  1 % of the traces the bridge starts, and every process downstream follows the bridge's
  decision), the batch processor's delay and queue (``OTEL_BSP_*``), the service name
  (``OTEL_SERVICE_NAME``, default ``tradelane-{command}``) and resource attributes.

Off, nothing is installed: the API's global provider stays the no-op proxy, and the processes
check :func:`transport.tracing.active` once per batch and skip all per-record work. Only this
module imports the SDK, so the kernel and the features stay on the API alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from tradelane.errors import UsageError

EXPORTERS = ("otlp", "console")


def exporter_name(env: Mapping[str, str]) -> str | None:
    """The span exporter ``env`` asks for, or None when tracing stays off."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    named = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if named:
        if named == "none":
            return None
        if named not in EXPORTERS:
            raise UsageError(
                f"OTEL_TRACES_EXPORTER={named!r}: tradelane exports {', '.join(EXPORTERS)} or none"
            )
        return named
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    return "otlp" if endpoint else None


def configure(command: str, env: Mapping[str, str] | None = None) -> bool:
    """Install the global tracer provider of ``tradelane {command}`` if ``env`` (default: the
    process environment) configures an exporter; return whether tracing is on. Spans still
    queued at exit are flushed by the SDK's exit hook."""
    env = os.environ if env is None else env
    name = exporter_name(env)
    if name is None:
        return False
    from opentelemetry import trace
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SpanExporter,
    )

    exporter: SpanExporter
    if name == "console":
        exporter = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    service = env.get("OTEL_SERVICE_NAME") or f"tradelane-{command}"
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return True
