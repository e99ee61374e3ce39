"""Request and response bodies of the share endpoints.

:class:`SharedShipment` is everything a link holder can ever receive: its fields are listed
one by one (no booking, no raw events, no free-form dicts from the read model), so nothing of
a facility, pledge, policy, claim or the cargo's value can reach a holder by accident.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from api.shares.rules import EXPIRES_IN_S_DEFAULT, EXPIRES_IN_S_MAX, EXPIRES_IN_S_MIN
from tradelane.contracts.shares import ShareAudience, ShareStatus, ShipmentShare


class ShareIn(BaseModel):
    """A new link: for whom, a label for its creator's list, and how long it lives."""

    model_config = ConfigDict(extra="forbid")

    expires_in_s: Annotated[
        int,
        Field(
            ge=EXPIRES_IN_S_MIN,
            le=EXPIRES_IN_S_MAX,
            description="Lifetime in seconds: 300 to 7,776,000 (90 days); default 7 days",
        ),
    ] = EXPIRES_IN_S_DEFAULT
    label: Annotated[str, Field(max_length=200, description="e.g. the consignee's name")] = ""
    audience: ShareAudience = ShareAudience.CONSIGNEE


class ShareOut(BaseModel):
    """A share as listed to its creator's party: never its token."""

    share_id: str
    shipment_id: str
    audience: ShareAudience
    label: str
    status: ShareStatus
    live: bool = Field(description="Active and not expired at the time of the request")
    creator_role: str
    creator_party: str | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, share: ShipmentShare, live: bool) -> ShareOut:
        return cls(
            share_id=share.share_id,
            shipment_id=share.shipment_id,
            audience=share.audience,
            label=share.label,
            status=share.status,
            live=live,
            creator_role=share.creator_role,
            creator_party=share.creator_party,
            created_at=share.created_at,
            expires_at=share.expires_at,
            revoked_at=share.revoked_at,
        )


class ShareCreated(ShareOut):
    """The answer to creating a share: the only time its token is shown."""

    token: str = Field(description="The secret; stored only as its SHA-256")
    path: str = Field(description="/api/v1/shared/{token}")
    url: str = Field(description="The link to hand over (this server's address as requested)")


class ShareList(BaseModel):
    items: list[ShareOut]


class SharedPlace(BaseModel):
    locode: str
    name: str
    lat: float
    lon: float


class SharedPosition(BaseModel):
    lat: float
    lon: float
    at: datetime
    speed_kmh: float
    heading_deg: float


class TrackPoint(BaseModel):
    time: datetime
    lat: float
    lon: float


class LatestReading(BaseModel):
    """The shipment's last sensor reading (any of its trackers)."""

    at: datetime
    temperature_c: float | None
    humidity_pct: float | None
    shock_g: float | None
    light_lux: float | None
    tamper: bool


class ConditionSummary(BaseModel):
    temp_min_c: float | None = Field(description="The booked band's lower bound")
    temp_max_c: float | None
    latest: LatestReading | None
    latest_in_band: bool | None = Field(description="None without a band or a temperature")
    breached: bool = Field(description="A breach of the band has been detected")
    excursions: dict[str, int] = Field(
        description="How many condition alerts of each kind (breach, shock, tamper) were raised"
    )


class SharedShipment(BaseModel):
    """What a link shows: status, milestones, position and track, condition. Nothing else."""

    shipment_id: str
    status: str
    origin: SharedPlace | None
    destination: SharedPlace | None
    planned_arrival: datetime | None
    eta: datetime | None
    milestones: dict[str, datetime]
    flags: list[str]
    position: SharedPosition | None
    track: list[TrackPoint] | None = Field(
        description="Positions per window over the voyage; null when history is unavailable"
    )
    track_resolution_s: int | None
    condition: ConditionSummary
    link_expires_at: datetime
