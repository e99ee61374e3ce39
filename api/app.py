"""The FastAPI application: REST, live feed, health, and the dashboard at ``/``.

:func:`create_app` wires an :class:`~api.service.ApiState`. Given none, it builds the real one
from settings and, for the app's lifetime, runs the Kafka follower that keeps the read model
(started and stopped by the ASGI lifespan). Tests pass their own state instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from api import (
    routes_exports,
    routes_finance,
    routes_live,
    routes_seller,
    routes_seller_finance,
    routes_shipments,
    routes_webhooks,
)
from api.auth import KeyRing, demo_keys_allowed, is_loopback, load_keys
from api.body_limit import BodyLimit
from api.consumer import ReadModelConsumer
from api.deps import PrincipalDep, StateDep
from api.history import History
from api.hub import Hub
from api.metrics import RequestMetrics
from api.models import Health, Me
from api.problems import install, problem_response, problem_responses
from api.projection import ReadModel
from api.service import ApiState
from api.settings import ApiSettings
from api.shares import redact
from api.shares import routes as routes_shares
from api.tracing import TraceRequests
from tradelane import __version__
from tradelane.asyncapi import asyncapi_document
from tradelane.errors import UsageError
from tradelane.principals import Principal
from tradelane.retry import any_error, retrying, until_stopped
from tradelane.settings import InfluxSettings, KafkaSettings
from transport import tracing

STATIC = Path(__file__).parent / "static"
log = logging.getLogger(__name__)
HOOKS = "the webhook subscription follower"
SHARES = "the shipment shares follower"


@cache
def _asyncapi() -> dict[str, Any]:
    return asyncapi_document()


class InsecureConfigError(UsageError):
    """A configuration the server refuses to start with."""


def check_keys(keys: KeyRing, host: str) -> None:
    """Refuse the public demo keys unless the server binds a loopback address."""
    if keys.demo and not demo_keys_allowed(host):
        raise InsecureConfigError(
            f"refusing to serve the public demo keys on {host}, which other machines can "
            "reach: set TRADELANE_API_KEYS_FILE to a key file made by `tradelane api keys add` "
            "(docs/api.md), or bind 127.0.0.1"
        )


def build_state(
    settings: ApiSettings | None = None,
    kafka: KafkaSettings | None = None,
    influx: InfluxSettings | None = None,
    host: str | None = None,
) -> ApiState:
    """The production wiring: keys from settings, a Kafka follower, InfluxDB history and the
    finance readers. ``host`` is the address the server binds (``None``: not known, treated as
    reachable from anywhere); it decides whether demo keys and ``?key=`` are accepted."""
    from api.finance_reads import FinanceReads
    from api.requests_out import KafkaRequestSink
    from api.shares.store import KafkaShareStore
    from webhooks.store import KafkaSubscriptionStore

    settings = settings or ApiSettings()
    kafka = kafka or KafkaSettings().as_principal(Principal.API)
    model = ReadModel(events_kept=settings.events_kept)
    hub = Hub(model, settings.client_queue_max)
    keys = load_keys(settings.keys_file)
    check_keys(keys, host or "0.0.0.0")  # noqa: S104 - unknown: assume the worst
    state = ApiState(
        settings=settings,
        keys=keys,
        model=model,
        hub=hub,
        history=History(influx or InfluxSettings()),
        finance=FinanceReads(kafka, settings),
        loopback=host is not None and is_loopback(host),
    )
    state.consumer = ReadModelConsumer(kafka, model, hub, settings.readings_lookback_s)
    state.webhooks = KafkaSubscriptionStore(kafka)
    state.shares = KafkaShareStore(kafka)
    state.requests = KafkaRequestSink(kafka)
    return state


class Follower(Protocol):
    """Anything that follows Kafka until stopped: the read model, the shares and webhook
    subscription stores."""

    async def run(self, stop: asyncio.Event) -> None: ...


async def follow(
    follower: Follower,
    stop: asyncio.Event,
    retry_s: float = 5.0,
    what: str = "the Kafka follower",
) -> None:
    """Run ``follower`` until stopped; when Kafka fails it, log and start it again after a
    back-off of up to ``retry_s`` (:func:`tradelane.retry.retrying` with no deadline: the API
    outlives any broker outage). Folding or applying the same records again changes nothing:
    every fold here is idempotent."""

    async def attempt() -> None:
        while not stop.is_set():
            await follower.run(stop)

    def restarting(exc: BaseException, pause_s: float) -> None:
        log.error("%s failed; restarting in %.1f s", what, pause_s, exc_info=exc)

    await retrying(
        attempt,
        what=what,
        deadline_s=None,
        retriable=any_error,  # a follower must outlive whatever failed it
        base_s=min(1.0, retry_s),
        max_s=retry_s,
        on_retry=restarting,
        sleep=until_stopped(stop),
    )


def create_app(state: ApiState | None = None) -> FastAPI:
    """The ASGI app; with ``state=None`` it builds and runs the production wiring."""
    api_state = state or build_state()
    app = FastAPI(
        title="Tradelane API",
        version=__version__,
        summary="Shipments in transit, their live feed, pledge facilities and cargo claims.",
        lifespan=_lifespan(api_state),
        responses=problem_responses(413, 429),
    )
    app.state.api = api_state
    install(app)
    app.add_middleware(BodyLimit, max_bytes=api_state.settings.max_body_bytes)
    if api_state.metrics is not None:
        app.add_middleware(RequestMetrics, metrics=api_state.metrics)
    if tracing.active():  # OTEL_* configured (cli.tracing): a span per request
        app.add_middleware(TraceRequests)
    app.include_router(routes_shipments.router)
    app.include_router(routes_finance.router)
    app.include_router(routes_seller.router)
    app.include_router(routes_seller_finance.router)
    app.include_router(routes_live.router)
    app.include_router(routes_webhooks.router)
    app.include_router(routes_shares.router)
    app.include_router(routes_exports.router)
    redact.install()
    _health_routes(app)
    _pages(app)
    return app


def _lifespan(
    api_state: ApiState,
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """Start the Kafka followers with the app and stop them, then close the clients, with it."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        followers = _start_followers(api_state)
        try:
            yield
        finally:
            await _shut_down(api_state, followers)

    return lifespan


