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
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import uvicorn
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

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
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._app = Starlette(
            routes=[Route(TRANSACTIONAL_PATH, self._transactional, methods=["POST"])]
        )

    @property
    def url(self) -> str:
        """Base URL, as `PODIUM_LOOPS_API_URL` takes it."""
        if self._server is None or not self._server.started:
            raise RuntimeError("the fake Loops is not running")
        port = self._server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

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
        if self._server is not None:
            raise RuntimeError("already running")
        self._closing.clear()
        config = uvicorn.Config(
            self._app,
            host="127.0.0.1",
            port=0,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="fake-loops", daemon=True)
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the fake Loops could not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._closing.set()
        server.should_exit = True
        thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
