"""A local fake of Cloudflare Turnstile's siteverify endpoint, served over real HTTP on 127.0.0.1.

    with FakeTurnstile(secret="test-secret") as turnstile:
        settings = settings.model_copy(update=turnstile.settings_update())
        turnstile.accept("good-token")       # this token passes (once, like Turnstile's)
        turnstile.delay = 2.0                # every answer comes late (a client timeout)
        turnstile.fail_next(500)             # the next answer is an HTTP 500

It answers like siteverify: a form POST of `secret`, `response` and optionally `remoteip`, and
JSON `{"success": bool, "error-codes": [...]}`: `invalid-input-secret` for a wrong secret,
`missing-input-response` without a token, `invalid-input-response` for a token it was not told
to accept, `timeout-or-duplicate` for one already used. Every request is recorded.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import parse_qs

from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from podium_devtools.background_server import BackgroundServer

SITEVERIFY_PATH = "/turnstile/v0/siteverify"


@dataclass(frozen=True)
class SiteverifyRequest:
    form: dict[str, str]


class FakeTurnstile:
    def __init__(self, *, secret: str = "fake-turnstile-secret") -> None:
        self.secret = secret
        self.delay = 0.0
        self._accepted: set[str] = set()
        self._used: set[str] = set()
        self._failures: list[int] = []
        self._requests: list[SiteverifyRequest] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = BackgroundServer(
            Starlette(routes=[Route(SITEVERIFY_PATH, self._siteverify, methods=["POST"])]),
            name="the fake Turnstile",
            graceful_shutdown_seconds=1,
        )

    @property
    def verify_url(self) -> str:
        return self._server.url + SITEVERIFY_PATH

    def settings_update(self) -> dict[str, Any]:
        """The Settings fields that point the app at this fake."""
        return {
            "turnstile_secret": SecretStr(self.secret),
            "turnstile_verify_url": self.verify_url,
        }

    def accept(self, token: str) -> None:
        with self._lock:
            self._accepted.add(token)

    def fail_next(self, status: int = 500) -> None:
        with self._lock:
            self._failures.append(status)

    @property
    def requests(self) -> list[SiteverifyRequest]:
        with self._lock:
            return list(self._requests)

    async def _siteverify(self, request: Request) -> JSONResponse:
        # Parsed by hand: Starlette's form parser needs python-multipart, not a dependency here.
        form = {
            name: values[-1] for name, values in parse_qs((await request.body()).decode()).items()
        }
        with self._lock:
            self._requests.append(SiteverifyRequest(form))
            failure = self._failures.pop(0) if self._failures else None
            delay = self.delay
        if delay:
            await asyncio.to_thread(self._closing.wait, delay)
        if failure is not None:
            return JSONResponse({"error": "injected failure"}, failure)
        token = form.get("response", "")
        with self._lock:
            if form.get("secret") != self.secret:
                codes = ["invalid-input-secret"]
            elif not token:
                codes = ["missing-input-response"]
            elif token in self._used:
                codes = ["timeout-or-duplicate"]
            elif token not in self._accepted:
                codes = ["invalid-input-response"]
            else:
                self._used.add(token)
                codes = []
        return JSONResponse({"success": not codes, "error-codes": codes})

    def start(self) -> Self:
        self._closing.clear()
        self._server.start()
        return self

    def stop(self) -> None:
        self._closing.set()
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
