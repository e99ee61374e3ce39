"""The adapters the bridge runs, in matching order."""

from __future__ import annotations

from ingest.adapters.base import Adapter
from ingest.adapters.native import NativeAdapter
from ingest.adapters.owntracks import OwnTracksAdapter
from ingest.adapters.ttn import TtnAdapter

ADAPTERS: dict[str, Adapter] = {
    "tradelane": NativeAdapter(),
    "owntracks": OwnTracksAdapter(),
    "ttn": TtnAdapter(),
}


def select(names: list[str] | None = None) -> list[Adapter]:
    """Adapters by name (all when ``names`` is empty); unknown names raise ``ValueError``."""
    if not names:
        return list(ADAPTERS.values())
    unknown = [n for n in names if n not in ADAPTERS]
    if unknown:
        raise ValueError(f"unknown adapter(s) {unknown}; known: {sorted(ADAPTERS)}")
    return [ADAPTERS[n] for n in names]
