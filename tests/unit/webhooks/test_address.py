"""The destination policy: which addresses and URLs may receive webhooks. Table tests name the
known SSRF targets; property tests sweep whole ranges, IPv6 wrappings and allow-lists."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webhooks.address import (
    METADATA_ADDRESSES,
    AddressPolicy,
    DestinationRefusedError,
    IPAddress,
    check_addresses,
    check_url,
    refusal,
)

OPEN = AddressPolicy()
DEV = AddressPolicy.parse(["localhost", "127.0.0.1", "10.0.0.0/8", "[::1]"])
EVERYTHING = AddressPolicy.parse(["0.0.0.0/0", "::/0"])

NON_PUBLIC_V4 = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
]
NON_PUBLIC_V6 = [
    "::/128",
    "::1/128",
    "fe80::/10",
    "fc00::/7",
    "fec0::/10",
    "ff00::/8",
    "2001:db8::/32",
]


def ip(text: str) -> IPAddress:
    return ipaddress.ip_address(text)


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("100.100.100.200", "a cloud metadata address"),
        ("168.63.129.16", "a cloud metadata address"),
        ("10.0.0.1", "a private address"),
        ("192.168.1.10", "a private address"),
        ("172.20.0.5", "a private address"),
        ("fc00::1", "a unique-local address"),
        ("fe80::1", "a link-local address"),
        ("169.254.1.1", "a link-local address"),
        ("224.0.0.251", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),  # noqa: S104 (an address under test)
        ("::", "an unspecified address"),
        ("100.64.0.1", "a shared (CGNAT) address"),
        ("::ffff:127.0.0.1", "an IPv6 address embedding a loopback address"),
        ("::ffff:169.254.169.254", "a cloud metadata address"),
        ("64:ff9b::a00:1", "an IPv6 address embedding a private address"),
        ("2002:7f00:1::", "an IPv6 address embedding a loopback address"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "a Teredo tunnel address"),
        ("93.184.215.14", None),
        ("2606:4700::1111", None),
    ],
)
def test_known_targets(address: str, why: str | None) -> None:
    assert refusal(ip(address), OPEN) == why


@given(st.sampled_from(NON_PUBLIC_V4).flatmap(lambda net: st.ip_addresses(network=net)))
def test_non_public_ipv4_is_refused_and_its_mapped_form_too(address: IPAddress) -> None:
    assert refusal(address, OPEN) is not None
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    assert refusal(mapped, OPEN) is not None
    nat64 = ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(address))
    assert refusal(nat64, OPEN) is not None


@given(st.sampled_from(NON_PUBLIC_V6).flatmap(lambda net: st.ip_addresses(network=net)))
def test_non_public_ipv6_is_refused(address: IPAddress) -> None:
    assert refusal(address, OPEN) is not None


@given(
    st.one_of(
        st.ip_addresses(network="8.0.0.0/7"),
        st.ip_addresses(network="93.184.0.0/16"),
        st.ip_addresses(network="2a00::/12"),
    )
)
def test_public_unicast_is_allowed(address: IPAddress) -> None:
    assert refusal(address, OPEN) is None


@given(st.sampled_from(sorted(METADATA_ADDRESSES, key=str)))
def test_metadata_is_refused_whatever_the_allow_list(address: IPAddress) -> None:
    assert refusal(address, EVERYTHING) == "a cloud metadata address"
    with pytest.raises(DestinationRefusedError):
        check_addresses("metadata.example", [address], AddressPolicy.parse(["metadata.example"]))


@given(st.ip_addresses(network="10.0.0.0/8"))
def test_an_allow_listed_network_opens_exactly_itself(address: IPAddress) -> None:
    assert refusal(address, DEV) is None
    assert refusal(address, AddressPolicy.parse(["10.1.0.0/16"])) is None or (
        address not in ipaddress.ip_network("10.1.0.0/16")
    )
    assert refusal(address, AddressPolicy.parse(["192.168.0.0/16"])) == "a private address"


@given(st.lists(st.ip_addresses(v=4, network="8.0.0.0/8"), min_size=1), st.booleans())
def test_one_refused_address_refuses_the_host(public: list[IPAddress], first: bool) -> None:
    assert check_addresses("bank.example", public, OPEN) == public
    bad = ip("127.0.0.1")
    mixed = [bad, *public] if first else [*public, bad]
    with pytest.raises(DestinationRefusedError, match="public addresses only"):
        check_addresses("bank.example", mixed, OPEN)


def test_an_allow_listed_name_opens_what_it_resolves_to_but_metadata() -> None:
    loopback = [ip("127.0.0.1"), ip("::1")]
    assert check_addresses("localhost", loopback, DEV) == loopback
    with pytest.raises(DestinationRefusedError):
        check_addresses("localhost", loopback, OPEN)
    with pytest.raises(DestinationRefusedError):
        check_addresses("localhost", [ip("169.254.169.254")], DEV)
    with pytest.raises(DestinationRefusedError):
        check_addresses("nothing.example", [], OPEN)


@pytest.mark.parametrize(
    ("url", "policy", "fragment"),
    [
        ("http://bank.example/hooks", OPEN, "must use https"),
        ("https://127.0.0.1/hooks", OPEN, "loopback"),
        ("https://[::1]:8443/hooks", OPEN, "loopback"),
        ("https://10.0.0.1/hooks", OPEN, "private"),
        ("https://[fc00::1]/hooks", OPEN, "unique-local"),
        ("http://169.254.169.254/latest/meta-data/", EVERYTHING, "metadata"),
        ("https://[fd00:ec2::254]/", OPEN, "metadata"),
        ("https://metadata.google.internal/", EVERYTHING, "metadata"),
        ("https://user:pw@bank.example/", OPEN, "credentials"),
        ("https://[fe80::1%25eth0]/", EVERYTHING, "zone"),
        ("ftp://bank.example/", OPEN, "http"),
        ("https://127.0.0.1#@bank.example/", OPEN, "loopback"),
        ("http://bank.example/", DEV, "must use https"),
    ],
)
def test_urls_refused(url: str, policy: AddressPolicy, fragment: str) -> None:
    with pytest.raises(DestinationRefusedError, match=fragment):
        check_url(url, policy)


@pytest.mark.parametrize(
    ("url", "policy", "port", "allow_listed"),
    [
        ("https://bank.example/hooks", OPEN, 443, False),
        ("https://BANK.example.:8443/hooks", OPEN, 8443, False),
        ("http://127.0.0.1:9000/hooks", DEV, 9000, True),
        ("http://localhost/hooks", DEV, 80, True),
        ("http://10.2.3.4/hooks", DEV, 80, True),
        ("http://[::1]:8080/", DEV, 8080, True),
    ],
)
def test_urls_allowed(url: str, policy: AddressPolicy, port: int, allow_listed: bool) -> None:
    target = check_url(url, policy)
    assert (target.port, target.allow_listed) == (port, allow_listed)


@pytest.mark.parametrize("entry", ["not a host", "10.0.0.0/33", "http://x", "a..b"])
def test_bad_allow_list_entries_are_named(entry: str) -> None:
    with pytest.raises(ValueError, match="allow-list entry"):
        AddressPolicy.parse([entry])


@given(
    st.one_of(
        st.sampled_from(NON_PUBLIC_V4).flatmap(lambda net: st.ip_addresses(network=net)),
        st.sampled_from(NON_PUBLIC_V6).flatmap(lambda net: st.ip_addresses(network=net)),
    ),
    st.sampled_from(["http", "https"]),
    st.one_of(st.none(), st.integers(min_value=1, max_value=65535)),
)
def test_no_url_reaches_a_non_public_literal(
    address: IPAddress, scheme: str, port: int | None
) -> None:
    host = str(address) if address.version == 4 else f"[{address}]"
    url = f"{scheme}://{host}{'' if port is None else f':{port}'}/hooks"
    with pytest.raises(DestinationRefusedError):
        check_url(url, OPEN)
    if address in ipaddress.ip_network("10.0.0.0/8"):
        assert check_url(url, DEV).allow_listed
