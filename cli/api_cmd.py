"""``tradelane api``: the HTTP service: REST, live feed and dashboard (see api/)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cli.metrics_args import add_metrics_options, metrics_port
from tradelane.roles import Role

if TYPE_CHECKING:  # the kernel imports api only lazily, inside the command
    from api.service import ApiState

HELP = """\
Serve the REST API, the live feed (WebSocket /api/v1/live/ws, SSE /api/v1/live/sse) and the
operators' dashboard at / on one port. The service builds its read model from Kafka on start
(bookings, shipment events, finance and claim events, recent readings) and reads history
from InfluxDB. OpenAPI document: /openapi.json, interactive docs: /docs.

Keys: TRADELANE_API_KEYS_FILE names a key file of argon2 hashes made by `tradelane api keys
add` (docs/api.md). Without one the public demo keys work (demo-operator-key, demo-bank-key for
bank demo-bank, demo-insurer-key for insurer demo-insurer), and only on a loopback address: the
server refuses to start with them on any other --host. Keys go in the X-API-Key or
Authorization header; ?key= is accepted only on loopback. Binds 127.0.0.1 unless --host says
otherwise. SIGTERM or Ctrl-C stops it. Metrics (Prometheus) on their own port:
http://127.0.0.1:9113/metrics (docs/operations.md lists the series).
"""

KEYS_HELP = """\
Manage the API's key file (default: TRADELANE_API_KEYS_FILE). The file holds each key's id,
argon2id hash, role, name and party, never the key: `add` prints the new key once, on stdout;
keep it, it cannot be shown again. The server reads the file when it starts.
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
    add_metrics_options(p, "api")
    p.set_defaults(handler=_api)
    commands = p.add_subparsers(dest="api_command", metavar="{keys}")
    keys = commands.add_parser(
        "keys",
        help="create, list and remove API keys in the key file",
        description=KEYS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    keys.set_defaults(handler=lambda _args: _usage(keys))
    actions = keys.add_subparsers(dest="keys_command", metavar="{add,list,remove}")
    add = actions.add_parser(
        "add",
        help="create a key, store its hash, print the key once",
        description="Create a key for a role (and party), append its hash to the key file, "
        "and print the key once on stdout.",
    )
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument(
        "--party",
        "--tenant",
        dest="party",
        help="the party the key acts for: the bank, insurer or borrower id (every role but "
        "operator needs one; a borrower id is the borrower_id of its facilities)",
    )
    add.add_argument("--name", help="a name for logs (default: role and party)")
    _file_argument(add)
    add.set_defaults(handler=_keys_add)
    listing = actions.add_parser(
        "list", help="the keys' ids, roles, parties and names (no secrets)"
    )
    _file_argument(listing)
    listing.set_defaults(handler=_keys_list)
    remove = actions.add_parser("remove", help="remove a key by its id")
    remove.add_argument("key_id", metavar="ID")
    _file_argument(remove)
    remove.set_defaults(handler=_keys_remove)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_usage(sys.stderr)
    return 2


def _file_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--file",
        type=Path,
        default=None,
        help="the key file (default: TRADELANE_API_KEYS_FILE)",
    )


def _key_file(args: argparse.Namespace) -> Path:
    from tradelane.errors import UsageError

    found: Path | None = args.file
    if found is None:
        from api.settings import ApiSettings

        found = ApiSettings().keys_file
    if found is None:
        raise UsageError("name the key file: --file PATH or TRADELANE_API_KEYS_FILE")
    return found


def _write_key_file(path: Path, keys: list[dict[str, str]]) -> None:
    """Replace the file atomically, readable by its owner only (hashes are still secrets'
    fingerprints)."""
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        yaml.safe_dump({"keys": keys}, out, sort_keys=False, width=200)
    os.replace(tmp, path)


def _entries(path: Path) -> list[dict[str, str]]:
    from api.auth import read_key_file

    return [e.model_dump(mode="json", exclude_none=True) for e in read_key_file(path).keys]


def _keys_add(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from api.auth import KeyEntry, hash_key, new_key
    from tradelane.errors import UsageError

    path = _key_file(args)
    entries = _entries(path)
    key_id, key = new_key()
    name = args.name or " ".join(p for p in (args.role, args.party) if p)
    try:
        entry = KeyEntry(id=key_id, hash=hash_key(key), role=args.role, name=name, party=args.party)
    except ValidationError as exc:
        raise UsageError(f"cannot create the key: {exc.errors()[0]['msg']}") from exc
    _write_key_file(path, [*entries, entry.model_dump(mode="json", exclude_none=True)])
    print(
        f"key {key_id} ({entry.role.value}{f', {entry.party}' if entry.party else ''}) added "
        f"to {path}; it is shown once, keep it now. Restart the API to use it.",
        file=sys.stderr,
    )
    print(key, flush=True)
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    for entry in _entries(_key_file(args)):
        print(f"{entry['id']}  {entry['role']:<8}  {entry.get('party', '-'):<20}  {entry['name']}")
    return 0


def _keys_remove(args: argparse.Namespace) -> int:
    from tradelane.errors import UsageError

    path = _key_file(args)
    entries = _entries(path)
    kept = [e for e in entries if e["id"] != args.key_id]
    if len(kept) == len(entries):
        raise UsageError(f"no key {args.key_id} in {path}")
    _write_key_file(path, kept)
    print(f"key {args.key_id} removed from {path}; restart the API to refuse it", file=sys.stderr)
    return 0


def _api(args: argparse.Namespace) -> int:
    from tradelane.errors import ServiceError, UsageError
    from transport.probes import port_open

    if not 0 <= args.port <= 65535:
        raise UsageError("--port must be within 0..65535")
    probe_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host  # noqa: S104
    if args.port and port_open(probe_host, args.port):
        raise ServiceError(
            f"port {args.port} on {args.host} is already taken by another process: "
            "stop it or pick another --port (0: any free port)"
        )
    from api.app import InsecureConfigError, build_state
    from api.settings import ApiSettings
    from cli.tracing import configure

    configure("api")  # OTEL_* settings (docs/operations.md, "Tracing")

    settings = ApiSettings()
    try:
        state = build_state(settings, host=args.host)
    except InsecureConfigError as exc:
        raise UsageError(str(exc)) from exc
    except (ValueError, OSError) as exc:
        raise UsageError(f"cannot read the API keys: {exc}") from exc
    metrics_at = (args.metrics_host, metrics_port(args))
    return asyncio.run(_serve(args.host, args.port, args.log_level, state, metrics_at))


async def _serve(
    host: str,
    port: int,
    log_level: str,
    state: ApiState,
    metrics_at: tuple[str, int | None] = ("127.0.0.1", None),
) -> int:
    """Serve the API, and its metrics on their own port (``metrics_at``) while it runs."""
    from transport.metrics import serving

    assert state.metrics is not None  # made with the state
    async with serving(state.metrics.registry, *metrics_at):
        return await _serve_api(host, port, log_level, state)


async def _serve_api(host: str, port: int, log_level: str, state: ApiState) -> int:
    import uvicorn

    from api.app import create_app

    settings = state.settings
    app = create_app(state)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            ws="websockets-sansio",
            ws_max_size=settings.max_body_bytes,
        )
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
