"""What a partition loop runs: the :class:`Stage` interface, the records it applies, and the
error by which it says a record could not be applied.

Its own module so the loop (:mod:`streams.loop`), the partition ownership it consults
(:mod:`streams.ownership`) and the stages themselves (:mod:`streams.hotpath`,
:mod:`streams.pledge_stage`) all depend on it, and not on each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from aiokafka import ConsumerRecord

from streams.store import Send, Store
from tradelane.errors import TradelaneError

if TYPE_CHECKING:  # streams.tracing names the records defined here
    from streams.tracing import BatchTrace

Message: TypeAlias = "ConsumerRecord[bytes, bytes]"
Record = tuple[str, int, bytes, bytes, int]
"""(topic, partition, key, value, offset) of a record a stage applies."""


class RecordFailedError(TradelaneError):
    """Applying the record at ``index`` of a batch raised ``cause``: a rule or engine failed on
    a well-formed input. The stage cannot undo what the half-applied record did to the states
    it holds (they are mutated in place), so the loop restarts from its last commit with its
    states reloaded, and when the record comes again it is dead-lettered instead of applied:
    in the partition's transaction, with its offset, so exactly once."""

    def __init__(self, index: int, cause: BaseException) -> None:
        super().__init__(f"record {index} of the batch failed: {cause!r}")
        self.index, self.cause = index, cause


class Stage(Protocol):
    """What a loop runs: which input topics carry the stage's state partitions, how the
    others are routed to them, and how a batch is applied (pure, no I/O)."""

    @property
    def keyed(self) -> frozenset[str]:
        """Input topics whose partition is the state's partition (co-partitioned, same key)."""
        ...

    @property
    def stores(self) -> tuple[tuple[Store[Any], str], ...]:
        """Each state store with its changelog topic."""
        ...

    def route(self, topic: str, messages: Sequence[Message]) -> list[Send]:
        """What the records of a routed (not keyed) input topic become."""
        ...

    def apply(self, records: list[Record], trace: BatchTrace | None = None) -> list[Send]:
        """Apply a batch of keyed records in order; what to produce, changelogs last. A record
        that cannot be decoded becomes a dead letter among the sends; one whose application
        raised and left states it cannot restore raises :class:`RecordFailedError`. With
        ``trace`` (tracing on), each record is applied in a span of its own
        (:meth:`streams.tracing.BatchTrace.step`)."""
        ...

    def drop(self, partitions: set[int]) -> None:
        """Forget the states of ``partitions``."""
        ...
