"""Where a webhook may be sent, pure: the destination policy that keeps the delivery worker from
becoming a way into the operator's own network (SSRF).

A subscriber chooses the URL, and the worker runs inside the operator's network, so without a
policy a tenant could make it POST to the cloud metadata service, to Kafka's or InfluxDB's
admin ports, or to anything on loopback, and read the answers' status back from the delivery
log. The rules:

- every address a host resolves to must be public: loopback, link-local, private, unique-local,
  site-local, shared (CGNAT), multicast, unspecified, reserved and documentation ranges are
  refused, as are IPv6 forms that embed such an IPv4 address (mapped, 6to4, NAT64) and Teredo;
- cloud metadata endpoints (169.254.169.254, fd00:ec2::254, …) are refused always, even when
  an allow-list entry would cover them;
- an explicit allow-list (``TRADELANE_WEBHOOKS_ALLOW_HOSTS``: host names, addresses or CIDRs)
  opens non-public destinations for development and tests, such as a receiver on 127.0.0.1;
- plain ``http`` only to allow-listed destinations; everywhere else ``https``.

The checks run when a subscription is created or changed and again at every delivery, on the
addresses the connection then uses (see :mod:`webhooks.pinning`), so a name that resolved
to a public address at subscription time and to 127.0.0.1 later (DNS rebinding) is refused.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from yarl import URL

from tradelane.errors import ContractError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, Oracle, DigitalOcean …
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.170.23",  # AWS EKS pod identity agent
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::23",  # AWS EKS pod identity agent over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure wire server (a public-looking address)
        "192.0.0.192",  # Oracle Cloud (classic)
    )
)
METADATA_HOSTS = frozenset({"metadata", "metadata.google.internal", "metadata.goog"})
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_SPECIAL: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "192.0.0.0/24",  # IETF protocol assignments (whatever Python's tables say of parts)
        "198.18.0.0/15",  # benchmarking
        "240.0.0.0/4",  # reserved
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments (Teredo, ORCHID …)
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
        "5f00::/16",  # segment routing
    )
)


class DestinationRefusedError(ContractError):
    """A webhook URL or one of its addresses is not an allowed destination."""


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """What the allow-list opens: exact host names (lower case) and networks."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AddressPolicy:
        """``["localhost", "127.0.0.1", "10.0.0.0/8", "[::1]"]`` → a policy; a bad entry is a
        ``ValueError`` naming it."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in entries:
            entry = raw.strip().lower()
            if not entry:
                continue
            bare = entry.removeprefix("[").removesuffix("]")
            try:
                networks.append(ipaddress.ip_network(bare, strict=False))
                continue
            except ValueError:
                pass
            if "/" in entry or ":" in entry or not _is_host_name(entry):
                raise ValueError(f"allow-list entry {raw!r} is not a host name, address or CIDR")
            hosts.add(entry.rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def allows_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def allows_address(self, address: IPAddress) -> bool:
        return any(address in net for net in self.networks if net.version == address.version)


def _is_host_name(text: str) -> bool:
    labels = text.rstrip(".").split(".")
    return all(
        0 < len(label) <= 63
        and not label.startswith("-")
        and not label.endswith("-")
        and all(c.isascii() and (c.isalnum() or c in "-_") for c in label)
        for label in labels
    )


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries and that a connection may reach (mapped,
    6to4, NAT64), or ``None``."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _SIX_TO_FOUR:
        return address.sixtofour
    if any(address in net for net in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: IPAddress, policy: AddressPolicy) -> str | None:
    """Why ``address`` may not receive webhooks (``None``: it may). Metadata endpoints are
    refused whatever the allow-list says; other non-public addresses unless allow-listed."""
    inner = embedded_ipv4(address)
    if address in METADATA_ADDRESSES or (inner is not None and inner in METADATA_ADDRESSES):
        return "a cloud metadata address"
    if policy.allows_address(address):
        return None
    if inner is not None:
        why = refusal(inner, policy)
        return None if why is None else f"an IPv6 address embedding {why}"
    if isinstance(address, ipaddress.IPv6Address) and address.teredo is not None:
        return "a Teredo tunnel address"
    checks: tuple[tuple[bool, str], ...] = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (
            isinstance(address, ipaddress.IPv6Address)
            and address in ipaddress.IPv6Network("fc00::/7"),
            "a unique-local address",
        ),
        (
            isinstance(address, ipaddress.IPv6Address) and address.is_site_local,
            "a site-local address",
        ),
        (address in _SHARED if address.version == 4 else False, "a shared (CGNAT) address"),
        (address.is_private, "a private address"),
        (
            any(address in net for net in _SPECIAL if net.version == address.version),
            "a special-purpose address",
        ),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "a non-public address"),
    )
    return next((why for refused, why in checks if refused), None)


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL: its scheme, host (a name, or an address when ``address`` is set) and
    port."""

    scheme: str
    host: str
    port: int
    address: IPAddress | None
    allow_listed: bool


def check_url(url: str, policy: AddressPolicy) -> Target:
    """Check what can be checked without DNS: the scheme, credentials, metadata host names, an
    address literal, and ``https`` unless the host is allow-listed. Raises
    :class:`DestinationRefusedError` with a reason fit to show the subscriber."""
    try:
        parsed = URL(url)
    except ValueError as exc:
        raise DestinationRefusedError("the URL cannot be parsed") from exc
    scheme = (parsed.scheme or "").lower()
    host = (parsed.raw_host or "").lower().rstrip(".")
    if scheme not in {"http", "https"} or not host or not parsed.is_absolute():
        raise DestinationRefusedError("the URL must be an absolute http(s) URL")
    if parsed.raw_user is not None or parsed.raw_password is not None:
        raise DestinationRefusedError("the URL must not carry credentials")
    if host in METADATA_HOSTS:
        raise DestinationRefusedError("the URL's host is a cloud metadata service")
    address: IPAddress | None
    try:
        address = ipaddress.ip_address(host.removeprefix("[").removesuffix("]").split("%")[0])
    except ValueError:
        address = None
    if address is not None and "%" in host:
        raise DestinationRefusedError("the URL's address must not carry a zone")
    if address is not None:
        why = refusal(address, policy)
        if why is not None:
            raise DestinationRefusedError(f"the URL's host is {why}")
    allow_listed = policy.allows_host(host) or (
        address is not None and policy.allows_address(address)
    )
    if scheme != "https" and not allow_listed:
        raise DestinationRefusedError("the URL must use https")
    port = parsed.port or (443 if scheme == "https" else 80)
    return Target(scheme, host, port, address, allow_listed)


def check_addresses(
    host: str, addresses: Iterable[IPAddress], policy: AddressPolicy
) -> list[IPAddress]:
    """The addresses ``host`` resolved to, if every one of them may receive webhooks (a name
    that is allow-listed opens whatever it resolves to, except metadata). One refused address
    refuses the host: the connection might otherwise pick it. The reason given does not say
    which address, so the API does not become a way to map internal DNS names."""
    found = list(addresses)
    if not found:
        raise DestinationRefusedError("the URL's host must resolve to public addresses only")
    named = policy.allows_host(host)
    for address in found:
        why = refusal(address, policy)
        if why is None:
            continue
        if named and why != "a cloud metadata address":
            continue
        raise DestinationRefusedError("the URL's host must resolve to public addresses only")
    return found
