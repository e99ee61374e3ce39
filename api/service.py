"""What one API process holds: the read model, the live-feed hub, the Kafka follower, the
InfluxDB reader, the finance readers, the key ring and the rate limits. Handlers reach it through
``request.app.state.api``; tests build one with their own parts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol

from api.auth import KeyRing
from api.consumer import ReadModelConsumer
from api.history import History
from api.hub import Hub
from api.metrics import ApiMetrics
from api.models import LedgerOut
from api.projection import ReadModel
from api.ratelimit import Limit, RateLimiter
from api.requests_out import RequestSink
from api.settings import ApiSettings
from api.shares.store import ShareStore
from finance.ledger_store import StoredLedger
from webhooks.store import SubscriptionStore


class FinanceReader(Protocol):
    """What the API reads from Kafka on request: a facility's whole ledger (the calendar is
    projected from the read model, see api/finance_reads.py)."""

    async def ledger(self, facility_id: str) -> LedgerOut: ...

    async def stored(self, facility_id: str) -> StoredLedger:
        """The stored entries and signed checkpoints, unverified (exports)."""
        ...


@dataclass
class ApiState:
    settings: ApiSettings
    keys: KeyRing
    model: ReadModel
    hub: Hub
    history: History | None
    finance: FinanceReader | None
    consumer: ReadModelConsumer | None = None
    webhooks: SubscriptionStore | None = None
    shares: ShareStore | None = None
    requests: RequestSink | None = None
    """Where borrowers' and banks' requests go (``finance.requests``); None: refused (503)."""
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    loopback: bool = False
    """The server binds a loopback address only: ``?key=`` is accepted (for the dashboard's
    live feed), and so are the demo keys. False unless the server says so."""
    key_limits: RateLimiter | None = None
    address_limits: RateLimiter | None = None
    metrics: ApiMetrics | None = None
    """The process's series (made with the state when not given); `tradelane api` serves them
    on their own port."""

    def __post_init__(self) -> None:
        s = self.settings
        if self.metrics is None:
            self.metrics = ApiMetrics(self.hub)
        if self.key_limits is None:
            self.key_limits = RateLimiter(Limit(s.rate_per_key, s.burst_per_key))
        if self.address_limits is None:
            self.address_limits = RateLimiter(
                Limit(s.rate_unauthenticated, s.burst_unauthenticated)
            )
