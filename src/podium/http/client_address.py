"""The client's address, as the rate limits key it: the socket's peer, or what a trusted reverse
proxy says in `X-Forwarded-For` (`PODIUM_TRUSTED_PROXIES`).

X-Forwarded-For is a list each proxy appends its peer to, and anyone can send one: only the hops
added by proxies we trust are believed. Read from the right, the first hop that is not a trusted
proxy is the client (anything left of it is whatever the client chose to write). IPv6 clients are
keyed by their /64, the block one household or device is given, so they cannot step around a
limit by changing the low bits of their address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.types import Scope

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# The key of a request without a peer address (a Unix socket): one shared key.
UNKNOWN = "unknown"
IPV6_CLIENT_PREFIX = 64


def parse_address(value: str) -> Address | None:
    """`1.2.3.4`, `1.2.3.4:80`, `::1`, `[::1]:80` → the address; None for anything else."""
    text = value.strip()
    if text.startswith("["):
        text, closed, _ = text[1:].partition("]")
        if not closed:
            return None
    elif text.count(":") == 1:  # IPv4 with a port
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address | None, proxies: Sequence[Network]) -> bool:
    return address is not None and any(address in network for network in proxies)


def client_ip(scope: Scope, proxies: Sequence[Network]) -> Address | None:
    """The client's address for this request (None without a peer address)."""
    client = scope.get("client")
    peer = parse_address(client[0]) if client else None
    if not proxies or not _trusted(peer, proxies):
        return peer
    hops: list[str] = []
    for name, value in scope["headers"]:
        if name == b"x-forwarded-for":
            hops.extend(value.decode("latin-1").split(","))
    nearest = peer
    for hop in reversed(hops):
        address = parse_address(hop)
        if address is None:
            # Not an address: the proxy that wrote it is the last hop known.
            return nearest
        if not _trusted(address, proxies):
            return address
        nearest = address
    # Every hop a trusted proxy: the farthest one is the client.
    return nearest


def key_form(address: Address | None) -> str:
    """The address as a rate-limit key: IPv4 as is, IPv6 as its /64."""
    if address is None:
        return UNKNOWN
    if isinstance(address, ipaddress.IPv6Address):
        network = ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False)
        return str(network)
    return str(address)


def client_address(scope: Scope, proxies: Sequence[Network]) -> str:
    """The client's address as the rate limits key it."""
    return key_form(client_ip(scope, proxies))
