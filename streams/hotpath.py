"""The worker's hot path: one batch of a shipment partition's inputs → state, events, claims.

The shipment agent (:mod:`streams.app`) takes its internal topic in batches and hands each batch
here. For every input this applies :func:`streams.topology.apply_to_shipment` to states held
in memory (:class:`streams.store.Store`: shipment state and insurance state, both keyed by
shipment id, in the input's partition), and returns what to produce, in order:

- the collateral register's decisions on the shipment's pledges → the pledge engine's routing
  topic, keyed by each facility concerned, before anything else the input caused (see
  :meth:`HotPath._register`);
- shipment events → ``shipments.events``; claim events → ``insurance.claims``; lender payouts →
  ``finance.commands``; shipment events of pledged shipments → the pledge engine's routing topic;
- then one changelog record per shipment whose state the batch changed (coalesced: a shipment
  with twenty readings in the batch is serialised once).

Why it is fast: no per-record awaits between inputs, no state parse (states stay parsed in
memory) and at most one serialisation per shipment per batch, and the insurance engine runs in
the same step as the shipment core instead of one Kafka hop later.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRecord
from pydantic import BaseModel

from finance.collateral_register import Register, decide, pledges_of
from finance.insurance.state import InsuranceState
from finance.shell import EVENT, PLEDGE
from streams.core import new_state
from streams.registries import Registries
from streams.rules import DEFAULT_RULES, StreamRules
from streams.stage import RecordFailedError
from streams.state import ShipmentState
from streams.store import Send, Store
from streams.topology import Context, ShipmentInput, apply_to_shipment
from streams.tracing import SHIPMENT_STEP, BatchTrace
from tradelane import deadletters
from tradelane.contracts import (
    ClaimDecision,
    IngestedReading,
    IngestedStatus,
    ShipmentBooking,
)
from tradelane.deadletters import InvalidKeyError
from tradelane.topics import (
    FINANCE_COMMANDS,
    INSURANCE_CLAIMS,
    INSURANCE_COMMANDS,
    SHIPMENTS_EVENTS,
    TRACKER_DEADLETTER,
    TRACKER_READINGS,
    TRACKER_STATUS,
)

BOOKING, READING, STATUS, DECISION = b"B", b"R", b"S", b"D"
"""First byte of a record on the shipment topic: what the rest of it is."""


def shipment_key(key: bytes | None) -> bytes:
    """A shipment topic's key as it is used (a shipment id, UTF-8); raises otherwise."""
    if not key:
        raise InvalidKeyError("the record has no key (a shipment id)")
    device_key(key)
    return key


def device_key(key: bytes | None) -> str:
    """A tracker topic's key as a device id; raises for a key that is no text."""
    try:
        return key.decode() if key else ""
    except UnicodeDecodeError as exc:
        raise InvalidKeyError(f"the record's key is not UTF-8: {exc}") from exc


def decode(value: bytes) -> ShipmentInput:
    """A shipment-topic value: a one-byte tag, then the record's JSON."""
    tag, body = value[:1], value[1:]
    if tag == BOOKING:
        return ShipmentBooking.model_validate_json(body)
    if tag == STATUS:
        return IngestedStatus.model_validate_json(body)
    if tag == DECISION:
        return ClaimDecision.model_validate_json(body)
    return IngestedReading.model_validate_json(body)


class Memo:
    """Which registry records this process already fed an engine state (a shipment's insurance
    state, a facility's pledge state), so each is applied once per process (after a restart
    or a hand-over they are fed again, and the engine ignores what it knows). Registries
    replace a record object when a new version arrives, so identity tells a new version from
    one already fed."""

    def __init__(self) -> None:
        self._fed: dict[tuple[str, str, str], BaseModel] = {}
        self._current: dict[str, int] = {}

    def unseen(self, key: str, records: Iterable[BaseModel]) -> list[BaseModel]:
        return [r for r in records if self._fed.get(_slot(key, r)) is not r]

    def is_current(self, key: str, generation: int) -> bool:
        """Whether ``key`` was fed everything the registries held at ``generation`` (then
        nothing can be unseen, and the per-record check is skipped: it cost 6 % of a worker)."""
        return self._current.get(key) == generation

    def current(self, key: str, generation: int) -> None:
        self._current[key] = generation

    def mark(self, key: str, records: Iterable[BaseModel]) -> None:
        for r in records:
            self._fed[_slot(key, r)] = r

    def forget(self, key: str) -> None:
        """``key``'s state lost what it was fed (a step failed and was not kept): feed again."""
        self._current.pop(key, None)
        for slot in [s for s in self._fed if s[0] == key]:
            del self._fed[slot]


