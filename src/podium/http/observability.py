"""Around everything: the request id, the request metrics and the one log line per request.

The outermost layer of the app (outside Starlette's ServerErrorMiddleware, see
`install`), so what it counts and logs is what the client got: a 500 from the error handler, a
503 from the request deadline, CORS's refusals, a legacy redirect.
"""

from __future__ import annotations

import logging
import os
import re
import time
from urllib.parse import unquote_plus

from fastapi import FastAPI
from prometheus_client.metrics import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from podium import logs, metrics
from podium.http.spec_paths import spec_paths

access_log = logging.getLogger(logs.ACCESS_LOGGER)

# An X-Request-ID from the client (or a proxy) is kept when it is this short and made of these
# characters (UUIDs, trace ids such as AWS's `Root=1-…`); anything else gets a new id, so a log
# line can hold no injected newline, quote or megabyte.
REQUEST_ID = re.compile(rb"[A-Za-z0-9._:=+/-]{1,128}")
REQUEST_ID_HEADER = b"x-request-id"

# A query parameter whose name contains one of these carries a secret (the login link's
# `token`, a join `code`): its value never reaches a log line.
SECRET_PARAMETER = re.compile(r"token|code|secret|password|key|signature|auth", re.IGNORECASE)
REDACTED = "[redacted]"

# Requests no route took (404s of unknown paths): one label value, not one per path.
UNMATCHED = "unmatched"
# The methods counted by name; any other (a client may send any token) is `OTHER`, so the
# method label cannot grow without bound either.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER = "other"


def install(app: FastAPI, *, log_requests: bool) -> None:
    """Make `RequestObserver` the app's outermost layer.

    Starlette builds the stack as ServerErrorMiddleware, the app's middleware, then the router,
    and ServerErrorMiddleware answers an unhandled exception's 500 with the `send` it was given:
    a layer added with `add_middleware` is inside it and never sees that response (nor could
    it put the request id on it).
    """
    build = app.build_middleware_stack

    def build_middleware_stack() -> ASGIApp:
        return RequestObserver(build(), log_requests=log_requests)

    app.build_middleware_stack = build_middleware_stack  # type: ignore[method-assign]


class RequestObserver:
    """Pure ASGI: one `send` wrapper, a clock, two metric updates and one log line."""

    def __init__(self, app: ASGIApp, *, log_requests: bool) -> None:
        self.app = app
        self.log_requests = log_requests
        # The metric children by label values: `labels()` takes a lock and builds a key each
        # time; a dict lookup is a fraction of it.
        self._counters: dict[tuple[str, str, int], Counter] = {}
        self._histograms: dict[tuple[str, str], Histogram] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = _request_id(scope["headers"])
        header = (REQUEST_ID_HEADER, rid.encode())
        status = 500  # what the server answers when the app raises before responding

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        context = logs.request_id.set(rid)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            logs.request_id.reset(context)
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            method = scope["method"]
            self._count(method if method in METHODS else OTHER, route, status, elapsed)
            if self.log_requests and access_log.isEnabledFor(logging.INFO):
                # makeRecord and handle: `info()` without its walk up the stack for the caller's
                # file and line, which the line does not show.
                fields = {
                    "request_id": rid,
                    "method": method,
                    "route": route,
                    "path": loggable_target(scope),
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "client": _client(scope),
                }
                access_log.handle(
                    access_log.makeRecord(
                        access_log.name,
                        logging.INFO,
                        __file__,
                        0,
                        "request",
                        (),
                        None,
                        extra=fields,
                    )
                )

    def _count(self, method: str, route: str, status: int, elapsed: float) -> None:
        counter = self._counters.get((method, route, status))
        if counter is None:
            counter = metrics.REQUESTS.labels(method, route, str(status))
            self._counters[(method, route, status)] = counter
        counter.inc()
        histogram = self._histograms.get((method, route))
        if histogram is None:
            histogram = metrics.LATENCY.labels(method, route)
            self._histograms[(method, route)] = histogram
        histogram.observe(elapsed)


def _request_id(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            if REQUEST_ID.fullmatch(value):
                return value.decode()
            break
    # 128 random bits as 32 hex digits, like a UUID4's hex without its version bits: a fifth of
    # uuid.uuid4()'s cost.
    return os.urandom(16).hex()


def _route_template(scope: Scope) -> str:
    """The template of the route that served the request (`/events/{event_id}`).

    The router leaves the route it chose in the scope. A response given before routing (a
    legacy redirect, a 405, a 413) is matched against the spec's paths instead; a path no route
    or spec path knows is `unmatched`.
    """
    route = scope.get("route")
    path: str | None = getattr(route, "path", None)
    if path is not None:
        return path
    for spec_path in spec_paths(scope["app"]):
        if spec_path.pattern.match(scope["path"]):
            return spec_path.template
    return UNMATCHED


def loggable_target(scope: Scope) -> str:
    """The path and query, with the value of every secret-looking query parameter redacted."""
    query: bytes = scope.get("query_string", b"")
    if not query:
        return str(scope["path"])
    parts = []
    for part in query.decode("latin-1").split("&"):
        name, equals, _ = part.partition("=")
        parts.append(f"{name}={REDACTED}" if equals and _is_secret(name) else part)
    return f"{scope['path']}?{'&'.join(parts)}"


def _is_secret(name: str) -> bool:
    return SECRET_PARAMETER.search(unquote_plus(name)) is not None


def _client(scope: Scope) -> str | None:
    client: tuple[str, int] | None = scope.get("client")
    return client[0] if client else None
