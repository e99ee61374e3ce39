"""``tradelane api``: the HTTP service: REST, live feed and dashboard (see api/)."""

from __future__ import annotations

import argparse
import asyncio

HELP = """\
Serve the REST API, the live feed (WebSocket /api/v1/live/ws, SSE /api/v1/live/sse) and the
operators' dashboard at / on one port. The service builds its read model from Kafka on start
(bookings, shipment events, finance and claim events, recent readings) and reads history
from InfluxDB. OpenAPI document: /openapi.json, interactive docs: /docs.

Keys: TRADELANE_API_KEYS_FILE names a YAML/JSON key file (docs/api.md); without one the demo
keys work: demo-operator-key, demo-bank-key (bank demo-bank), demo-insurer-key (insurer
demo-insurer). Binds 127.0.0.1 unless --host says otherwise. SIGTERM or Ctrl-C stops it.
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "api",
        help="HTTP service: REST, live feed (WebSocket/SSE) and the dashboard",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    p.add_argument(
        "--port", type=int, default=8000, help="port (default %(default)s; 0: any free port)"
    )
    p.add_argument(
        "--log-level",
        default="warning",
        choices=("debug", "info", "warning", "error"),
        help="uvicorn's log level (default %(default)s)",
    )
    p.set_defaults(handler=_api)


def _api(args: argparse.Namespace) -> int:
    from tradelane.services.probes import port_open
    from tradelane.services.process import ServiceError

    if not 0 <= args.port <= 65535:
        raise ServiceError("--port must be within 0..65535")
    probe_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host  # noqa: S104
    if args.port and port_open(probe_host, args.port):
        raise ServiceError(
            f"port {args.port} on {args.host} is already taken by another process: "
            "stop it or pick another --port (0: any free port)"
        )
    return asyncio.run(_serve(args.host, args.port, args.log_level))


async def _serve(host: str, port: int, log_level: str) -> int:
    import uvicorn

    from api.app import create_app
    from api.settings import ApiSettings

    settings = ApiSettings()
    app = create_app()
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level=log_level, ws="websockets-sansio")
    )
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn has no such event
        await asyncio.sleep(0.05)
    if server.started:
        bound = server.servers[0].sockets[0].getsockname()[1]
        keys = "demo keys" if settings.keys_file is None else f"keys from {settings.keys_file}"
        print(
            f"api listening on http://{host}:{bound}/ (dashboard), /docs, /openapi.json; {keys}",
            flush=True,
        )
    try:
        await task
    except asyncio.CancelledError:
        pass
    except SystemExit:  # uvicorn exits when it cannot bind (a race with the check above)
        return 2
    return 0 if server.started else 2
