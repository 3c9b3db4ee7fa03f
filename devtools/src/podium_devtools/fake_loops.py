"""A local fake of Loops' transactional email endpoint, served over real HTTP on 127.0.0.1.

    with FakeLoops(api_key="test-key") as loops:
        settings = settings.model_copy(update=loops.settings_update())
        ...
        assert loops.requests[0].json["dataVariables"]["auth_link"].startswith("http")

It answers like Loops: 200 `{"success": true}` for a well-formed request with the right bearer
key, 401 for a wrong key, 400 for a body without `transactionalId` or `email`. Every request is
recorded, accepted or not. `fail_next(status)` makes the next requests fail; `delay` makes every
answer slow (to exercise the client's timeout).
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass
from typing import Any, Self

from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from podium_devtools.background_server import BackgroundServer

TRANSACTIONAL_PATH = "/api/v1/transactional"


@dataclass(frozen=True)
class LoopsRequest:
    """One request the fake received."""

    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    json: Any  # None when the body was not JSON


class FakeLoops:
    def __init__(
        self, *, api_key: str = "fake-loops-key", transactional_id: str = "tx-login"
    ) -> None:
        self.api_key = api_key
        self.transactional_id = transactional_id
        self.delay = 0.0
        self._failures: list[int] = []
        self._requests: list[LoopsRequest] = []
        # Handlers run on the server's thread, tests read from theirs.
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = BackgroundServer(
            Starlette(routes=[Route(TRANSACTIONAL_PATH, self._transactional, methods=["POST"])]),
            name="the fake Loops",
        )

    @property
    def url(self) -> str:
        """Base URL, as `PODIUM_LOOPS_API_URL` takes it."""
        return self._server.url

    def settings_update(self) -> dict[str, Any]:
        """The Settings fields that point the app at this fake."""
        return {
            "loops_api_url": self.url,
            "loops_api_key": SecretStr(self.api_key),
            "loops_transactional_id": self.transactional_id,
        }

    @property
    def requests(self) -> list[LoopsRequest]:
        with self._lock:
            return list(self._requests)

    def fail_next(self, count: int = 1, *, status: int = 500) -> None:
        with self._lock:
            self._failures.extend([status] * count)

    # -- HTTP ------------------------------------------------------------------------------

    async def _transactional(self, request: Request) -> JSONResponse:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        with self._lock:
            self._requests.append(
                LoopsRequest(request.method, request.url.path, dict(request.headers), body)
            )
            failure = self._failures.pop(0) if self._failures else None
            delay = self.delay
        if delay:
            await self._sleep(delay)
        if failure is not None:
            return JSONResponse({"success": False, "message": "injected failure"}, failure)
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return JSONResponse({"success": False, "message": "Invalid API key"}, 401)
        if not isinstance(body, dict) or not body.get("transactionalId") or not body.get("email"):
            return JSONResponse(
                {"success": False, "message": "transactionalId and email are required"}, 400
            )
        return JSONResponse({"success": True}, 200)

    async def _sleep(self, seconds: float) -> None:
        # Cut short when the fake stops, so stopping never waits for a slow answer.
        await asyncio.to_thread(self._closing.wait, seconds)

    # -- lifecycle -------------------------------------------------------------------------

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
