"""Read-only links to one shipment (``api.shares``, compacted, keyed by ``share_id``).

A principal who may see a shipment gives its consignee or customs broker a link; the holder
reads the shipment's track, condition, milestones and status with the link alone (no API
key) until it expires or is revoked. Only the SHA-256 of the link's token is stored: the token
itself is shown once, to its creator, and is never written to Kafka.

Revoking writes the share again with ``status: revoked`` (not a tombstone), so every API
process folding the topic learns of the revocation the same way it learned of the share, and a
late copy of the active record can never bring a revoked share back (revocation is final).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from tradelane.contracts.base import Contract, UtcDatetime
from tradelane.contracts.registries import PartyId
from tradelane.contracts.shipments import ShipmentId

ShareId = Annotated[str, Field(pattern=r"^shr_[0-9a-f]{32}$")]
TokenHash = Annotated[
    str, Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the token, lowercase hex")
]


class ShareAudience(StrEnum):
    """Whom the link is for (informative: every audience sees the same view)."""

    CONSIGNEE = "consignee"
    CUSTOMS_BROKER = "customs_broker"
    OTHER = "other"


class ShareStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"
    """Final: a revoked share is never active again."""


class ShipmentShare(Contract):
    """One link to one shipment: whose it is, until when, and the hash of its token.

    ``creator_role`` is the API role's value as a string (``api.auth.Role``; the kernel imports
    no app), so a role added to the API needs no new version of this contract."""

    schema_version: Literal[1] = 1
    share_id: ShareId
    shipment_id: ShipmentId
    token_sha256: TokenHash
    creator_role: Annotated[str, Field(pattern=r"^[a-z][a-z_]{0,31}$")]
    creator_party: PartyId | None = None
    creator_name: Annotated[str, Field(min_length=1, max_length=100)]
    audience: ShareAudience = ShareAudience.CONSIGNEE
    label: Annotated[str, Field(max_length=200)] = ""
    status: ShareStatus = ShareStatus.ACTIVE
    created_at: UtcDatetime
    expires_at: UtcDatetime
    revoked_at: UtcDatetime | None = None
    updated_at: UtcDatetime

    @model_validator(mode="after")
    def _consistent(self) -> ShipmentShare:
        if self.expires_at <= self.created_at:
            raise ValueError("a share must expire after it is created")
        if (self.status is ShareStatus.REVOKED) != (self.revoked_at is not None):
            raise ValueError("revoked_at is set exactly when the share is revoked")
        return self
