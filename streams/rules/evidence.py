"""The evidence events carry: references to the readings that prove them, with a digest and
summary figures, so a claim or a tranche can be checked without the raw stream."""

from __future__ import annotations

from tradelane.contracts import Evidence, ReadingRef, TrackerReading
from tradelane.evidence import digest


def ref(r: TrackerReading) -> ReadingRef:
    """A reading's reference, with its GNSS quality (what a data-quality gate looks at)."""
    return ReadingRef(
        device_id=r.device_id,
        seq=r.seq,
        ts=r.ts,
        fix=r.gps.fix if r.gps else None,
        hdop=r.gps.hdop if r.gps else None,
    )


def evidence(readings: list[TrackerReading], value: str | None = None) -> Evidence:
    """``readings`` in canonical order (time, device, seq) with their digest, and the minimum,
    maximum and mean of the field ``value`` where they have it."""
    values = [getattr(r, value) for r in readings if value and getattr(r, value) is not None]
    ordered = sorted(readings, key=lambda x: (x.ts, x.device_id, x.seq))
    return Evidence(
        readings=[ref(x) for x in ordered],
        digest=digest(ordered),
        count=len(ordered),
        first_ts=ordered[0].ts if ordered else None,
        last_ts=ordered[-1].ts if ordered else None,
        minimum=min(values) if values else None,
        maximum=max(values) if values else None,
        mean=sum(values) / len(values) if values else None,
    )
