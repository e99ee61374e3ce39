"""Serving a process's Prometheus metrics, and reading them back.

Every long-running process (bridge, worker, sink, API, webhook worker, simulator) keeps its
series in a :class:`prometheus_client.CollectorRegistry` of its own, never the library's global
one: two bridges in one test process, or a demo running every stage in one interpreter, would
otherwise collide on the series names. :class:`MetricsServer` serves such a registry at
``http://HOST:PORT/metrics`` on the process's event loop (prometheus_client's aiohttp handler),
so a scrape needs no thread and stops with the process. The readers (:func:`value`,
:func:`total`, :func:`quantile`) are for stats lines and tests: they read the same numbers
Prometheus scrapes.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.aiohttp import make_aiohttp_handler

from tradelane.metrics_ports import DEFAULT_HOST, DEFAULT_PORTS

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORTS",
    "LATENCY_BUCKETS_S",
    "MetricsServer",
    "quantile",
    "serving",
    "start_serving",
    "total",
    "value",
]

log = logging.getLogger(__name__)

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Buckets for the latency histograms, 1 ms to 10 s: the range the pipeline's targets live in."""


class MetricsServer:
    """``registry`` served at ``http://host:port/metrics``; ``port`` 0 binds a free port, and
    :attr:`port` is the bound one once started."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        self.registry = registry
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        app = web.Application()
        app.router.add_get("/metrics", make_aiohttp_handler(self.registry))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        sockets = getattr(site._server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"


async def start_serving(
    registry: CollectorRegistry, host: str, port: int | None
) -> MetricsServer | None:
    """``registry`` served on ``host:port``, or None when ``port`` is None or cannot be bound.

    A port already in use (a second worker on this machine left on the default port) is a
    warning, not a failure: the process's work goes on without its endpoint; give each process
    its own ``--metrics-port`` to scrape them all."""
    if port is None:
        return None
    server = MetricsServer(registry, host, port)
    try:
        await server.start()
    except OSError as exc:
        log.warning("metrics not served: %s:%d cannot be bound (%s)", host, port, exc)
        print(
            f"warning: metrics not served: {host}:{port} cannot be bound ({exc.strerror}); "
            "use --metrics-port",
            file=sys.stderr,
            flush=True,
        )
        return None
    return server


@contextlib.asynccontextmanager
async def serving(
    registry: CollectorRegistry, host: str, port: int | None
) -> AsyncIterator[MetricsServer | None]:
    """Serve ``registry`` for the block (:func:`start_serving`); yields None if not served."""
    server = await start_serving(registry, host, port)
    try:
        yield server
    finally:
        if server is not None:
            await server.stop()


def value(registry: CollectorRegistry, name: str, labels: dict[str, str] | None = None) -> float:
    """One sample's value, 0 when it has not been set yet."""
    found = registry.get_sample_value(name, labels or {})
    return 0.0 if found is None else found


def total(registry: CollectorRegistry, name: str) -> float:
    """The sum of a sample name over all its label sets (e.g. dead letters of every reason)."""
    return sum(s.value for family in registry.collect() for s in family.samples if s.name == name)


def quantile(registry: CollectorRegistry, histogram: str, q: float) -> float:
    """The upper bucket bound below which a share ``q`` of a histogram's observations fall
    (all label sets together); 0 when nothing was observed."""
    buckets: dict[float, float] = {}
    for family in registry.collect():
        for s in family.samples:
            if s.name == f"{histogram}_bucket":
                bound = float(s.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + s.value
    count = buckets.get(math.inf, 0.0)
    if count == 0:
        return 0.0
    for bound in sorted(buckets):
        if buckets[bound] >= q * count:
            return bound
    return math.inf
