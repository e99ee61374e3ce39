"""The pledge engine's stage in the worker's pledge loop (:mod:`streams.loop`).

Inputs, keyed by facility id: the shipment events of pledged shipments, which the shipment
stage sends to ``{app}-finance-in`` (tagged ``E``), and ``finance.commands`` (repayments,
drawdown requests, day ticks, insurers' payouts to lenders) and ``finance.requests`` (the
borrower's decisions on tranches, written by the API), which this stage routes to the same
topic (tagged ``C``), so that each facility's inputs are one ordered log. A batch applies
them in order through :class:`finance.shell.PledgeShell` (the same per-message code
``tradelane bench engines`` times) on facility states held in memory, in the segmented layout
of :mod:`finance.facility_store`; a segment written several times in a batch reaches the
changelog once. Outputs: finance events → ``finance.events`` and ledger entries →
``finance.ledger`` (key facility id, in this order), then for each facility whose chain the
batch extended one signed checkpoint of its new head → ``finance.checkpoints``
(:mod:`finance.checkpoints`), all in the state partition's transaction: a chain never becomes
visible to a ``read_committed`` reader without the signature that vouches for it.

Before an input the facility's state is brought up to date with the registries held in memory
(terms, the booking of the shipment concerned, FX rates), each record once per process (the
engine ignores what it already knows, so a restart or hand-over feeds them again harmlessly).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRecord
from pydantic import BaseModel, ValidationError

from finance import pledge_engine
from finance.checkpoints import CheckpointSigner
from finance.shell import COMMAND, PledgeShell
from streams.hotpath import Memo, shipment_key
from streams.registries import Registries
from streams.store import RawView, Send, Store
from streams.tracing import PLEDGE_STEP, BatchTrace
from tradelane import deadletters
from tradelane.contracts import Envelope, Facility, FinanceCommand, FinanceRequest
from tradelane.contracts.finance import DayTick, LedgerEntry
from tradelane.topics import (
    FINANCE_CHECKPOINTS,
    FINANCE_COMMANDS,
    FINANCE_EVENTS,
    FINANCE_LEDGER,
    FINANCE_REQUESTS,
    TRACKER_DEADLETTER,
)

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
    source: str = "worker"
    """Who dead-letters what this stage cannot read or apply (``worker:{group}``)."""
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    """When a dead letter was refused (nothing else here reads a clock)."""
    signer: CheckpointSigner | None = None
    """Signs each facility's new ledger head once per batch (the worker always has one,
    :func:`finance.ledger_keys.load_signer`; ``None`` writes no checkpoints)."""

    @property
    def keyed(self) -> frozenset[str]:
        return frozenset({self.finance_in})

    @property
    def topics(self) -> tuple[str, ...]:
        return self.finance_in, FINANCE_COMMANDS.name, FINANCE_REQUESTS.name

    @property
    def stores(self) -> tuple[tuple[Store[Any], str], ...]:
        return ((self.store, self.changelog),)

    def route(self, topic: str, messages: Sequence[ConsumerRecord[bytes, bytes]]) -> list[Send]:
        """``finance.commands`` and ``finance.requests`` → the routing topic, tagged: a
        facility's inputs then form one log, so a replay after a hand-over applies them in the
        same order (consumed side by side, the topics interleaved differently on each read and
        forked a ledger). Commands are few: each is read here, and one that is unreadable (or
        has no facility key) becomes a dead letter with its place on its topic. A request is
        read as a request, so the API's principal can never pass off a repayment as one."""
        sends: list[Send] = []
        contract = FinanceRequest if topic == FINANCE_REQUESTS.name else FinanceCommand
        for m in messages:
            try:
                key = shipment_key(m.key)
                contract.model_validate_json(m.value or b"")
            except Exception as exc:  # unreadable: a dead letter, and on to the next
                self.invalid += 1
                sends.append(self._dead(topic, m.partition, m.offset, m.key, m.value, exc))
                continue
            sends.append((self.finance_in, key, COMMAND + (m.value or b""), None))
        return sends

    def apply(
        self, records: list[tuple[str, int, bytes, bytes, int]], trace: BatchTrace | None = None
    ) -> list[Send]:
        """Apply the records in order. One that cannot be read, or whose application raises,
        becomes a dead letter and the batch goes on: the shell leaves the facility's state as
        it was before that record (it writes a state back only after a whole step), and what
        this stage fed the facility for it is fed again with the next input. With ``trace``,
        each record is a span and each ledger entry a span under it."""
        sends: list[Send] = []
        heads: dict[bytes, bytes] = {}  # facility key → the last entry appended to its chain
        for record in records:
            topic, partition, key, tagged, offset = record
            try:
                if trace is None:
                    self._step(partition, key, tagged, sends, heads)
                else:
                    with trace.step(record, PLEDGE_STEP, sends):
                        self._step(partition, key, tagged, sends, heads)
            except Exception as exc:  # unreadable, or the engine failed on it: dead-lettered
                self.invalid += 1
                self.memo.forget(key.decode(errors="replace"))
                applying = not isinstance(exc, ValidationError | ValueError)
                log.warning("%s/%d@%d refused: %r", topic, partition, offset, exc)
                sends.append(self._dead(topic, partition, offset, key, tagged, exc, applying))
        sends += self._checkpoints(heads)
        sends += [(self.changelog, k, raw, p) for p, k, raw in self.store.drain()]
        return sends

    def _step(
        self,
        partition: int,
        key: bytes,
        tagged: bytes,
        sends: list[Send],
        heads: dict[bytes, bytes],
    ) -> None:
        """One input through the shell; its events and ledger entries appended to ``sends``,
        its facility's new chain head to ``heads``."""
        facility_id = shipment_key(key).decode()

        def sync(item: pledge_engine.EngineInput) -> list[Any]:
            return self._unseen(facility_id, item)

        outs = self.shell.handle(RawView(self.store, partition), key, tagged, sync)
        sends += [(DESTINATIONS[dest], k, v, None) for dest, k, v in outs]
        heads.update((k, v) for dest, k, v in outs if dest == "ledger")

    def _checkpoints(self, heads: dict[bytes, bytes]) -> list[Send]:
        """One signed checkpoint per facility head (deterministic: a re-run batch writes the
        same bytes; a batch cut elsewhere signs other heads of the same chain, all valid)."""
        if self.signer is None:
            return []
        out: list[Send] = []
        for key, raw in heads.items():
            checkpoint = self.signer.sign(LedgerEntry.model_validate_json(raw))
            out.append((FINANCE_CHECKPOINTS.name, key, checkpoint.model_dump_json().encode(), None))
        return out

    def _dead(
        self,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        exc: BaseException,
        applying: bool = False,
    ) -> Send:
        letter = deadletters.for_error(
            self.source, topic, partition, offset, key, value, self.clock(), exc, applying
        )
        return (TRACKER_DEADLETTER.name, topic.encode(), letter.model_dump_json().encode(), None)

    def drop(self, partitions: set[int]) -> None:
        self.store.drop(partitions)
        self.shell = PledgeShell()  # what it held of those facilities may be stale now
        self.memo = Memo()

    def _unseen(self, facility_id: str, item: pledge_engine.EngineInput) -> list[Any]:
        """Registry records the facility's state must know before ``item``: its terms, the
        booking of the shipment the item concerns (a day tick concerns every pledged shipment:
        the reminders it reviews are dated from their plans), and the FX rates (each once)."""
        reg = self.registries
        candidates: list[BaseModel] = []
        terms = reg.facilities.get(facility_id)
        if terms is not None:
            candidates.append(terms)
        for shipment in _concerned(item, terms):
            booking = reg.bookings.get(shipment)
            if booking is not None:
                candidates.append(booking)
        candidates += list(reg.fx.values())
        fresh = self.memo.unseen(facility_id, candidates)
        self.memo.mark(facility_id, fresh)
        return fresh


def _concerned(item: pledge_engine.EngineInput, terms: Facility | None) -> list[str]:
    """The shipments whose bookings ``item`` needs."""
    if isinstance(item, Envelope):
        return [item.subject]
    if isinstance(item, DayTick):
        return [] if terms is None else sorted(set(terms.pledged_shipments))
    shipment = getattr(item, "shipment_id", None)
    return [shipment] if isinstance(shipment, str) else []
