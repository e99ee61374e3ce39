"""The I/O side of the destination policy: resolve a webhook host once, check every address,
and connect to exactly the checked addresses.

:class:`PinnedResolver` plugs into aiohttp's connector. aiohttp asks it for a host's addresses
and then connects to what it returned, with the URL's host name kept for the ``Host`` header
and for TLS (SNI and certificate checks). Because the check and the connection use the same
answer, a DNS name that flips to 127.0.0.1 between the check and the connection (rebinding)
has nothing to slip through. Address literals never reach a resolver, so the worker checks
them with :func:`webhooks.address.check_url` before each request.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from tradelane.errors import TradelaneError
from webhooks.address import (
    AddressPolicy,
    DestinationRefusedError,
    IPAddress,
    check_addresses,
    check_url,
)

Lookup = Callable[[str, int], Awaitable[list[IPAddress]]]
"""Resolve (host, port) to addresses; tests substitute a fake DNS."""


class RefusedAddressError(TradelaneError, OSError):
    """Raised inside aiohttp's connector when a resolved address is refused; an ``OSError`` so
    aiohttp reports it as a connection error rather than crashing the request."""


async def system_lookup(host: str, port: int) -> list[IPAddress]:
    """The system resolver (getaddrinfo), every family."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, family=socket.AF_UNSPEC
    )
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


async def check_destination(
    url: str, policy: AddressPolicy, lookup: Lookup = system_lookup
) -> None:
    """The subscription-time check: the URL's form, then every address its host resolves to
    now. Raises :class:`DestinationRefusedError` with a reason fit for the subscriber."""
    target = check_url(url, policy)
    if target.address is not None:
        return
    try:
        found = await lookup(target.host, target.port)
    except (OSError, UnicodeError) as exc:
        raise DestinationRefusedError(
            "the URL's host must resolve to public addresses only"
        ) from exc
    check_addresses(target.host, found, policy)


class PinnedResolver(AbstractResolver):
    """aiohttp resolver that returns a host's addresses only if the policy allows all of them."""

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if self._inner is None:
            self._inner = ThreadedResolver()
        answers = await self._inner.resolve(host, port, family)
        try:
            check_addresses(
                host, [ipaddress.ip_address(a["host"].split("%")[0]) for a in answers], self.policy
            )
        except (DestinationRefusedError, ValueError) as exc:
            raise RefusedAddressError(f"{host}: {exc}") from exc
        return answers

    async def close(self) -> None:
        if self._inner is not None:
            await self._inner.close()
