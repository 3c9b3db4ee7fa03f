"""The client address the rate limits key: the peer, or X-Forwarded-For from trusted proxies."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from podium.http.client_address import client_address, parse_address

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"))


def scope(peer: str | None, *forwarded: str) -> dict[str, Any]:
    return {
        "type": "http",
        "client": (peer, 4321) if peer else None,
        "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded],
    }


def test_without_trusted_proxies_the_peer_is_the_client_whatever_it_forwards() -> None:
    assert client_address(scope("10.1.2.3", "203.0.113.7"), ()) == "10.1.2.3"


def test_an_untrusted_peer_cannot_name_another_client() -> None:
    assert client_address(scope("198.51.100.9", "203.0.113.7"), PROXIES) == "198.51.100.9"


def test_a_trusted_proxy_names_the_client() -> None:
    assert client_address(scope("10.1.2.3", "203.0.113.7"), PROXIES) == "203.0.113.7"


def test_the_right_most_untrusted_hop_is_the_client_not_what_it_wrote_before() -> None:
    # The client wrote "1.1.1.1" itself; our proxies appended 203.0.113.7 and then 10.0.0.5.
    forwarded = scope("10.1.2.3", "1.1.1.1, 203.0.113.7, 10.0.0.5")
    assert client_address(forwarded, PROXIES) == "203.0.113.7"


def test_several_forwarded_headers_are_read_as_one_list() -> None:
    assert client_address(scope("10.1.2.3", "1.1.1.1", "203.0.113.7"), PROXIES) == "203.0.113.7"


def test_a_trusted_proxy_without_the_header_is_the_client() -> None:
    assert client_address(scope("10.1.2.3"), PROXIES) == "10.1.2.3"


def test_only_trusted_hops_leave_the_farthest_as_the_client() -> None:
    assert client_address(scope("10.1.2.3", "10.9.9.9, 10.0.0.5"), PROXIES) == "10.9.9.9"


def test_a_hop_that_is_not_an_address_stops_at_the_proxy_that_wrote_it() -> None:
    assert client_address(scope("10.1.2.3", "203.0.113.7, bogus"), PROXIES) == "10.1.2.3"


def test_ipv6_clients_are_keyed_by_their_64() -> None:
    first = client_address(scope("2001:db8:1:2::1"), ())
    second = client_address(scope("2001:db8:1:2:ffff::9"), ())
    assert first == second == "2001:db8:1:2::/64"
    assert client_address(scope("2001:db8:1:3::1"), ()) != first


def test_ports_brackets_and_mapped_addresses_are_read() -> None:
    assert client_address(scope("10.1.2.3", "203.0.113.7:5555"), PROXIES) == "203.0.113.7"
    assert client_address(scope("fd00::1", "[2001:db8::1]:443"), PROXIES) == "2001:db8::/64"
    assert client_address(scope("::ffff:198.51.100.9"), ()) == "198.51.100.9"


def test_a_request_without_a_peer_address_shares_one_key() -> None:
    assert client_address(scope(None, "203.0.113.7"), PROXIES) == "unknown"


@pytest.mark.parametrize("value", ["", "bogus", "1.2.3", "1.2.3.4.5", "[::1", "::g"])
def test_what_is_not_an_address_is_none(value: str) -> None:
    assert parse_address(value) is None
