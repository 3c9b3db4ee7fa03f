"""The request's deadline, and the 503 for a database fault raised in front of the routes."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from podium.errors import ApiError, DatabaseUnavailable, error_response, log_unavailable
from podium.errors import request_timed_out as timed_out


class RequestDeadline:
    """Every request gets `seconds` to start its response; past that it is cancelled and
    answered 503 `request_timeout` (with `Retry-After`) on the same keep-alive connection.

    A cancelled handler's transaction is ended by podium.db (the connection is terminated, so
    nothing of it is committed). It sits inside CORS and compression, so its answer carries
    their headers, and outside the legacy redirects, whose database fault is answered here:
    the app's exception handlers do not see what middleware raises.
    """

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_started(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                # The answer is decided: let it go out, however long the body takes.
                deadline.reschedule(None)
            await send(message)

        try:
            async with asyncio.timeout(self.seconds) as deadline:
                await self.app(scope, receive, send_started)
        except TimeoutError:
            if started or not deadline.expired():
                raise
            await _answer(scope, receive, send, timed_out(self.seconds))
        except DatabaseUnavailable as exc:
            if started:
                raise
            log_unavailable(f"{scope['method']} {scope['path']}", exc)
            await _answer(scope, receive, send, exc)


async def _answer(scope: Scope, receive: Receive, send: Send, error: ApiError) -> None:
    response = error_response(error.status_code, error.code, error.message, headers=error.headers)
    await response(scope, receive, send)
