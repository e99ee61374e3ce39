"""The live feed: ``/api/v1/live/ws`` (WebSocket) and ``/api/v1/live/sse`` (Server-Sent Events).

Both take the same filter parameters (``shipment``, ``status``, ``alert``, ``type``, ``bbox``;
repeat a parameter or separate values with commas) and the key in a header (the WebSocket also
as a subprotocol, for browsers), or as ``?key=`` when the server binds loopback.
Each message is one JSON feed item (see docs/api.md). The WebSocket also accepts
``{"filter": {...}}`` messages from the client that replace its filter.

Close codes: 4401 bad key, 4429 rate limited, 4422 bad filter, 4008 the client fell too far
behind (its queue filled with items that are never dropped; reconnect and re-read state over REST).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse

from api.auth import Principal
from api.deps import LivePrincipalDep, StateDep, api_key_header, authenticate, client_address
from api.feed_filter import FeedFilter
from api.hub import Subscriber
from api.problems import problem_responses
from api.service import ApiState

router = APIRouter(prefix="/api/v1/live", tags=["live"])
KEEPALIVE_S = 15.0
YIELD_EVERY = 64
CLOSE_BAD_KEY, CLOSE_BAD_FILTER, CLOSE_TOO_SLOW, CLOSE_RATE_LIMITED = 4401, 4422, 4008, 4429

FilterList = Annotated[list[str] | None, Query()]


def _filter(
    shipment: list[str] | None,
    status: list[str] | None,
    alert: list[str] | None,
    type_: list[str] | None,
    bbox: str | None,
) -> FeedFilter:
    return FeedFilter.parse(shipment, status, alert, type_, bbox)


def _hello(sub: Subscriber) -> str:
    f = sub.filter
    return json.dumps(
        {
            "type": "hello",
            "principal": sub.principal.model_dump(mode="json"),
            "filter": {
                "shipment": sorted(f.shipments or ()),
                "status": sorted(f.statuses or ()),
                "alert": sorted(f.alerts or ()),
                "type": sorted(t.value for t in f.types or ()),
                "bbox": list(f.bbox) if f.bbox else None,
            },
        }
    )


@router.get(
    "/sse",
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "A stream of feed items"},
        **problem_responses(401, 422),
    },
    response_class=StreamingResponse,
)
async def live_sse(
    request: Request,
    api: StateDep,
    principal: LivePrincipalDep,
    shipment: FilterList = None,
    status: FilterList = None,
    alert: FilterList = None,
    type: FilterList = None,
    bbox: Annotated[str | None, Query()] = None,
) -> StreamingResponse:
    """Server-Sent Events: ``event: <type>`` + ``data: <item JSON>`` per item; a comment every
    15 s keeps proxies from closing an idle stream. The key may also come as ``?key=`` when the
    server binds loopback."""
    try:
        feed_filter = _filter(shipment, status, alert, type, bbox)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    sub = api.hub.subscribe(principal, feed_filter)

    async def stream() -> AsyncIterator[str]:
        try:
            yield f"event: hello\ndata: {_hello(sub)}\n\n"
            queue = sub.queue
            while not api.stop.is_set():
                item = queue.get_nowait()
                if item is not None:
                    yield f"event: {item.type.value}\ndata: {item.json()}\n\n"
                elif queue.overflowed:
                    yield 'event: overflow\ndata: {"reason": "client too slow"}\n\n'
                    return
                else:
                    try:
                        await asyncio.wait_for(queue.wait(), KEEPALIVE_S)
                    except TimeoutError:
                        if await request.is_disconnected():
                            return
                        yield ": keepalive\n\n"
        finally:
            api.hub.unsubscribe(sub)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )


WS_PROTOCOL = "tradelane"
WS_KEY_PROTOCOL = "tradelane-key."
"""A browser cannot set headers on a WebSocket, but it can offer subprotocols: the dashboard
offers ``tradelane`` and ``tradelane-key.<KEY>``, and the server answers ``tradelane``."""


def _offered(websocket: WebSocket) -> list[str]:
    header = websocket.headers.get("sec-websocket-protocol", "")
    return [p.strip() for p in header.split(",") if p.strip()]


def _ws_key(websocket: WebSocket, api: ApiState) -> str | None:
    """The presented key: a header, the key subprotocol, or (loopback only) ``?key=``."""
    key = websocket.headers.get(api_key_header.model.name)
    auth = websocket.headers.get("authorization", "")
    if not key and auth.lower().startswith("bearer "):
        key = auth[7:].strip()
    if not key:
        offered = [p for p in _offered(websocket) if p.startswith(WS_KEY_PROTOCOL)]
        key = offered[0][len(WS_KEY_PROTOCOL) :] if offered else None
    if not key and api.loopback:
        key = websocket.query_params.get("key")
    return key


def _ws_principal(websocket: WebSocket, api: ApiState) -> Principal | int:
    """The principal, or the close code: 4401 no valid key, 4429 rate limited."""
    try:
        return authenticate(api, _ws_key(websocket, api), client_address(websocket))
    except HTTPException as exc:
        return CLOSE_RATE_LIMITED if exc.status_code == 429 else CLOSE_BAD_KEY


def _ws_filter(params: dict[str, Any]) -> FeedFilter:
    def many(name: str) -> list[str] | None:
        value = params.get(name)
        if value is None:
            return None
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]

    bbox = params.get("bbox")
    if isinstance(bbox, list):
        bbox = ",".join(str(v) for v in bbox)
    return FeedFilter.parse(
        many("shipment"), many("status"), many("alert"), many("type"), bbox or None
    )


@router.websocket("/ws")
async def live_ws(websocket: WebSocket) -> None:
    """WebSocket live feed (see the module doc for messages and close codes)."""
    api: ApiState = websocket.app.state.api
    await websocket.accept(subprotocol=WS_PROTOCOL if WS_PROTOCOL in _offered(websocket) else None)
    principal = await asyncio.to_thread(_ws_principal, websocket, api)
    if principal == CLOSE_RATE_LIMITED:
        await websocket.close(CLOSE_RATE_LIMITED, "rate limit exceeded: retry later")
        return
    if not isinstance(principal, Principal):
        reason = "a valid API key is required" + ("" if api.loopback else " (in a header)")
        await websocket.close(CLOSE_BAD_KEY, reason)
        return
    query = websocket.query_params
    try:
        feed_filter = _ws_filter(
            {k: query.getlist(k) for k in ("shipment", "status", "alert", "type")}
            | {"bbox": query.get("bbox")}
        )
    except ValueError as exc:
        await websocket.close(CLOSE_BAD_FILTER, str(exc)[:120])
        return
    sub = api.hub.subscribe(principal, feed_filter)
    reader = asyncio.create_task(_read_filters(websocket, sub))
    reader.add_done_callback(lambda _task: sub.queue.wake())
    try:
        await websocket.send_text(_hello(sub))
        await _send_items(websocket, sub, reader)
    except WebSocketDisconnect:
        pass
    finally:
        api.hub.unsubscribe(sub)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await reader


async def _send_items(
    websocket: WebSocket, sub: Subscriber, reader: asyncio.Task[int | None]
) -> None:
    """Send queued items in order until the client goes away (or sends a bad filter, or falls
    too far behind). No task per item: fan-out to hundreds of clients stays cheap."""
    queue = sub.queue
    sent = 0
    while True:
        item = queue.get_nowait()
        if item is not None:
            await websocket.send_text(item.json())
            sent += 1
            if sent % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # a long backlog must not starve the other clients
            continue
        if queue.overflowed:
            await websocket.close(CLOSE_TOO_SLOW, "client too slow: reconnect")
            return
        if reader.done():
            code = None if reader.cancelled() or reader.exception() else reader.result()
            if code is not None:
                await websocket.close(code, "bad filter")
            return
        await queue.wait()


async def _read_filters(websocket: WebSocket, sub: Subscriber) -> int | None:
    """Apply ``{"filter": {...}}`` messages; return a close code on a bad one, None when the
    client went away."""
    while True:
        try:
            message = await websocket.receive_json()
        except (WebSocketDisconnect, RuntimeError):
            return None
        except ValueError:
            return CLOSE_BAD_FILTER
        if not isinstance(message, dict) or not isinstance(message.get("filter"), dict):
            return CLOSE_BAD_FILTER
        try:
            sub.filter = _ws_filter(message["filter"])
        except ValueError:
            return CLOSE_BAD_FILTER
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await websocket.send_text(_hello(sub))
