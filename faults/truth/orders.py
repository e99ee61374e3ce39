"""Delivery orders: the same publications as the worker would meet them, each message exactly
once, with the instant it is processed.

Each order is a pure function of the stream and a seed. It decides a processing time per
message and the worker sees the messages sorted by (processing time, publish order), so a
message that is not delayed keeps its place. The processing time is also what the bridge
stamps as ``received_at``: a last will carries no time of its own, so an order that processes a
will early or late moves the silence it causes, which is how processing time leaks into
event-time results.

==============  ===============================================================================
``ideal``       event-time order, each message processed at its own time (the reference)
``published``   as the simulator publishes at 1x: coverage gaps flush their readings late
``backlog``     the worker is an hour behind on readings (and booking updates) from a moment
                shortly before the first last will (else a seeded moment); statuses and wills
                are on their own topic and are processed on time, before that hour of readings
``slow``        one tracker's messages all arrive 50 minutes late (a tracker with a sibling in
                its shipment, if any)
``late``        one reading arrives 16 minutes late (one that saw light, if any)
``flush``       one tracker (with a sibling, if any) buffers 6 hours of readings mid-voyage and
                flushes them in one burst at the reconnect, on top of the published order
==============  ===============================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from devices.plan import rng_for
from faults.truth.stream import Message, MessageKind

MINUTE = 60.0
HOUR = 3600.0
BACKLOG_S = HOUR
BACKLOG_LEAD_S = 30 * MINUTE
"""The backlog starts this long before the first last will, so the will overtakes readings."""
SLOW_S = 50 * MINUTE
LATE_S = 16 * MINUTE
FLUSH_S = 6 * HOUR

Delivery = tuple[float, Message]
"""(processing time in simulated POSIX seconds, the message)."""

Order = Callable[[Sequence[Message], int], list[Delivery]]


def _sorted(pairs: list[Delivery]) -> list[Delivery]:
    return sorted(pairs, key=lambda d: (d[0], d[1].index))


def _middle(messages: Sequence[Message], lo: float, hi: float) -> tuple[float, float]:
    """The span between the ``lo`` and ``hi`` fractions of the readings' publish times."""
    times = [m.published_at for m in messages if m.kind is MessageKind.READING]
    if not times:
        return 0.0, 0.0
    first, last = min(times), max(times)
    return first + lo * (last - first), first + hi * (last - first)


def ideal(messages: Sequence[Message], seed: int) -> list[Delivery]:
    """Event-time order: every message processed at its own time."""
    del seed
    return sorted(((m.event_at, m) for m in messages), key=lambda d: (d[0], d[1].index))


def published(messages: Sequence[Message], seed: int) -> list[Delivery]:
    """The simulator's own publish order and times (no lateness beyond store-and-forward)."""
    del seed
    return _sorted([(m.published_at, m) for m in messages])


def backlog(messages: Sequence[Message], seed: int) -> list[Delivery]:
    """An hour of readings and booking updates processed late; statuses on time."""
    wills = [m.published_at for m in messages if m.is_will]
    if wills:
        start = min(wills) - BACKLOG_LEAD_S
    else:
        lo, hi = _middle(messages, 0.2, 0.8)
        start = rng_for(seed, "truth-order", "backlog").uniform(lo, hi)
    end = start + BACKLOG_S
    pairs: list[Delivery] = []
    for m in messages:
        held = m.kind is not MessageKind.STATUS and start <= m.published_at < end
        pairs.append((end if held else m.published_at, m))
    return _sorted(pairs)


def _devices(messages: Sequence[Message]) -> list[str]:
    """Trackers that share their shipment with another (else all): a lone tracker's lateness
    moves its whole shipment's event time together, which event-time rules absorb; a sibling's
    readings are what judge a late tracker silent or a late reading out of place."""
    trackers: dict[str, set[str]] = {}
    for m in messages:
        if m.device_id is not None:
            trackers.setdefault(m.shipment_id, set()).add(m.device_id)
    shared = sorted(d for own in trackers.values() if len(own) > 1 for d in own)
    return shared or sorted(d for own in trackers.values() for d in own)


def slow(messages: Sequence[Message], seed: int) -> list[Delivery]:
    """One tracker (drawn from the seed) 50 minutes slow on everything it publishes."""
    devices = _devices(messages)
    chosen = rng_for(seed, "truth-order", "slow").choice(devices) if devices else None
    return _sorted(
        [(m.published_at + (SLOW_S if m.device_id == chosen else 0.0), m) for m in messages]
    )


def late(messages: Sequence[Message], seed: int) -> list[Delivery]:
    """One reading (drawn from the seed, mid-run) 16 minutes late: one that saw light (doors
    open at a dock or a break-in, what tamper rules judge) if any does, else any."""
    lo, hi = _middle(messages, 0.1, 0.9)
    mid = [
        m
        for m in messages
        if m.reading is not None and m.kind is MessageKind.READING and lo <= m.published_at <= hi
    ]
    lit = [m.index for m in mid if m.reading is not None and (m.reading.light_lux or 0) > 0]
    candidates = lit or [m.index for m in mid]
    chosen = rng_for(seed, "truth-order", "late").choice(candidates) if candidates else -1
    return _sorted([(m.published_at + (LATE_S if m.index == chosen else 0.0), m) for m in messages])


def flush(messages: Sequence[Message], seed: int) -> list[Delivery]:
    """One tracker out of reach for 6 hours mid-run: its readings arrive in one burst at the
    end of the window, before anything it publishes afterwards."""
    rng = rng_for(seed, "truth-order", "flush")
    devices = _devices(messages)
    chosen = rng.choice(devices) if devices else None
    own = [m.published_at for m in messages if m.device_id == chosen and m.reading is not None]
    start = (
        rng.uniform(min(own) + 0.2 * (max(own) - min(own)), min(own) + 0.8 * (max(own) - min(own)))
        if own
        else 0.0
    )
    end = start + FLUSH_S
    pairs: list[Delivery] = []
    for m in messages:
        held = m.device_id == chosen and m.reading is not None and start <= m.published_at < end
        pairs.append((end if held else m.published_at, m))
    return _sorted(pairs)


ORDERS: dict[str, Order] = {
    "ideal": ideal,
    "published": published,
    "backlog": backlog,
    "slow": slow,
    "late": late,
    "flush": flush,
}
