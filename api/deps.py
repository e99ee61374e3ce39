"""Request dependencies: the service state and the calling principal.

A REST call presents its key as ``X-API-Key: KEY`` or ``Authorization: Bearer KEY``; the live
feed also accepts ``?key=KEY`` because browsers cannot set headers on WebSocket or
EventSource connections.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.auth import Principal
from api.service import ApiState

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key")
bearer = HTTPBearer(auto_error=False, description="An API key as a bearer token")


def state(request: Request) -> ApiState:
    found: ApiState = request.app.state.api
    return found


def principal(
    request: Request,
    key: Annotated[str | None, Security(api_key_header)],
    token: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> Principal:
    presented = key or (token.credentials if token is not None else None)
    found = state(request).keys.lookup(presented)
    if found is None:
        raise HTTPException(
            401,
            "a valid API key is required (X-API-Key or Authorization: Bearer)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return found


StateDep = Annotated[ApiState, Depends(state)]
PrincipalDep = Annotated[Principal, Depends(principal)]


def live_principal(
    request: Request,
    key: Annotated[str | None, Security(api_key_header)],
    token: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    key_param: Annotated[
        str | None, Query(alias="key", description="API key, for clients that cannot set headers")
    ] = None,
) -> Principal:
    return principal(request, key or key_param, token)


LivePrincipalDep = Annotated[Principal, Depends(live_principal)]
