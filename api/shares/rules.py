"""The rules of a share, pure functions of (share, time, principal): how long a link may live,
whether it is live at a given instant, who may manage it, and its revocation.

The API judges expiry against the request's time (the wall clock at the edge, passed in):
nothing here reads a clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from api.auth import Principal
from tradelane.contracts.shares import ShareStatus, ShipmentShare

OPERATOR = "operator"
"""The role that manages every share (``api.auth``'s roles are compared by value here, so these
rules hold whichever module defines the role enum)."""
EXPIRES_IN_S_MIN = 300
"""Five minutes: shorter links are more likely mistakes than intent."""
EXPIRES_IN_S_DEFAULT = 7 * 86_400
EXPIRES_IN_S_MAX = 90 * 86_400
"""Ninety days: a link outliving a voyage is a link nobody remembers to revoke."""


def expiry(now: datetime, expires_in_s: int) -> datetime:
    """When a share made at ``now`` for ``expires_in_s`` seconds expires; ``ValueError``
    outside [:data:`EXPIRES_IN_S_MIN`, :data:`EXPIRES_IN_S_MAX`]."""
    if not EXPIRES_IN_S_MIN <= expires_in_s <= EXPIRES_IN_S_MAX:
        raise ValueError(
            f"expires_in_s must be between {EXPIRES_IN_S_MIN} and {EXPIRES_IN_S_MAX} seconds"
        )
    return now + timedelta(seconds=expires_in_s)


def is_live(share: ShipmentShare, now: datetime) -> bool:
    """Active and not yet expired at ``now`` (expired at ``expires_at`` exactly)."""
    return share.status is ShareStatus.ACTIVE and now < share.expires_at


def may_manage(principal: Principal, share: ShipmentShare) -> bool:
    """Operators manage every share; anyone else only shares made by its own party (the same
    role and party as the share's creator)."""
    if principal.role.value == OPERATOR:
        return True
    return share.creator_role == principal.role.value and share.creator_party == principal.party


def creator_of(share: ShipmentShare) -> Principal | None:
    """The principal the share was made by, as far as the share records it; ``None`` if its
    role is not one this API knows (a record from a newer version: fail closed)."""
    try:
        return Principal.model_validate(
            {"name": share.creator_name, "role": share.creator_role, "party": share.creator_party}
        )
    except ValueError:  # pydantic's ValidationError is a ValueError too
        return None


def revoked(share: ShipmentShare, now: datetime) -> ShipmentShare:
    """The share revoked at ``now``; a share already revoked is returned unchanged (revoking
    twice writes nothing new)."""
    if share.status is ShareStatus.REVOKED:
        return share
    return share.model_copy(
        update={"status": ShareStatus.REVOKED, "revoked_at": now, "updated_at": now}
    )


def newer(held: ShipmentShare | None, incoming: ShipmentShare) -> bool:
    """Whether ``incoming`` replaces ``held`` in a fold: revocation is final (a revoked share
    is never replaced by an active record, however late that record arrives), otherwise the
    later ``updated_at`` wins."""
    if held is None:
        return True
    if held.status is ShareStatus.REVOKED:
        return False
    return incoming.status is ShareStatus.REVOKED or incoming.updated_at >= held.updated_at
