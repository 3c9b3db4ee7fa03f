"""The link checker's HTTP client: SSRF-safe, bounded in redirects, bytes and time.

- only `http` and `https` URLs, at every hop;
- every connection goes through `AddressGuard`: the name is resolved once, every address it
  resolves to must be public (or on the tests' allow-list), and the socket connects to the
  vetted address itself; TLS still verifies the certificate for the name (SNI and the Host
  header stay the URL's), so nothing changes for an honest site;
- redirects are followed here, one hop at a time (at most MAX_REDIRECTS), each hop guarded
  again; credentials (the GitHub token) never follow a redirect to another origin;
- at most `max_bytes` of a body are read (as sent: identity encoding is asked for, and a
  compressed body is not inflated), the rest is left unread;
- the whole fetch, redirects included, takes at most `timeout` seconds;
- no proxy from the environment (a proxy would connect for us, past the guard), no cookies.
"""

from __future__ import annotations

import asyncio
import typing
from dataclasses import dataclass

import httpcore
import httpx

from podium.link_checks.guard import AddressGuard, LinkRefused

MAX_REDIRECTS = 5
MAX_BYTES = 1_000_000
USER_AGENT = "Podium-link-check/2 (+https://github.com/hackclub/podium)"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class TooManyRedirects(Exception):
    """More than MAX_REDIRECTS hops (a loop, or a chain too long to follow)."""


class FetchTimeout(Exception):
    """The fetch did not finish within its time limit."""


class FetchFailed(Exception):
    """No answer: the connection failed or broke (the message says how)."""


@dataclass(frozen=True)
class Fetched:
    status: int
    url: str  # after redirects
    headers: httpx.Headers
    body: bytes  # at most max_bytes of it
    truncated: bool


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses the guard vetted."""

    def __init__(self, guard: AddressGuard) -> None:
        self._guard = guard
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109  # httpcore's interface
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._guard.vetted(host, port)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # vetted() returns at least one address or raises
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109  # httpcore's interface
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise LinkRefused("unix sockets are not links")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport on a connection pool whose every socket goes through the guard."""

    def __init__(self, guard: AddressGuard, timeout: float) -> None:
        super().__init__(trust_env=False, retries=0)
        # httpx builds its pool without a network-backend option; the same pool, guarded.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=4,
            keepalive_expiry=timeout,
            network_backend=_GuardedBackend(guard),
        )


def _checked_url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise LinkRefused(f"not a valid URL ({exc})") from None
    if parsed.scheme not in ("http", "https"):
        raise LinkRefused(f"{parsed.scheme or 'no'} scheme: only http and https links are checked")
    if not parsed.host:
        raise LinkRefused("the URL names no host")
    # Credentials in a link are the owner's business, not something to send anywhere.
    return parsed.copy_with(username=None, password=None)


class Fetcher:
    """GET a URL under the rules above; one instance per job (its connections close with it)."""

    def __init__(self, guard: AddressGuard, *, timeout: float, max_bytes: int = MAX_BYTES) -> None:
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._client = httpx.AsyncClient(
            transport=_GuardedTransport(guard, timeout),
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(timeout),
            # Identity only, read raw: a compressed body would be inflated before it could be
            # counted (a small "zip bomb" is gigabytes unpacked).
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._client.aclose()

    async def get(self, url: str, *, headers: dict[str, str] | None = None) -> Fetched:
        """The answer at the end of the redirects; raises LinkRefused, TooManyRedirects,
        FetchTimeout or FetchFailed."""
        try:
            async with asyncio.timeout(self._timeout):
                return await self._follow(_checked_url(url), headers or {})
        except TimeoutError:
            raise FetchTimeout(f"no answer within {self._timeout:g} s") from None

    async def _follow(self, url: httpx.URL, headers: dict[str, str]) -> Fetched:
        origin = (url.scheme, url.host, url.port)
        for _ in range(MAX_REDIRECTS + 1):
            same_origin = (url.scheme, url.host, url.port) == origin
            sent = headers if same_origin else {}
            try:
                # No cookie set by one hop goes along to the next: a check is not a visit.
                self._client.cookies.clear()
                async with self._client.stream("GET", url, headers=sent) as response:
                    location = response.headers.get("location")
                    if response.status_code in _REDIRECTS and location:
                        url = _checked_url(str(url.join(location)))
                        continue
                    body, truncated = await self._read(response)
                    return Fetched(
                        response.status_code, str(url), response.headers, body, truncated
                    )
            except httpx.TimeoutException:
                raise FetchTimeout(f"no answer within {self._timeout:g} s") from None
            except httpx.HTTPError as exc:
                raise FetchFailed(
                    f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                ) from None
        raise TooManyRedirects(f"more than {MAX_REDIRECTS} redirects")

    async def _read(self, response: httpx.Response) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_raw():
            chunks.append(chunk)
            size += len(chunk)
            if size >= self._max_bytes:
                # The rest stays unread: the connection closes with the stream.
                return b"".join(chunks)[: self._max_bytes], True
        return b"".join(chunks), False
