"""Which addresses the link checker may connect to: public ones only (the SSRF guard).

A project's links are written by its owner, so every URL is hostile: `http://169.254.169.254/`
would read the cloud's metadata service from inside, `http://localhost:5432/` probe the
database. The guard resolves the name itself, refuses the whole name when any of its addresses
is not a public one, and hands the connection the address it vetted (podium.link_checks.fetcher
connects to exactly that address, so a DNS answer that changes between check and connect, "DNS
rebinding", changes nothing).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# The names for the reasons, by network (checked in this order; the first match names it).
_REFUSED_NETWORKS: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "an unspecified address"),
    ("127.0.0.0/8", "a loopback address"),
    ("10.0.0.0/8", "a private address"),
    ("172.16.0.0/12", "a private address"),
    ("192.168.0.0/16", "a private address"),
    ("169.254.0.0/16", "a link-local address (cloud metadata lives there)"),
    ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
    ("192.0.0.0/24", "a reserved address"),
    ("192.0.2.0/24", "a documentation address"),
    ("198.18.0.0/15", "a benchmarking address"),
    ("198.51.100.0/24", "a documentation address"),
    ("203.0.113.0/24", "a documentation address"),
    ("224.0.0.0/4", "a multicast address"),
    ("240.0.0.0/4", "a reserved address"),
    ("::/128", "an unspecified address"),
    ("::1/128", "a loopback address"),
    # IPv4-compatible addresses (deprecated): a way to spell an IPv4 address in IPv6.
    ("::/96", "a reserved address"),
    ("fc00::/7", "a private (unique local) address"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a site-local address"),
    ("ff00::/8", "a multicast address"),
    ("100::/64", "a discard address"),
    ("2001:db8::/32", "a documentation address"),
)
_NETWORKS = tuple((ipaddress.ip_network(net), why) for net, why in _REFUSED_NETWORKS)
# NAT64's well-known prefix: the last 32 bits are an IPv4 address the gateway connects to.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def refusal(address: IPAddress) -> str | None:
    """Why the checker must not connect to `address`, or None for a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        # IPv6 spellings of an IPv4 address are judged by the IPv4 address they reach.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            why = refusal(embedded)
            return None if why is None else f"{why} ({embedded}, spelt as IPv6)"
    for network, why in _NETWORKS:
        if address in network:
            return why
    if not address.is_global:
        return "not a public address"
    return None


class LinkRefused(Exception):
    """A link the checker will not fetch: its scheme, or where its name leads."""


Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the system's resolver, as a connection would)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def parse_allowed(entries: Iterable[str]) -> frozenset[tuple[IPAddress, int]]:
    """`127.0.0.1:8080`, `[::1]:8080` → the (address, port) pairs exempt from the guard."""
    allowed = set()
    for entry in entries:
        host, _, port = entry.rpartition(":")
        try:
            address = ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
            number = int(port)
        except ValueError:
            raise ValueError(
                f"PODIUM_LINK_CHECK_ALLOW_HOSTS: {entry!r} is not an address:port pair"
            ) from None
        if not 0 < number < 65536:
            raise ValueError(f"PODIUM_LINK_CHECK_ALLOW_HOSTS: {entry!r} has no valid port")
        allowed.add((address, number))
    return frozenset(allowed)


@dataclass(frozen=True)
class AddressGuard:
    """Resolves a host and returns the addresses a connection may use, or raises LinkRefused."""

    allowed: frozenset[tuple[IPAddress, int]] = frozenset()
    resolver: Resolver = field(default=system_resolver)

    async def vetted(self, host: str, port: int) -> list[str]:
        try:
            literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            names = [str(literal)]
        else:
            try:
                names = await self.resolver(host, port)
            except OSError as exc:
                raise LinkRefused(f"{host} does not resolve ({exc.strerror or exc})") from None
            if not names:
                raise LinkRefused(f"{host} does not resolve")
        addresses = [ipaddress.ip_address(name.split("%", 1)[0]) for name in names]
        for address in addresses:
            if (address, port) in self.allowed:
                continue
            why = refusal(address)
            if why is not None:
                # One refused address refuses the name: which one a connection would pick is
                # not ours to predict.
                shown = host if literal is not None else f"{host} ({address})"
                raise LinkRefused(f"{shown} is {why}")
        return [str(address) for address in addresses]
