"""Delivery faults: duplicates, reordering, malformed payloads and clock skew.

Real fleets deliver readings twice (a PUBACK lost on a flaky link), out of order (a modem
flushing two queues), garbled (firmware bugs, truncated frames) and stamped by clocks that
drift. These knobs reproduce that on purpose, so the bridge's de-duplication, ordering and
dead-letter paths meet it in tests.

Faults act on *delivery* only and draw from each device's own fault stream: turning a knob on
never changes which readings a device measures, only how they reach the broker. Malformed
payloads are extra messages (the real reading is still delivered), so every reading stays
accountable by (device_id, seq).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from devices.messages import Kind, Outgoing


@dataclass(frozen=True, slots=True)
class FaultKnobs:
    duplicate_rate: float = 0.0
    """Share of readings delivered twice (half right away, half a few readings later)."""
    out_of_order_rate: float = 0.0
    """Share of readings held back and delivered after the next 1-3 readings."""
    malformed_rate: float = 0.0
    """Extra undecodable or schema-violating payloads, per reading, on the readings topic."""
    clock_skew_s: float = 0.0
    """Each device's clock is off by a constant drawn from [-skew, +skew] seconds."""

    def __post_init__(self) -> None:
        for name in ("duplicate_rate", "out_of_order_rate", "malformed_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        if self.clock_skew_s < 0:
            raise ValueError("clock_skew_s must be >= 0")

    @property
    def any(self) -> bool:
        return bool(self.duplicate_rate or self.out_of_order_rate or self.malformed_rate)


MALFORMED_KINDS = ("truncated", "binary", "schema", "not-an-object")


def malformed_payload(rng: random.Random, valid: bytes) -> tuple[str, bytes]:
    """A payload that must fail :class:`TrackerReading` validation, and what is wrong with it."""
    kind = rng.choice(MALFORMED_KINDS)
    if kind == "truncated":
        return kind, valid[: rng.randint(1, max(1, len(valid) - 2))]
    if kind == "binary":
        return kind, b"\xff\xfe" + bytes(rng.getrandbits(8) for _ in range(rng.randint(4, 40)))
    if kind == "schema":
        doc = json.loads(valid)
        field = rng.choice(("battery_pct", "seq", "ts", "device_id"))
        if field == "battery_pct":
            doc[field] = 100.0 + rng.uniform(1.0, 500.0)
        elif field == "seq":
            doc[field] = -rng.randint(1, 1000)
        elif field == "ts":
            doc[field] = "yesterday"
        else:
            del doc[field]
        return kind, json.dumps(doc, separators=(",", ":")).encode()
    return kind, rng.choice((b"[]", b"null", b"42", b'"reading"'))


class DeliveryFaults:
    """One device's delivery faults; :meth:`deliver` is called for every reading it sends."""

    __slots__ = ("_active", "_held", "duplicated", "knobs", "malformed", "reordered", "rng")

    def __init__(self, knobs: FaultKnobs, rng: random.Random) -> None:
        self.knobs = knobs
        self._active = knobs.any
        self.rng = rng
        self._held: list[tuple[int, Outgoing]] = []  # (readings to wait, message)
        self.duplicated = 0
        self.reordered = 0
        self.malformed = 0

    def deliver(self, msg: Outgoing, out: list[Outgoing]) -> None:
        if not self._active:
            out.append(msg)
            return
        knobs, rng = self.knobs, self.rng
        released = self._tick()
        if knobs.malformed_rate and rng.random() < knobs.malformed_rate:
            _, bad = malformed_payload(rng, msg.payload)
            out.append(Outgoing(Kind.MALFORMED, msg.device, -1, msg.topic, bad))
            self.malformed += 1
        if knobs.out_of_order_rate and rng.random() < knobs.out_of_order_rate:
            self._held.append((rng.randint(1, 3), msg))
            self.reordered += 1
        else:
            out.append(msg)
        if knobs.duplicate_rate and rng.random() < knobs.duplicate_rate:
            dup = Outgoing(Kind.DUPLICATE, msg.device, msg.seq, msg.topic, msg.payload)
            self.duplicated += 1
            if rng.random() < 0.5:
                out.append(dup)
            else:
                self._held.append((rng.randint(1, 4), dup))
        out.extend(released)

    def _tick(self) -> list[Outgoing]:
        if not self._held:
            return []
        released = [msg for countdown, msg in self._held if countdown <= 1]
        self._held = [(countdown - 1, msg) for countdown, msg in self._held if countdown > 1]
        return released

    def release_all(self, out: list[Outgoing]) -> None:
        """Deliver everything still held (the run is ending)."""
        out.extend(msg for _, msg in self._held)
        self._held = []

    def drop_all(self) -> int:
        """The device died: what it held is lost. Returns how many readings that was."""
        lost = sum(1 for _, msg in self._held if msg.kind is Kind.READING)
        self._held = []
        return lost
