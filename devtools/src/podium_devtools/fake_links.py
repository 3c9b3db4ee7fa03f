"""A fake GitHub REST API and fake web pages (itch.io, demos) over real HTTP on 127.0.0.1.

For the link-check tests:

    with FakeLinks() as fake:
        fake.repo("ada", "rover")                      # public
        fake.repo("ada", "secret", private=True)       # a 404 without the token, as on GitHub
        fake.page("/rover", ITCH_PLAYABLE)             # 200 with this HTML
        fake.page("/slow", "late", delay=5.0)          # answers after five seconds
        fake.page("/a", status=302, location="/b")     # a redirect (to anywhere, e.g. 10.0.0.1)
        fake.rate_limit_next(2)                        # the next two API calls: GitHub's 403
        fake.url + "/repos/ada/rover"

`requests` records (path, headers) of every request, to see which carried the token.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from dataclasses import dataclass, field
from types import TracebackType

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from podium_devtools.background_server import BackgroundServer

# An itch.io game page that runs in the browser (trimmed from a real page's markup) …
ITCH_PLAYABLE = """<!DOCTYPE html><html><head><title>Rover by ada</title></head><body>
<div class="view_game_page page_widget base_widget">
  <div class="game_frame game_pending" style="width: 960px; height: 620px">
    <div class="iframe_placeholder" data-iframe="&lt;iframe src=&quot;https://html-classic.itch.zone/html/123/index.html&quot;&gt;">
      <button class="button load_iframe_btn" type="button">Run game</button>
    </div>
  </div>
</div></body></html>"""
# … and one that only offers a download.
ITCH_DOWNLOAD_ONLY = """<!DOCTYPE html><html><head><title>Rover by ada</title></head><body>
<div class="view_game_page page_widget base_widget">
  <div class="upload"><a class="button download_btn" href="#">Download</a>
  <strong class="name">rover-linux.zip</strong></div>
</div></body></html>"""


@dataclass(frozen=True)
class Page:
    body: str
    status: int
    delay: float
    location: str | None


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]


@dataclass
class FakeLinks:
    token: str = field(default_factory=lambda: "ghp_" + secrets.token_hex(8))
    requests: list[RecordedRequest] = field(default_factory=list)
    _repos: dict[tuple[str, str], bool] = field(default_factory=dict)
    _pages: dict[str, Page] = field(default_factory=dict)
    _rate_limited: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: BackgroundServer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._server = BackgroundServer(
            Starlette(routes=[Route("/{path:path}", self._serve)]),
            name="the fake GitHub and itch.io",
            graceful_shutdown_seconds=1,
        )

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def repo(self, owner: str, name: str, *, private: bool = False) -> None:
        with self._lock:
            self._repos[owner.lower(), name.lower()] = private

    def page(
        self,
        path: str,
        body: str = "",
        *,
        status: int = 200,
        delay: float = 0.0,
        location: str | None = None,
    ) -> None:
        with self._lock:
            self._pages[path] = Page(body, status, delay, location)

    def rate_limit_next(self, count: int) -> None:
        with self._lock:
            self._rate_limited = count

    def paths(self) -> list[str]:
        with self._lock:
            return [request.path for request in self.requests]

    async def _serve(self, request: Request) -> Response:
        path = request.url.path
        with self._lock:
            self.requests.append(RecordedRequest(path, dict(request.headers)))
            page = self._pages.get(path)
            limited = path.startswith("/repos/") and self._rate_limited > 0
            if limited:
                self._rate_limited -= 1
        if page is not None:
            if page.delay:
                await asyncio.sleep(page.delay)
            headers = {"Location": page.location} if page.location else None
            return Response(page.body, page.status, headers=headers, media_type="text/html")
        if limited:
            return JSONResponse(
                {"message": "API rate limit exceeded"},
                status_code=403,
                headers={"X-RateLimit-Remaining": "0"},
            )
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "repos":
            return self._repository(request, parts[1], parts[2])
        return JSONResponse({"message": "Not Found"}, status_code=404)

    def _repository(self, request: Request, owner: str, name: str) -> Response:
        with self._lock:
            private = self._repos.get((owner.lower(), name.lower()))
        authorised = request.headers.get("authorization") == f"Bearer {self.token}"
        if private is None or (private and not authorised):
            # GitHub hides a private repository from whoever cannot read it.
            return JSONResponse({"message": "Not Found"}, status_code=404)
        return JSONResponse(
            {
                "full_name": f"{owner}/{name}",
                "private": private,
                "visibility": "private" if private else "public",
                "html_url": f"https://github.com/{owner}/{name}",
            }
        )

    def __enter__(self) -> FakeLinks:
        self._server.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.stop()