def _start_followers(api_state: ApiState) -> list[asyncio.Task[None]]:
    """The read model's, webhook subscriptions' and shares' followers, in the order they are
    to be cancelled; ready at once when there is no read model consumer."""
    followers: list[asyncio.Task[None]] = []
    if api_state.consumer is not None:
        task = asyncio.create_task(follow(api_state.consumer, api_state.stop))
        watcher = asyncio.create_task(_mark_ready(api_state.consumer, api_state.ready))
        followers += [watcher, task]
    else:
        api_state.ready.set()
    if api_state.webhooks is not None:
        followers.append(
            asyncio.create_task(follow(api_state.webhooks, api_state.stop, what=HOOKS))
        )
    if api_state.shares is not None:
        followers.append(asyncio.create_task(follow(api_state.shares, api_state.stop, what=SHARES)))
    return followers


async def _mark_ready(consumer: ReadModelConsumer, ready: asyncio.Event) -> None:
    """Ready (``/readyz``) once the read model has caught up with Kafka."""
    await consumer.ready.wait()
    ready.set()


async def _shut_down(api_state: ApiState, followers: list[asyncio.Task[None]]) -> None:
    """Stop and await the followers, then close the clients they and the routes used."""
    api_state.stop.set()
    for t in followers:
        t.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await t
    if api_state.history is not None:
        await api_state.history.close()
    if api_state.requests is not None:
        await api_state.requests.close()
    close = getattr(api_state.finance, "close", None)
    if close is not None:
        close()


def _health_routes(app: FastAPI) -> None:
    """Liveness, readiness, the AsyncAPI document and who-am-I."""

    @app.get("/healthz", response_model=Health, tags=["health"])
    def healthz() -> Health:
        """The process is up and serving (liveness)."""
        return Health(status="ok")

    @app.get("/readyz", response_model=Health, tags=["health"], responses=problem_responses(503))
    def readyz(api: StateDep) -> Health | JSONResponse:
        """The read model has caught up with Kafka as of start-up (readiness)."""
        consumer = api.consumer
        if not api.ready.is_set():
            return problem_response(503, "the read model is still catching up", "/readyz")
        return Health(status="ready", records=consumer.stats.records if consumer else None)

    @app.get("/asyncapi.json", tags=["health"], response_model=dict[str, Any])
    def asyncapi() -> JSONResponse:
        """The AsyncAPI 3 document of every MQTT, Kafka and webhook channel, generated from the
        wire contracts (public, like the OpenAPI document: it holds no data)."""
        return JSONResponse(_asyncapi())

    @app.get("/api/v1/me", response_model=Me, tags=["health"], responses=problem_responses(401))
    def me(principal: PrincipalDep) -> Me:
        """Who the presented key belongs to."""
        return Me(name=principal.name, role=principal.role.value, party=principal.party)


def _pages(app: FastAPI) -> None:
    """The dashboard, the seller's page and their static files (mounted last)."""

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/seller", include_in_schema=False)
    def seller_page() -> FileResponse:
        """The seller's page (phone first): balance, calendar, tranches to confirm."""
        return FileResponse(STATIC / "seller.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
