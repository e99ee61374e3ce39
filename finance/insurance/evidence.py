"""Check a claim's evidence against readings fetched again from Kafka or InfluxDB.

A claim carries reading references, not readings: (device_id, seq, ts) identify each one in
``tracker.readings`` (key ``device_id``) and in InfluxDB (tags ``device_id``, field ``seq``).
Whoever doubts a claim fetches the readings it cites, and :func:`verify` confirms they are
exactly the cited ones and that their canonical SHA-256 (:func:`tradelane.evidence.digest`)
equals the digest the claim carries. The summary statistics are for people; the digest is the
proof.
"""

from __future__ import annotations

from collections.abc import Iterable

from tradelane.contracts import Evidence, TrackerReading
from tradelane.evidence import digest


def cited(evidence: Evidence, readings: Iterable[TrackerReading]) -> list[TrackerReading]:
    """The readings ``evidence`` cites, picked from a larger fetch (duplicates collapse:
    (device_id, seq) is a reading's identity)."""
    wanted = {(r.device_id, r.seq) for r in evidence.readings}
    found: dict[tuple[str, int], TrackerReading] = {}
    for reading in readings:
        key = (reading.device_id, reading.seq)
        if key in wanted:
            found.setdefault(key, reading)
    return list(found.values())


def verify(evidence: Evidence, readings: Iterable[TrackerReading]) -> list[str]:
    """Problems found re-checking ``evidence`` against fetched ``readings``; empty when the
    readings are exactly the cited ones and the digest recomputes."""
    picked = cited(evidence, readings)
    problems: list[str] = []
    refs = {(r.device_id, r.seq, r.ts) for r in evidence.readings}
    got = {(r.device_id, r.seq, r.ts) for r in picked}
    if missing := refs - got:
        problems.append(f"{len(missing)} cited readings not found (or with another time)")
    if evidence.count != len(picked):
        problems.append(f"evidence counts {evidence.count}, {len(picked)} readings found")
    if digest(picked) != evidence.digest:
        problems.append("digest does not match the readings")
    return problems
