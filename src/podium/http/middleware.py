"""In front of the app: CORS and compression, request size, and characters PostgreSQL cannot
store."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import unquote_to_bytes

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette_compress import CompressMiddleware

from podium.errors import ErrorCode, error_response
from podium.http.spec_paths import spec_paths

# What a browser app sends and needs to read. No credentials: the API takes bearer tokens in
# `Authorization`, never cookies, so `Access-Control-Allow-Credentials` stays off.
CORS_REQUEST_HEADERS = (
    "Authorization",
    "Content-Type",
    "If-None-Match",
    "X-Request-ID",
    "X-Turnstile-Token",
)
CORS_EXPOSED_HEADERS = ("Retry-After", "ETag", "Location", "X-Request-ID")
CORS_MAX_AGE_SECONDS = 600


class Cors(CORSMiddleware):
    """Starlette's CORS, outermost, so a preflight is answered before the 405 check and the
    legacy redirects, and every response (a 308, a 413, an error) carries the CORS headers.

    The methods allowed are those of the spec's operations, read on the first request (the
    routes are not all there when the middleware is built). A refused preflight is the API's
    JSON error, not Starlette's plain text.
    """

    def __init__(self, app: ASGIApp, origins: Sequence[str]) -> None:
        super().__init__(
            app,
            allow_origins=origins,
            allow_methods=(),
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            max_age=CORS_MAX_AGE_SECONDS,
        )
        self._methods_known = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._methods_known and scope["type"] == "http":
            methods = sorted(
                {method for path in spec_paths(scope["app"]) for method in path.methods}
            )
            self.allow_methods = methods
            self.preflight_headers["Access-Control-Allow-Methods"] = ", ".join(methods)
            self._methods_known = True
        await super().__call__(scope, receive, send)

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        refused = bytes(response.body).decode().removeprefix("Disallowed CORS ")
        headers = {
            name: value
            for name, value in response.headers.items()
            if name.startswith("access-control-") or name == "vary"
        }
        return error_response(
            400,
            ErrorCode.CORS_REFUSED,
            f"this cross-origin request is not allowed (its {refused})",
            headers=headers,
        )


# Any of these in Accept-Encoding may select an encoding the compression layer has (`*`
# selects them all); without one, the library would answer identity, so it is not called.
_ENCODING_NAMES = (b"zstd", b"br", b"gzip", b"*")


def _may_accept_an_encoding(accept_encoding: bytes) -> bool:
    value = accept_encoding.lower()
    return any(name in value for name in _ENCODING_NAMES)


class BrowserEdge:
    """CORS and compression as one layer, outermost, calling each only for the requests it can
    change: a request with an `Origin` goes through `Cors` and then `CompressMiddleware`, one
    with an `Accept-Encoding` that may select an encoding through `CompressMiddleware`, any
    other straight to the app.

    Both are the libraries' own; this layer only spares the requests they would pass through
    unchanged their per-request cost (~27 µs measured on the constant route with both stacked:
    `Cors` parses the headers, and the compressor wraps `send` to inspect every response). Such
    a request is one with neither header: the benchmark's, a server-to-server client's. One
    difference: a response of 1,000 bytes or more to a request with no `Accept-Encoding` at all
    no longer says `Vary: Accept-Encoding` (identity is what any client accepts; every
    compressed response says it).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        origins: Sequence[str],
        minimum_size: int,
        zstd_level: int,
        brotli_quality: int,
        gzip_level: int,
    ) -> None:
        self.app = app
        self.compress = CompressMiddleware(
            app,
            minimum_size=minimum_size,
            zstd_level=zstd_level,
            brotli_quality=brotli_quality,
            gzip_level=gzip_level,
        )
        self.cors = Cors(self.compress, origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            origin = encoding = False
            for name, value in scope["headers"]:
                if name == b"origin":
                    origin = True
                elif name == b"accept-encoding" and _may_accept_an_encoding(value):
                    encoding = True
            if origin:
                await self.cors(scope, receive, send)
                return
            if encoding:
                await self.compress(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodySizeLimit:
    """413 for a body over the limit, whether or not its Content-Length is honest.

    The body is read (at most `max_bytes` of it) before the app runs: FastAPI turns any error
    raised while it reads a body into "error parsing the body", so the check cannot wait.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        after_body: list[Message] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client went away: the app sees that after the body, as it would have.
                after_body.append(message)
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        body: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        replay = [body, *after_body]

        async def replayed() -> Message:
            return replay.pop(0) if replay else await receive()

        await self.app(scope, replayed, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413,
            ErrorCode.REQUEST_TOO_LARGE,
            f"request bodies are limited to {self.max_bytes} bytes",
        )
        await response(scope, receive, send)


class RejectNulInUrl:
    """NUL cannot be stored or compared in PostgreSQL text: refuse it before any query runs.

    In the path it names nothing (404); in the query string it is a malformed parameter (422).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if "\x00" in scope["path"]:
                await error_response(404, ErrorCode.NOT_FOUND, "no such resource")(
                    scope, receive, send
                )
                return
            query: bytes = scope.get("query_string", b"")
            if b"\x00" in unquote_to_bytes(query):
                await error_response(
                    422,
                    ErrorCode.VALIDATION_ERROR,
                    "query parameters must not contain NUL characters",
                )(scope, receive, send)
                return
        await self.app(scope, receive, send)
