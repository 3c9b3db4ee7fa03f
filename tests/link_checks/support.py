"""Shared arrangements of the link-check tests: the fake's allow-list, a resolver for names."""

from __future__ import annotations

import ipaddress

from podium.link_checks.checks import GitHub
from podium.link_checks.fetcher import Fetcher
from podium.link_checks.guard import AddressGuard, system_resolver
from podium.link_checks.runner import RunnerConfig
from podium_devtools.fake_links import FakeLinks

# Names the tests make resolve (no DNS server needed): an itch.io page served by the fake on
# loopback, names that lead to private addresses, a name with one public and one private address.
NAMES = {
    "ada.itch.io": ["127.0.0.1"],
    "intranet.example": ["10.20.30.40"],
    "metadata.example": ["169.254.169.254"],
    "mixed.example": ["93.184.215.14", "192.168.1.10"],
    "six.example": ["::ffff:127.0.0.1"],
}


async def resolve_names(host: str, port: int) -> list[str]:
    if host in NAMES:
        return NAMES[host]
    return await system_resolver(host, port)


def guard_for(fake: FakeLinks | None) -> AddressGuard:
    """The guard with only the fake's loopback address and port exempt."""
    allowed = frozenset() if fake is None else {(ipaddress.ip_address("127.0.0.1"), fake.port)}
    return AddressGuard(frozenset(allowed), resolve_names)


def fetcher_for(fake: FakeLinks | None, timeout: float = 2.0) -> Fetcher:
    return Fetcher(guard_for(fake), timeout=timeout)


def config_for(fake: FakeLinks, *, token: bool = False, **overrides: object) -> RunnerConfig:
    values: dict[str, object] = {
        "guard": guard_for(fake),
        "github": GitHub(fake.url, fake.token if token else None),
        "timeout": 1.0,
        "max_attempts": 3,
        "retry_seconds": 0.0,
    }
    return RunnerConfig(**{**values, **overrides})  # type: ignore[arg-type]


def itch_url(fake: FakeLinks, path: str) -> str:
    return f"http://ada.itch.io:{fake.port}{path}"
