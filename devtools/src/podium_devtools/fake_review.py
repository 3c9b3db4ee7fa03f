"""A fake review factory served over real HTTP on 127.0.0.1, for tests and local development.

It speaks the contract documented in `podium.services.review`, records every request it gets,
and fails on demand:

    with FakeReviewService() as review:
        settings = settings.model_copy(update={"review_factory_url": review.url, ...})
        ...
        review.fail_next(500)                # the next request answers HTTP 500
        review.fail_next(200, body="nope")   # … or a 200 that is not JSON
        review.hang_next(2.0)                # … or answers only after two seconds
        review.finish(check_id, {"score": 7})
        assert review.requests[0].headers["authorization"] == f"Bearer {review.token}"
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from podium_devtools.background_server import BackgroundServer


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    json: Any


@dataclass(frozen=True)
class _Failure:
    status: int
    body: str
    delay: float


@dataclass
class FakeReviewService:
    """The fake service; a context manager that serves it on an ephemeral port."""

    token: str = field(default_factory=lambda: "review-" + secrets.token_hex(8))
    requests: list[RecordedRequest] = field(default_factory=list)
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    _failures: deque[_Failure] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: BackgroundServer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._server = BackgroundServer(
            self._app(), name="the fake review service", graceful_shutdown_seconds=1
        )

    # --- controls --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self._server.url

    def fail_next(self, status: int = 500, *, body: str = '{"error": "boom"}') -> None:
        """Answer the next request with this status and body instead of serving it."""
        with self._lock:
            self._failures.append(_Failure(status, body, 0.0))

    def hang_next(self, seconds: float) -> None:
        """Serve the next request only after `seconds` (to trip a client's timeout)."""
        with self._lock:
            self._failures.append(_Failure(0, "", seconds))

    def finish(self, check_id: str, result: Any) -> None:
        """Mark a check done with this result."""
        with self._lock:
            self.checks[check_id].update(status="done", result=result)

    def fail_check(self, check_id: str, error: str = "could not review") -> None:
        with self._lock:
            self.checks[check_id].update(status="failed", error=error)

    # --- HTTP ------------------------------------------------------------------------------

    async def _intercept(self, request: Request) -> tuple[Any, Response | None]:
        """Record the request and return its JSON body, and the answer when it is unauthorised
        or a failure is due."""
        try:
            body = await request.json() if await request.body() else None
        except ValueError:
            body = None
        with self._lock:
            self.requests.append(
                RecordedRequest(request.method, request.url.path, dict(request.headers), body)
            )
            failure = self._failures.popleft() if self._failures else None
        if failure is not None and failure.delay:
            await asyncio.sleep(failure.delay)
        elif failure is not None:
            answer = Response(failure.body, failure.status, media_type="application/json")
            return body, answer
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return body, JSONResponse({"error": "unauthorized"}, status_code=401)
        return body, None

    async def _create_check(self, request: Request) -> Response:
        body, answered = await self._intercept(request)
        if answered is not None:
            return answered
        if not isinstance(body, dict) or not isinstance(body.get("reference"), str):
            return JSONResponse({"error": "reference is required"}, status_code=422)
        check_id = "chk_" + secrets.token_hex(8)
        check = {"id": check_id, "status": "pending", "reference": body["reference"]}
        with self._lock:
            self.checks[check_id] = check
        return JSONResponse({"id": check_id, "status": "pending"}, status_code=201)

    async def _read_check(self, request: Request) -> Response:
        _, answered = await self._intercept(request)
        if answered is not None:
            return answered
        with self._lock:
            check = self.checks.get(request.path_params["check_id"])
            snapshot = dict(check) if check is not None else None
        if snapshot is None:
            return JSONResponse({"error": "no such check"}, status_code=404)
        return JSONResponse(snapshot)

    def _app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/checks", self._create_check, methods=["POST"]),
                Route("/checks/{check_id}", self._read_check, methods=["GET"]),
            ]
        )

    # --- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> FakeReviewService:
        self._server.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.stop()
