"""The canonical form of readings for evidence digests.

A digest must be reproducible by anyone who re-fetches the same readings (from Kafka or from
InfluxDB), so it is computed over a canonical JSON rendering that does not depend on arrival
order, ingest metadata or JSON formatting: the readings sorted by (ts, device_id, seq), each
rendered with sorted keys and no whitespace, joined by newlines.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from tradelane.contracts import TrackerReading


def canonical(reading: TrackerReading) -> str:
    return json.dumps(reading.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def digest(readings: Iterable[TrackerReading]) -> str:
    """SHA-256 (hex) over the canonical readings, order-independent."""
    ordered = sorted(readings, key=lambda r: (r.ts, r.device_id, r.seq))
    text = "\n".join(canonical(r) for r in ordered)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
