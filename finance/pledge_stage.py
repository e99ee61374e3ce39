"""The pledge engine's stage in the worker's pledge loop (:mod:`streams.loop`).

Inputs, keyed by facility id: the shipment events of pledged shipments, which the shipment
stage sends to ``{app}-finance-in`` (tagged ``E``), and ``finance.commands`` (repayments,
drawdown requests, day ticks, insurers' payouts to lenders), which this stage routes to the
same topic (tagged ``C``), so that each facility's inputs are one ordered log. A batch applies
them in order through :class:`finance.shell.PledgeShell` (the same per-message code
``tradelane bench engines`` times) on facility states held in memory, in the segmented layout
of :mod:`finance.facility_store`; a segment written several times in a batch reaches the
changelog once. Outputs: finance events → ``finance.events`` and ledger entries →
``finance.ledger`` (key facility id, in this order).

Before an input the facility's state is brought up to date with the registries held in memory
(terms, the booking of the shipment concerned, FX rates), each record once per process (the
engine ignores what it already knows, so a restart or hand-over feeds them again harmlessly).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import ConsumerRecord
from pydantic import BaseModel, ValidationError

from finance import pledge_engine
from finance.shell import COMMAND, PledgeShell
from streams.hotpath import Memo
from streams.registries import Registries
from streams.store import RawView, Send, Store
from tradelane.contracts import Envelope
from tradelane.topics import FINANCE_COMMANDS, FINANCE_EVENTS, FINANCE_LEDGER

log = logging.getLogger(__name__)

DESTINATIONS = {"events": FINANCE_EVENTS.name, "ledger": FINANCE_LEDGER.name}


def _raw(value: bytes) -> bytes:
    return value


@dataclass
class PledgeStage:
    registries: Registries
    finance_in: str
    changelog: str
    store: Store[bytes] = field(default_factory=lambda: Store(_raw, _raw))
    shell: PledgeShell = field(default_factory=PledgeShell)
    memo: Memo = field(default_factory=Memo)
    invalid: int = 0

    @property
    def keyed(self) -> frozenset[str]:
        return frozenset({self.finance_in})

    @property
    def topics(self) -> tuple[str, ...]:
        return self.finance_in, FINANCE_COMMANDS.name

    @property
    def stores(self) -> tuple[tuple[Store[Any], str], ...]:
        return ((self.store, self.changelog),)

    def route(self, topic: str, messages: Sequence[ConsumerRecord[bytes, bytes]]) -> list[Send]:
        """``finance.commands`` → the routing topic, tagged: a facility's inputs then form one
        log, so a replay after a hand-over applies them in the same order (consumed side by
        side, the two topics interleaved differently on each read and forked a ledger)."""
        return [
            (self.finance_in, m.key, COMMAND + m.value, None) for m in messages if m.key and m.value
        ]

    def apply(self, records: list[tuple[str, int, bytes, bytes]]) -> list[Send]:
        sends: list[Send] = []
        for _topic, partition, key, tagged in records:
            facility_id = key.decode()

            def sync(item: pledge_engine.EngineInput, facility_id: str = facility_id) -> list[Any]:
                return self._unseen(facility_id, item)

            try:
                outs = self.shell.handle(RawView(self.store, partition), key, tagged, sync)
            except ValidationError as exc:  # not an input of this engine: counted, skipped
                self.invalid += 1
                log.warning("facility %s: unreadable input skipped: %s", facility_id, exc)
                continue
            sends += [(DESTINATIONS[dest], k, v, None) for dest, k, v in outs]
        sends += [(self.changelog, k, raw, p) for p, k, raw in self.store.drain()]
        return sends

    def drop(self, partitions: set[int]) -> None:
        self.store.drop(partitions)
        self.shell = PledgeShell()  # what it held of those facilities may be stale now
        self.memo = Memo()

    def _unseen(self, facility_id: str, item: pledge_engine.EngineInput) -> list[Any]:
        """Registry records the facility's state must know before ``item``: its terms, the
        booking of the shipment the item concerns, and the FX rates (each once)."""
        reg = self.registries
        candidates: list[BaseModel] = []
        terms = reg.facilities.get(facility_id)
        if terms is not None:
            candidates.append(terms)
        shipment = item.subject if isinstance(item, Envelope) else None
        booking = reg.bookings.get(shipment) if shipment else None
        if booking is not None:
            candidates.append(booking)
        candidates += list(reg.fx.values())
        fresh = self.memo.unseen(facility_id, candidates)
        self.memo.mark(facility_id, fresh)
        return fresh