def _slot(key: str, record: BaseModel) -> tuple[str, str, str]:
    """A record's place in the memo: its type and id (an FX rate by its currency pair)."""
    for name in ("facility_id", "policy_id", "shipment_id"):
        value = getattr(record, name, None)
        if isinstance(value, str):
            return key, type(record).__name__, value
    return (
        key,
        type(record).__name__,
        f"{getattr(record, 'base', '')}/{getattr(record, 'quote', '')}",
    )


def insurance_records(registries: Registries, shipment: str) -> list[BaseModel]:
    """Registry records a shipment's insurance state must know: its booking, the facilities
    it is pledged to (a payout goes to the lender) and its policies."""
    records: list[BaseModel] = []
    booking = registries.bookings.get(shipment)
    if booking is not None:
        records.append(booking)
    for facility_id in sorted(registries.pledges.get(shipment, ())):
        facility = registries.facilities.get(facility_id)
        if facility is not None:
            records.append(facility)
    records += [p for _, p in sorted(registries.policies.get(shipment, {}).items())]
    return records


@dataclass
class BatchCounts:
    readings: int = 0
    unrouted: int = 0
    inputs: int = 0
    events: int = 0
    invalid: int = 0
    claims: int = 0
    states_written: int = 0


@dataclass
class HotPath:
    """The shipment partitions this worker owns, and how a batch of their inputs is applied."""

    registries: Registries
    by_shipment: str
    """The internal topic that carries every input of a shipment to its partition."""
    changelogs: tuple[str, str]
    """The compacted changelog topics of the shipment and the insurance states."""
    finance_topic: str | None
    """The pledge engine's routing topic, or None when the engines do not run."""
    rules: StreamRules = DEFAULT_RULES
    shipments: Store[ShipmentState] = field(
        default_factory=lambda: Store(
            ShipmentState.model_validate_json, lambda s: s.model_dump_json().encode()
        )
    )
    insurance: Store[InsuranceState] = field(
        default_factory=lambda: Store(
            InsuranceState.model_validate_json, lambda s: s.model_dump_json().encode()
        )
    )
    register_changelog: str | None = None
    """The collateral registers' changelog; None: no register (it runs only with the engines,
    ``finance_topic`` set)."""
    registers: Store[Register] = field(
        default_factory=lambda: Store(
            Register.model_validate_json, lambda s: s.model_dump_json().encode()
        )
    )
    """Each shipment's collateral register: which facility's pledge secures what of its cargo
    (:mod:`finance.collateral_register`), keyed by shipment id in the shipment's partition."""
    memo: Memo = field(default_factory=Memo)
    registered: dict[str, int] = field(default_factory=dict)
    """Shipment id → the registries' generation its register last saw (nothing can have
    changed for it since: the check is skipped)."""
    totals: BatchCounts = field(default_factory=BatchCounts)
    source: str = "worker"
    """Who dead-letters what this stage cannot read (``worker:{group}``)."""
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    """When a dead letter was refused (nothing else here reads a clock)."""

    @property
    def keyed(self) -> frozenset[str]:
        return frozenset({self.by_shipment})

    @property
    def stores(self) -> tuple[tuple[Store[Any], str], ...]:
        stores: tuple[tuple[Store[Any], str], ...] = (
            (self.shipments, self.changelogs[0]),
            (self.insurance, self.changelogs[1]),
        )
        if self._registering:
            assert self.register_changelog is not None
            stores += ((self.registers, self.register_changelog),)
        return stores

    @property
    def _registering(self) -> bool:
        return self.finance_topic is not None and self.register_changelog is not None

    @property
    def topics(self) -> tuple[str, ...]:
        """What the shipment loop consumes: the keyed topic and what is routed to it."""
        inputs = (TRACKER_READINGS.name, TRACKER_STATUS.name, self.by_shipment)
        return inputs + ((INSURANCE_COMMANDS.name,) if self.finance_topic else ())

    def apply(
        self, records: list[tuple[str, int, bytes, bytes, int]], trace: BatchTrace | None = None
    ) -> list[Send]:
        """Apply (topic, partition, key, value, offset) records in order; return what to
        produce. A record that cannot be decoded, or whose key is no shipment id, becomes a
        dead letter among the sends; one whose application raises raises
        :class:`streams.loop.RecordFailedError` (the states it touched are dropped, to be
        recovered from their changelogs)."""
        sends: list[Send] = []
        try:
            for index, record in enumerate(records):
                topic, partition, key, value, offset = record
                self.totals.inputs += 1
                try:
                    item = decode(value)
                    shipment_key(key)
                except Exception as exc:  # unreadable: a dead letter, and on to the next
                    self.totals.invalid += 1
                    sends.append(self._dead(topic, partition, offset, key, value, exc))
                    continue
                try:
                    if trace is None:
                        self._apply(partition, key, item, sends)
                    else:
                        with trace.step(record, SHIPMENT_STEP, sends):
                            self._apply(partition, key, item, sends)
                except Exception as exc:  # a rule failed: the loop restarts, then dead-letters it
                    raise RecordFailedError(index, exc) from exc
        except BaseException:
            self.shipments.discard_changes()
            self.insurance.discard_changes()
            self.registers.discard_changes()
            self.registered.clear()  # what it remembered may have been of the dropped states
            raise
        sends += self._changelog()
        return sends

    def apply_batch(self, records: Iterable[tuple[int, bytes, bytes]]) -> list[Send]:
        """Apply (partition, key, value) records of the shipment topic in order (offsets:
        their positions in ``records``); return what to produce."""
        return self.apply([(self.by_shipment, p, k, v, i) for i, (p, k, v) in enumerate(records)])

    def route(self, topic: str, messages: Sequence[ConsumerRecord[bytes, bytes]]) -> list[Send]:
        """Readings, statuses and insurers' decisions → the shipment topic, keyed by shipment.
        A record that can be routed nowhere because it is unreadable (no key, or a key or
        value that is no text of ours) becomes a dead letter."""
        target = self.by_shipment
        sends: list[Send] = []
        for m in messages:
            try:
                routed = self._route_one(topic, m)
            except Exception as exc:  # unroutable: a dead letter, and on to the next
                self.totals.invalid += 1
                sends.append(self._dead(topic, m.partition, m.offset, m.key, m.value, exc))
                continue
            if routed is not None:
                sends.append((target, routed[0], routed[1], None))
        return sends

    def _route_one(self, topic: str, m: ConsumerRecord[bytes, bytes]) -> tuple[bytes, bytes] | None:
        """(shipment key, tagged value) of one routed record; None if no shipment of this
        worker's registries is concerned (an unbooked device's reading or status)."""
        if topic == INSURANCE_COMMANDS.name:
            key = shipment_key(m.key)
            ClaimDecision.model_validate_json(m.value or b"")  # an insurer's, rare: checked here
            return key, DECISION + (m.value or b"")
        if topic == TRACKER_STATUS.name:
            shipment = self.registries.devices.get(device_key(m.key))
            if shipment is None:
                IngestedStatus.model_validate_json(m.value or b"")  # unreadable, or unbooked
                return None
            return shipment.encode(), STATUS + (m.value or b"")
        shipment_id = self._shipment_of(m.key, m.value or b"")
        return None if shipment_id is None else (shipment_id, READING + (m.value or b""))

    def _shipment_of(self, key: bytes | None, value: bytes) -> bytes | None:
        """The shipment a reading belongs to: by its key (the device id), and by the reading
        itself only when the key names no booked device; None when no booking names it.
        Raises when the key names no booked device and the value is no reading."""
        self.totals.readings += 1
        devices = self.registries.devices
        shipment = devices.get(device_key(key)) if key else None
        if shipment is None:
            shipment = devices.get(IngestedReading.model_validate_json(value).reading.device_id)
        if shipment is None:
            self.totals.unrouted += 1
            return None
        return shipment.encode()

    def _dead(
        self,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        exc: BaseException,
    ) -> Send:
        letter = deadletters.for_error(
            self.source, topic, partition, offset, key, value, self.clock(), exc
        )
        return (TRACKER_DEADLETTER.name, topic.encode(), letter.model_dump_json().encode(), None)

    def _register(self, partition: int, key: bytes, item: ShipmentInput, sends: list[Send]) -> None:
        """Bring the shipment's collateral register up to date with the pledges the registries
        hold now (every facility's, the one place that sees them all: the register is keyed by
        shipment) and send each decision to its facility's partition of the routing topic,
        ahead of the shipment events of the same input, so a facility never sees an event of
        a shipment before the decision on its pledge. Decided at a reading or a status with
        an event time (that time is the decision's); the register is written with the
        shipment's changelog in the batch's transaction."""
        at = _event_time(item)
        shipment = key.decode()
        reg = self.registries
        if at is None or self.registered.get(shipment) == reg.generation:
            return
        register = self.registers.get(partition, key)
        facilities = reg.pledges.get(shipment, ())
        if register is None and not facilities:
            self.registered[shipment] = reg.generation
            return
        terms = {f: reg.facilities[f] for f in sorted(facilities) if f in reg.facilities}
        booking = reg.bookings.get(shipment)
        cargo = booking.cargo.value if booking is not None else None
        current = register or Register(shipment_id=shipment)
        after, decisions = decide(current, pledges_of(terms, shipment), cargo, at)
        if after is not register:
            self.registers.put(partition, key, after)
        assert self.finance_topic is not None
        for decision in decisions:
            value = PLEDGE + decision.model_dump_json().encode()
            sends.append((self.finance_topic, decision.facility_id.encode(), value, None))
        self.registered[shipment] = reg.generation

    def _apply(self, partition: int, key: bytes, item: ShipmentInput, sends: list[Send]) -> None:
        shipment = key.decode()
        if self._registering:
            self._register(partition, key, item, sends)
        state = self.shipments.get(partition, key) or new_state(shipment)
        insurance = self.insurance.get(partition, key)
        context, priors = self._context(shipment, item)
        new_insurance, effects = apply_to_shipment(state, insurance, item, context, self.rules)
        if not isinstance(item, ClaimDecision):
            self.shipments.put(partition, key, state)
        if new_insurance is not None and new_insurance is not insurance:
            self.insurance.put(partition, key, new_insurance)
        if effects.priors_applied:
            self.memo.mark(shipment, priors)
            self.memo.current(shipment, self.registries.generation)
        for event in effects.events:
            sends.append((SHIPMENTS_EVENTS.name, key, event.model_dump_json().encode(), None))
        for claim in effects.claims:
            sends.append((INSURANCE_CLAIMS.name, claim.subject.encode(), _json(claim), None))
        for command in effects.commands:
            sends.append((FINANCE_COMMANDS.name, command.subject.encode(), _json(command), None))
        if self.finance_topic is not None:
            for facility, event in effects.to_facilities:
                sends.append((self.finance_topic, facility.encode(), EVENT + _json(event), None))
        self.totals.events += len(effects.events)
        self.totals.claims += len(effects.claims)

    def _context(self, shipment: str, item: ShipmentInput) -> tuple[Context, list[BaseModel]]:
        reg = self.registries
        insured = shipment in reg.policies and self.finance_topic is not None
        priors: list[BaseModel] = []
        if (insured or isinstance(item, ClaimDecision)) and not self.memo.is_current(
            shipment, reg.generation
        ):
            priors = self.memo.unseen(shipment, insurance_records(reg, shipment))
            if not priors:
                self.memo.current(shipment, reg.generation)
        pledged = sorted(reg.pledges.get(shipment, ())) if self.finance_topic else []
        return Context(reg.bookings.get(shipment), pledged, insured, priors), priors

    def _changelog(self) -> list[Send]:
        sends: list[Send] = []
        for store, topic in self.stores:
            for partition, key, raw in store.drain():
                sends.append((topic, key, raw, partition))
                self.totals.states_written += 1
        return sends

    def drop(self, partitions: set[int]) -> None:
        """Partitions revoked: their states (and what this process fed them) are forgotten."""
        gone = set(partitions)
        self.shipments.drop(gone)
        self.insurance.drop(gone)
        self.registers.drop(gone)
        self.registered = {}
        self.memo = Memo()  # whoever wrote them next fed them too; feeding again is harmless


def _event_time(item: ShipmentInput) -> datetime | None:
    """The event time an input carries (a reading's, a status's when it has one)."""
    if isinstance(item, IngestedReading):
        return item.reading.ts
    if isinstance(item, IngestedStatus):
        return item.status.ts
    return None


def _json(model: BaseModel) -> bytes:
    return model.model_dump_json().encode()
