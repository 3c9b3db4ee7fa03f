"""A lean HTTP/1.1 keep-alive client on asyncio protocols, for the load generator.

httpx costs a few hundred microseconds of Python per request; on a 2-core machine that shares
its cores with the server and PostgreSQL, the load generator would then measure itself. This
client does only what the benchmark needs: one request at a time per connection, bodies framed
by Content-Length or chunked encoding, a pool with a connection cap. Bodies are kept as they came
(a compressed body stays compressed: its length is the bytes on the wire); the head is kept raw
and parsed only when a caller asks for a header.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import NamedTuple, cast


class HttpResponse(NamedTuple):
    status: int
    body: bytes  # as sent: still compressed when the response has a Content-Encoding
    head: bytes = b""  # the status line and headers, without the blank line

    def header(self, name: str) -> str | None:
        """The first value of header `name` (any case), or None."""
        wanted = name.lower().encode()
        for line in self.head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == wanted:
                return value.strip().decode("latin-1")
        return None


class HttpError(Exception):
    """The connection failed or the response was not HTTP/1.1 we understand."""


# uvicorn closes a keep-alive connection idle for 5 s (`timeout_keep_alive`). A request sent
# on one just as the server closes it is lost ("connection lost", no response): seen as 4
# errors in a 3-second step when several connections of a previous, busier step expired
# together. Idle connections older than this are closed by the pool instead, as browsers and
# httpx do (their keep-alive expiry).
IDLE_EXPIRY_SECONDS = 4.0


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[HttpResponse, bool]] | None = None
        self.closed = False
        self.idle_since = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(HttpError(f"connection lost: {exc or 'closed by server'}"))

    def send(self, data: bytes) -> asyncio.Future[tuple[HttpResponse, bool]]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.buffer.clear()
        self.transport.write(data)
        return self.waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is None or self.waiter.done():
            return
        try:
            parsed = _parse(self.buffer)
        except (ValueError, IndexError) as exc:
            self.waiter.set_exception(HttpError(f"unparseable response: {exc}"))
            return
        if parsed is not None:
            self.waiter.set_result(parsed)


def _parse(buffer: bytearray) -> tuple[HttpResponse, bool] | None:
    """The response in `buffer` and whether the connection stays open, or None if incomplete."""
    head_end = buffer.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    head = bytes(buffer[:head_end])
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length: int | None = None
    chunked = False
    keep_alive = True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            keep_alive = b"close" not in value.lower()
    start = head_end + 4
    if chunked:
        body = bytearray()
        position = start
        while True:
            line_end = buffer.find(b"\r\n", position)
            if line_end < 0:
                return None
            size = int(bytes(buffer[position:line_end]).split(b";")[0], 16)
            chunk_start = line_end + 2
            if len(buffer) < chunk_start + size + 2:
                return None
            if size == 0:
                return HttpResponse(status, bytes(body), head), keep_alive
            body += buffer[chunk_start : chunk_start + size]
            position = chunk_start + size + 2
    length = length or 0
    if len(buffer) < start + length:
        return None
    return HttpResponse(status, bytes(buffer[start : start + length]), head), keep_alive


class HttpPool:
    """Keep-alive connections to one host, at most `max_connections` open at once."""

    def __init__(self, host: str, port: int, max_connections: int) -> None:
        self.host, self.port = host, port
        self.max_connections = max_connections
        self._idle: list[_Connection] = []
        self._open = 0
        self._waiting: deque[asyncio.Future[_Connection | None]] = deque()
        self.peak_open = 0

    def build(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None = None
    ) -> bytes:
        """The bytes of a request; build once, send many times."""
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")

    async def _acquire(self) -> _Connection:
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and time.monotonic() - conn.idle_since < IDLE_EXPIRY_SECONDS:
                return conn
            conn.close()
            self._open -= 1
        if self._open >= self.max_connections:
            waiter: asyncio.Future[_Connection | None] = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            handed = await waiter
            if handed is not None:
                return handed
        self._open += 1
        self.peak_open = max(self.peak_open, self._open)
        try:
            _, conn = await asyncio.get_running_loop().create_connection(
                _Connection, self.host, self.port
            )
        except OSError as exc:
            self._hand_over(None)  # frees the slot taken above
            raise HttpError(f"connect failed: {exc}") from exc
        return conn

    def _hand_over(self, conn: _Connection | None) -> None:
        """Give a free connection (or, with None, a free slot) to the oldest waiter."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                if conn is None:
                    self._open -= 1
                waiter.set_result(conn)
                return
        if conn is not None:
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
        else:
            self._open -= 1

    async def send(self, request: bytes, seconds: float) -> HttpResponse:
        conn = await self._acquire()
        try:
            async with asyncio.timeout(seconds):
                response, keep_alive = await conn.send(request)
        except BaseException:
            conn.close()
            self._hand_over(None)
            raise
        if keep_alive and not conn.closed:
            self._hand_over(conn)
        else:
            conn.close()
            self._hand_over(None)
        return response

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()
