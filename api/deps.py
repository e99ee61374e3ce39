"""Request dependencies: the service state and the calling principal.

A call presents its key as ``X-API-Key: KEY`` or ``Authorization: Bearer KEY``. Keys in URLs
end up in access logs, proxies and browser history, so ``?key=KEY`` is accepted only when the
server binds a loopback address (the dashboard's live feed on a developer's machine, where
browsers cannot set headers on WebSocket or EventSource connections).

Every call spends a token of its key's rate limit; a call without a valid key spends one of its
client address's, checked before a key not seen before is (so wrong keys cannot buy argon2
checks faster than that limit, while a key already verified is not held up by others at the
same address). Both answer 429 with ``Retry-After`` when empty.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from api.auth import Principal
from api.ratelimit import retry_after
from api.service import ApiState

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key")
bearer = HTTPBearer(auto_error=False, description="An API key as a bearer token")
QUERY_KEY_REFUSED = (
    "?key= is accepted only when the server binds loopback: send the key as X-API-Key "
    "or Authorization: Bearer"
)


class TooManyRequests(HTTPException):
    def __init__(self, wait_s: float, whose: str) -> None:
        super().__init__(
            429, f"rate limit of {whose} exceeded", headers={"Retry-After": retry_after(wait_s)}
        )


def state(request: HTTPConnection) -> ApiState:
    found: ApiState = request.app.state.api
    return found


def client_address(connection: HTTPConnection) -> str:
    return connection.client.host if connection.client else "unknown"


def authenticate(api: ApiState, presented: str | None, address: str) -> Principal:
    """The principal of ``presented``, after the rate limits; raises 401 or 429.

    Blocking (a new key costs an argon2 check): call from a worker thread."""
    assert api.key_limits is not None
    assert api.address_limits is not None
    caller = api.keys.remembered(presented)
    if caller is None:
        wait = api.address_limits.wait(address)
        if wait > 0:
            raise TooManyRequests(wait, "attempts without a valid key from this address")
        caller = api.keys.authenticate(presented)
    if caller is None:
        api.address_limits.take(address)
        raise HTTPException(
            401,
            "a valid API key is required (X-API-Key or Authorization: Bearer)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    wait = api.key_limits.take(caller.key_id)
    if wait > 0:
        raise TooManyRequests(wait, "this key")
    return caller.principal


def principal(
    request: Request,
    key: Annotated[str | None, Security(api_key_header)],
    token: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> Principal:
    """A plain function, so FastAPI runs it in a worker thread (see :func:`authenticate`)."""
    presented = key or (token.credentials if token is not None else None)
    return authenticate(state(request), presented, client_address(request))


StateDep = Annotated[ApiState, Depends(state)]
PrincipalDep = Annotated[Principal, Depends(principal)]


def live_principal(
    request: Request,
    key: Annotated[str | None, Security(api_key_header)],
    token: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    key_param: Annotated[
        str | None,
        Query(
            alias="key",
            description="API key, for browsers' EventSource; only on a loopback-bound server",
        ),
    ] = None,
) -> Principal:
    if key_param and not key and token is None and not state(request).loopback:
        raise HTTPException(401, QUERY_KEY_REFUSED, headers={"WWW-Authenticate": "Bearer"})
    return principal(request, key or (key_param if state(request).loopback else None), token)


LivePrincipalDep = Annotated[Principal, Depends(live_principal)]
