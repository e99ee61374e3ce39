"""What one API process holds: the read model, the live-feed hub, the Kafka follower, the
InfluxDB reader, the finance readers and the key ring. Handlers reach it through
``request.app.state.api``; tests build one with their own parts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from api.auth import KeyRing
from api.consumer import ReadModelConsumer
from api.history import History
from api.hub import Hub
from api.models import CalendarOut, LedgerOut
from api.projection import ReadModel
from api.settings import ApiSettings
from api.webhooks.store import SubscriptionStore


class FinanceReader(Protocol):
    async def ledger(self, facility_id: str) -> LedgerOut: ...

    async def calendar(self, facility_id: str, start: datetime, days: int) -> CalendarOut: ...


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
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
