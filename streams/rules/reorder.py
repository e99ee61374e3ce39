"""De-duplication and per-device order: which readings of a tracker can be applied now.

Each device's readings are applied in the order of its sequence numbers, whatever order they
arrive in. A reading that arrives ahead of a gap is held until the gap fills, or until the
device has reported ``reorder_lateness_minutes`` of event time past its last applied reading
(then the gap is given up). In-order input is applied at once, so ordering costs no latency
until a device actually reorders; a device first heard at a sequence number above 0 waits the
lateness once, for readings it may have sent before.

Redelivery: a reading seen before (same device and seq) changes nothing and re-emits the
events it caused the first time (kept by :func:`remember_outputs`).
"""

from __future__ import annotations

import bisect
from datetime import timedelta

from streams.rules.settings import StreamRules
from streams.state import RECENT_OUTPUTS, RECENT_SEQS, DeviceTrack, ShipmentState
from tradelane.contracts import IngestedReading, ShipmentEvent, TrackerReading


def seen_before(track: DeviceTrack, seq: int) -> bool:
    """Whether the device's reading ``seq`` was applied or is held already (a redelivery)."""
    return seq in track.recent_seqs or any(h.seq == seq for h in track.held)


def remember(track: DeviceTrack, seq: int) -> None:
    """Keep the device's highest ``RECENT_SEQS`` sequence numbers, sorted, so what is
    remembered does not depend on the order readings arrived in."""
    bisect.insort(track.recent_seqs, seq)
    if len(track.recent_seqs) > RECENT_SEQS:
        del track.recent_seqs[0]


def remember_outputs(state: ShipmentState, key: str, events: list[ShipmentEvent]) -> None:
    """Keep the events ``key`` caused, for the last few causes, to re-emit on redelivery."""
    if not events:
        return  # a redelivered reading that caused nothing re-emits nothing either
    state.recent_outputs[key] = [e.model_dump_json() for e in events]
    while len(state.recent_outputs) > RECENT_OUTPUTS:
        del state.recent_outputs[next(iter(state.recent_outputs))]


def in_sequence(track: DeviceTrack, r: TrackerReading, rules: StreamRules) -> list[TrackerReading]:
    """The readings of one device that can be applied now, in sequence order: ``r`` if it is
    the one expected (or too late to wait for), then whatever it un-blocks; readings ahead of a
    gap wait in ``track.held`` until the gap fills or the lateness gives it up."""
    ready: list[TrackerReading] = []
    if r.seq == (0 if track.next_seq is None else track.next_seq):
        ready.append(r)
        track.next_seq = r.seq + 1
    elif track.next_seq is not None and r.seq < track.next_seq:
        ready.append(r)  # its gap was given up (or the device restarted its sequence)
    else:
        track.held.append(r)
        track.held.sort(key=lambda h: h.seq)
    newest = max([r.ts, *(h.ts for h in track.held)])
    lateness = timedelta(minutes=rules.reorder_lateness_minutes)
    while track.held:
        while track.held and track.held[0].seq == track.next_seq:
            head = track.held.pop(0)
            ready.append(head)
            track.next_seq = head.seq + 1
        if not track.held:
            break
        # a device first heard mid-sequence may have sent earlier readings: wait for them too
        seen = [t for t in (track.last_ts, *(x.ts for x in ready)) if t is not None]
        applied = max(seen, default=track.held[0].ts)
        if newest - applied <= lateness and len(track.held) <= rules.reorder_max_held:
            break
        track.next_seq = track.held[0].seq  # give the gap up
    return ready


def from_store(track: DeviceTrack, item: IngestedReading, rules: StreamRules) -> bool:
    """Whether ``item`` judges no sibling silent: it came from the tracker's store (received
    long after it was taken: a coverage gap), or the tracker flushed its store less than
    ``flush_grace_s`` ago (receive time). Trackers of one container leave a gap together, and
    the one that flushes first must not call its sibling silent while the sibling's own flush
    is a few minutes behind."""
    received = item.received_at
    if received - item.reading.ts > timedelta(seconds=rules.stored_after_s):
        if track.flushed_at is None or received > track.flushed_at:
            track.flushed_at = received
        return True
    return track.flushed_at is not None and received - track.flushed_at < timedelta(
        seconds=rules.flush_grace_s
    )
