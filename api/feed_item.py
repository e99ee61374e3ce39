"""One live-feed item: what the projection emits and every client may receive.

Items are built once and serialised once (:meth:`FeedItem.json`), however many clients receive
them: fan-out to hundreds of sockets must not re-encode the same event hundreds of times.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class ItemType(StrEnum):
    """What an item tells a client. Only ``position`` may be dropped for a slow client."""

    POSITION = "position"
    STATE = "state"
    ALERT = "alert"
    FINANCE = "finance"
    CLAIM = "claim"


@dataclass(frozen=True, slots=True)
class FeedItem:
    """A change worth pushing: a new position, a state change, an alert, a finance or claim
    event. The routing fields (shipment, facility, policy, status, alert kind, position) let
    filters and access rules decide without parsing ``data``."""

    type: ItemType
    at: datetime
    data: dict[str, Any]
    shipment_id: str | None = None
    facility_id: str | None = None
    policy_id: str | None = None
    status: str | None = None
    alert: str | None = None
    lat: float | None = None
    lon: float | None = None
    flags: tuple[str, ...] | None = None
    _json: list[str] = field(default_factory=list, repr=False, compare=False)

    @property
    def droppable(self) -> bool:
        """Positions are superseded by the next one; everything else must arrive."""
        return self.type is ItemType.POSITION

    def json(self) -> str:
        """The wire form, encoded on first use and cached."""
        if not self._json:
            self._json.append(
                json.dumps(
                    {
                        "type": self.type.value,
                        "at": self.at.isoformat(),
                        "shipment_id": self.shipment_id,
                        "facility_id": self.facility_id,
                        "policy_id": self.policy_id,
                        "status": self.status,
                        "alert": self.alert,
                        "lat": self.lat,
                        "lon": self.lon,
                        "flags": None if self.flags is None else list(self.flags),
                        "data": self.data,
                    },
                    separators=(",", ":"),
                    default=str,
                )
            )
        return self._json[0]
