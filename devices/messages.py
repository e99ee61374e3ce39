"""What the pure fleet engine hands to the publisher: messages and device lifecycle events.

The engine never touches a socket; it returns :class:`Outgoing` items in simulated-time order
and the publisher turns them into MQTT publishes (or, for ``DIED``/``RETIRED``, into a dropped
connection or a clean goodbye).
"""

from __future__ import annotations

from enum import IntEnum


class Kind(IntEnum):
    READING = 0
    """A valid reading, first delivery: counts towards "sent" once PUBACKed."""
    DUPLICATE = 1
    """The same payload again (fault knob)."""
    MALFORMED = 2
    """Deliberately invalid payload (fault knob), counted separately."""
    STATUS = 3
    """A retained :class:`DeviceStatus` on the device's status topic."""
    DIED = 4
    """The device stops abruptly now: its connection drops without DISCONNECT (last will)."""
    RETIRED = 5
    """The tracker was removed after delivery: it says ``offline`` and disconnects cleanly."""


class Outgoing:
    """One item for the publisher. ``seq`` is the reading's sequence number, -1 if none."""

    __slots__ = ("device", "kind", "payload", "retain", "seq", "topic")

    def __init__(
        self, kind: Kind, device: int, seq: int, topic: str, payload: bytes, retain: bool = False
    ) -> None:
        self.kind = kind
        self.device = device
        self.seq = seq
        self.topic = topic
        self.payload = payload
        self.retain = retain

    def __repr__(self) -> str:
        size = len(self.payload)
        return f"Outgoing({self.kind.name}, dev={self.device}, seq={self.seq}, {size}B)"
