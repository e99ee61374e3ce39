"""Deterministic identifiers derived from inputs.

Kafka delivers at least once, so every engine may see the same event twice; ids derived from
the cause (facility, shipment, milestone, ...) make the second effect recognisable as the first.
Nothing here reads a clock or a random source.
"""

from __future__ import annotations

import hashlib

_SEPARATOR = "\x1f"  # ASCII unit separator: cannot occur in our ids, so parts cannot collide.


def derive_id(kind: str, *parts: str | int) -> str:
    """Return a stable 32-hex-char id for ``kind`` and its causal ``parts``.

    >>> derive_id("drawdown", "fac-1", "shp-9", "departed_origin") == derive_id(
    ...     "drawdown", "fac-1", "shp-9", "departed_origin")
    True
    """
    text = _SEPARATOR.join([kind, *(str(p) for p in parts)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
