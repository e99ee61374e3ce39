"""The shape every device adapter has, and the refusal it raises."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from tradelane.contracts import DeadLetterReason, SourceFormat, TrackerReading
from tradelane.errors import ContractError


class Rejected(ContractError):  # noqa: N818 - a refusal: the payload breaks its contract
    """A message that cannot become a reading; carries the dead-letter reason code."""

    def __init__(self, reason: DeadLetterReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class Adapter(Protocol):
    """Maps messages of one device ecosystem onto canonical readings."""

    source_format: SourceFormat

    def matches(self, topic: str) -> bool:
        """True if this adapter owns messages on ``topic``."""
        ...

    def subscriptions(self) -> list[str]:
        """MQTT topic filters that deliver this adapter's messages."""
        ...

    def decode(self, topic: str, payload: bytes, received_at: datetime) -> TrackerReading:
        """One message → one reading; raise :class:`Rejected` with a reason otherwise."""
        ...
