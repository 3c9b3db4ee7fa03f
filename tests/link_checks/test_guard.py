"""The SSRF guard's address rules: which addresses it refuses, after resolution."""

from __future__ import annotations

import ipaddress

import pytest
from pydantic import SecretStr, ValidationError

from podium.config import Environment, Settings
from podium.link_checks.guard import AddressGuard, LinkRefused, parse_allowed, refusal
from tests.link_checks.support import guard_for, resolve_names

REFUSED = [
    "127.0.0.1",
    "127.1.2.3",
    "10.0.0.1",
    "172.16.5.4",
    "172.31.255.255",
    "192.168.0.1",
    "169.254.169.254",  # cloud metadata
    "169.254.0.1",
    "100.64.0.1",  # carrier-grade NAT
    "100.127.255.254",
    "0.0.0.0",
    "224.0.0.1",
    "239.255.255.250",
    "255.255.255.255",
    "192.0.2.1",
    "::",
    "::1",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::127.0.0.1",  # IPv4-compatible
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
]
ALLOWED = ["93.184.215.14", "140.82.112.3", "8.8.8.8", "2606:4700::6810:84e5", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", REFUSED)
def test_refuses_addresses_that_are_not_public(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ALLOWED)
def test_lets_public_addresses_through(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def test_names_the_kind_of_address_refused() -> None:
    assert "metadata" in (refusal(ipaddress.ip_address("169.254.169.254")) or "")
    assert "loopback" in (refusal(ipaddress.ip_address("::ffff:127.0.0.1")) or "")


@pytest.mark.parametrize(
    ("host", "why"),
    [
        ("localhost", "loopback"),  # the system's resolver
        ("intranet.example", "private"),
        ("metadata.example", "link-local"),
        ("six.example", "loopback"),
    ],
)
async def test_refuses_a_name_that_resolves_to_a_refused_address(host: str, why: str) -> None:
    with pytest.raises(LinkRefused, match=why):
        await guard_for(None).vetted(host, 80)


async def test_refuses_a_name_when_any_of_its_addresses_is_refused() -> None:
    with pytest.raises(LinkRefused, match=r"192\.168\.1\.10"):
        await guard_for(None).vetted("mixed.example", 443)


async def test_refuses_a_name_that_does_not_resolve() -> None:
    with pytest.raises(LinkRefused, match="does not resolve"):
        await guard_for(None).vetted("no-such-host.invalid", 80)


async def test_the_allow_list_exempts_exactly_its_address_and_port() -> None:
    guard = AddressGuard(parse_allowed(["127.0.0.1:8080", "[::1]:9090"]), resolve_names)
    assert await guard.vetted("127.0.0.1", 8080) == ["127.0.0.1"]
    assert await guard.vetted("::1", 9090) == ["::1"]
    with pytest.raises(LinkRefused):
        await guard.vetted("127.0.0.1", 8081)
    with pytest.raises(LinkRefused):
        await guard.vetted("127.0.0.2", 8080)


@pytest.mark.parametrize("entry", ["localhost:80", "127.0.0.1", "127.0.0.1:0", "10.0.0.1:x"])
def test_allow_list_entries_must_be_address_and_port(entry: str) -> None:
    with pytest.raises(ValueError, match="PODIUM_LINK_CHECK_ALLOW_HOSTS"):
        parse_allowed([entry])


def test_production_refuses_an_allow_list() -> None:
    production = {
        "env": Environment.PRODUCTION,
        "database_url": "postgresql://podium@db/podium",
        "jwt_secret": SecretStr("j" * 40),
        "id_key": SecretStr("k" * 40),
        "loops_api_key": SecretStr("loops"),
        "loops_transactional_id": "tx",
    }
    Settings(**production)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="must not be set in production"):
        Settings(**production, link_check_allow_hosts="127.0.0.1:8080")  # type: ignore[arg-type]


def test_development_reads_the_allow_list_from_its_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PODIUM_LINK_CHECK_ALLOW_HOSTS", "127.0.0.1:8080, [::1]:9090")
    assert Settings().link_check_allow_hosts == ("127.0.0.1:8080", "[::1]:9090")
