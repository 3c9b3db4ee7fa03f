"""The SSRF-safe fetcher over real HTTP: refusals happen before any connection, every redirect
hop is guarded again, and redirects, bytes and time are bounded."""

from __future__ import annotations

import time

import pytest

from podium.link_checks.fetcher import (
    MAX_REDIRECTS,
    Fetcher,
    FetchFailed,
    FetchTimeout,
    TooManyRedirects,
)
from podium.link_checks.guard import AddressGuard, LinkRefused, parse_allowed
from podium_devtools.fake_links import FakeLinks
from podium_devtools.sockets import free_port
from tests.link_checks.support import fetcher_for, guard_for, itch_url


async def test_fetches_an_allowed_page(fake: FakeLinks) -> None:
    fake.page("/hello", "hi there")
    async with fetcher_for(fake) as fetcher:
        answer = await fetcher.get(fake.url + "/hello")
    assert (answer.status, answer.body, answer.truncated) == (200, b"hi there", False)


async def test_a_name_connects_to_the_vetted_address_with_its_own_host_header(
    fake: FakeLinks,
) -> None:
    fake.page("/rover", "game")
    async with fetcher_for(fake) as fetcher:
        answer = await fetcher.get(itch_url(fake, "/rover"))
    assert answer.status == 200
    [request] = fake.requests
    assert request.headers["host"] == f"ada.itch.io:{fake.port}"


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00::1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://intranet.example/",
        "http://metadata.example/latest/meta-data/",
        "http://0x7f000001/",
    ],
)
async def test_refuses_private_and_metadata_addresses_without_connecting(url: str) -> None:
    # What is refused, and why, for each: see test_guard.py.
    started = time.monotonic()
    async with fetcher_for(None, timeout=5.0) as fetcher:
        with pytest.raises(LinkRefused):
            await fetcher.get(url)
    # Refused at once: a connection attempt to 10.0.0.1 would hang until the time limit.
    assert time.monotonic() - started < 1.0


async def test_refuses_loopback_by_address_and_by_name(fake: FakeLinks) -> None:
    fake.page("/secret", "internal")
    async with fetcher_for(None) as fetcher:  # no allow-list: the fake is just loopback
        for url in (
            f"http://127.0.0.1:{fake.port}/secret",
            f"http://localhost:{fake.port}/secret",
            f"http://[::1]:{fake.port}/secret",
            f"http://ada.itch.io:{fake.port}/secret",
        ):
            with pytest.raises(LinkRefused, match="loopback"):
                await fetcher.get(url)
    assert fake.requests == []  # nothing reached the server


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "gopher://x/"])
async def test_refuses_schemes_other_than_http_and_https(url: str) -> None:
    async with fetcher_for(None) as fetcher:
        with pytest.raises(LinkRefused, match="scheme"):
            await fetcher.get(url)


@pytest.mark.parametrize(
    "location",
    [
        "http://10.0.0.1/admin",
        "http://169.254.169.254/latest/meta-data/",
        "http://intranet.example/",
        "http://[::1]/",
        "file:///etc/passwd",
    ],
)
async def test_refuses_a_redirect_to_a_refused_address(fake: FakeLinks, location: str) -> None:
    fake.page("/go", status=302, location=location)
    async with fetcher_for(fake) as fetcher:
        with pytest.raises(LinkRefused):
            await fetcher.get(fake.url + "/go")
    assert fake.paths() == ["/go"]


async def test_a_redirect_to_another_loopback_port_is_refused(fake: FakeLinks) -> None:
    # The allow-list names the fake's port only: loopback elsewhere stays refused.
    other = free_port()
    fake.page("/go", status=307, location=f"http://127.0.0.1:{other}/")
    async with fetcher_for(fake) as fetcher:
        with pytest.raises(LinkRefused, match="loopback"):
            await fetcher.get(fake.url + "/go")


async def test_follows_a_few_redirects_and_stops_a_loop(fake: FakeLinks) -> None:
    fake.page("/one", status=301, location="/two")
    fake.page("/two", status=302, location=itch_url(fake, "/three"))
    fake.page("/three", "arrived")
    fake.page("/loop-a", status=302, location="/loop-b")
    fake.page("/loop-b", status=302, location="/loop-a")
    async with fetcher_for(fake) as fetcher:
        answer = await fetcher.get(fake.url + "/one")
        assert (answer.body, answer.url) == (b"arrived", itch_url(fake, "/three"))
        fake.requests.clear()
        with pytest.raises(TooManyRedirects):
            await fetcher.get(fake.url + "/loop-a")
    assert len(fake.requests) == MAX_REDIRECTS + 1


async def test_the_token_never_follows_a_redirect_to_another_origin(fake: FakeLinks) -> None:
    fake.page("/api", status=302, location=itch_url(fake, "/elsewhere"))
    fake.page("/elsewhere", "ok")
    async with fetcher_for(fake) as fetcher:
        await fetcher.get(fake.url + "/api", headers={"Authorization": "Bearer t0ken"})
    first, second = fake.requests
    assert first.headers["authorization"] == "Bearer t0ken"
    assert "authorization" not in second.headers


async def test_a_slow_answer_times_out(fake: FakeLinks) -> None:
    fake.page("/slow", "late", delay=3.0)
    started = time.monotonic()
    async with fetcher_for(fake, timeout=0.5) as fetcher:
        with pytest.raises(FetchTimeout):
            await fetcher.get(fake.url + "/slow")
    assert time.monotonic() - started < 2.0


async def test_the_time_limit_covers_the_whole_redirect_chain(fake: FakeLinks) -> None:
    fake.page("/a", status=302, location="/b", delay=0.3)
    fake.page("/b", status=302, location="/c", delay=0.3)
    fake.page("/c", "done", delay=0.3)
    async with fetcher_for(fake, timeout=0.7) as fetcher:
        with pytest.raises(FetchTimeout):
            await fetcher.get(fake.url + "/a")


async def test_reads_at_most_the_size_limit(fake: FakeLinks) -> None:
    fake.page("/big", "x" * 300_000)
    async with Fetcher(guard_for(fake), timeout=2.0, max_bytes=10_000) as fetcher:
        answer = await fetcher.get(fake.url + "/big")
    assert (len(answer.body), answer.truncated) == (10_000, True)


async def test_a_closed_port_is_a_failed_fetch() -> None:
    port = free_port()
    guard = AddressGuard(parse_allowed([f"127.0.0.1:{port}"]))
    async with Fetcher(guard, timeout=2.0) as fetcher:
        with pytest.raises(FetchFailed):
            await fetcher.get(f"http://127.0.0.1:{port}/")
