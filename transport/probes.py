"""Readiness probes: is a port open, does an HTTP health endpoint answer, does Kafka serve
metadata. Each returns a bool and never raises, so it can sit inside ``wait_until``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tradelane.settings import KafkaSettings


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS considers free right now (for embedded brokers and tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def http_json(url: str, timeout_s: float = 2.0) -> dict[str, object] | None:
    """GET ``url`` and parse JSON; ``None`` on any failure."""
    if not url.startswith(("http://", "https://")):
        return None
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 (checked above)
            body = json.loads(resp.read().decode())
    except (OSError, urllib.error.URLError, ValueError):
        return None
    return body if isinstance(body, dict) else None


async def _kafka_metadata(settings: KafkaSettings, timeout_s: float) -> bool:
    from transport import kafka as clients

    try:  # building the client reads the local keyring, which may be missing
        admin = clients.admin(settings, request_timeout_ms=int(timeout_s * 1000))
    except Exception:  # a probe answers yes or no: any failure to build is a no
        return False
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        await asyncio.wait_for(admin.list_topics(), timeout_s)
        return True
    except Exception:  # refused, timed out, denied: the broker does not answer
        return False
    finally:
        with contextlib.suppress(Exception):  # closing a half-started client may fail
            await admin.close()


async def kafka_ready_async(settings: KafkaSettings, timeout_s: float = 3.0) -> bool:
    """True when the broker answers a metadata request of a client logged in with
    ``settings`` (not merely an open port)."""
    host, _, port = settings.bootstrap_servers.split(",")[0].strip().rpartition(":")
    if not port_open(host, int(port)):
        return False
    return await _kafka_metadata(settings, timeout_s)


def kafka_ready(settings: KafkaSettings, timeout_s: float = 3.0) -> bool:
    """Blocking form of :func:`kafka_ready_async`, for code outside an event loop."""
    return asyncio.run(kafka_ready_async(settings, timeout_s))
