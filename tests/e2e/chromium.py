"""Headless Chromium for the browser tests: the driver, a static site to load pages from, and
what the browser saw (console messages, network requests) for assertions and failure reports.

Debian's chromium and chromedriver only: a Service path means selenium-manager never runs (it
would try to download a driver). Every hostname resolves to nothing, so a page that needs the
internet fails here as it would offline, instead of hanging on the machine's closed hosts.
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from podium_devtools.sockets import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Git-ignored, beside the other local state.
ARTIFACTS = Path(__file__).resolve().parents[2] / ".podium" / "e2e"
LOOPBACK = "127.0.0.1"
WEB_SCHEMES = ("http", "https", "ws", "wss")

# Headless as root on a machine without internet: no sandbox, no GPU, and none of the
# background traffic (updates, sync, QUIC probes) Chromium would aim at hosts it cannot reach.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {LOOPBACK}",
    "--window-size=1280,1024",
)


@contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    """A headless Chromium with a fresh profile, logging its console and network events."""
    with tempfile.TemporaryDirectory(prefix="podium-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
        try:
            yield driver
        finally:
            driver.quit()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def end_headers(self) -> None:
        # Every load reads the files as they are now.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


@contextmanager
def static_site(directory: Path) -> Iterator[str]:
    """Serve `directory` on a free loopback port in a thread; yield the site's origin."""
    handler = partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer((LOOPBACK, free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, name="static-site", daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass(frozen=True)
class Request:
    """One request the page's network stack made, as DevTools reported it."""

    request_id: str
    url: str
    method: str
    headers: dict[str, str]
    kind: str  # DevTools' resource type: Document, Script, Fetch, Preflight …
    status: int | None
    failure: str | None  # net::ERR_… or the CORS error, when it failed

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    def __str__(self) -> str:
        outcome = self.failure or f"answered {self.status}"
        return f"{self.kind} {self.method} {self.url} {outcome}"


class BrowserLog:
    """What the browser reported since the last `drain()`: console messages and requests.

    Chromium hands each log entry out once, so read them through one object per test.
    """

    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver
        self.console: list[str] = []
        self._requests: dict[str, dict[str, Any]] = {}

    def drain(self) -> None:
        """Clear what is buffered so far (what an earlier test left behind)."""
        self.driver.get_log("browser")
        self.driver.get_log("performance")
        self.console.clear()
        self._requests.clear()

    def collect(self) -> None:
        self.console += [entry["message"] for entry in self.driver.get_log("browser")]
        for entry in self.driver.get_log("performance"):
            self._note(json.loads(entry["message"])["message"])

    def _note(self, message: dict[str, Any]) -> None:
        method, params = message.get("method", ""), message.get("params", {})
        if method == "Network.requestWillBeSent":
            request, request_id = params["request"], params["requestId"]
            if urlsplit(request["url"]).scheme not in WEB_SCHEMES:
                return  # data: URLs, and the new-tab page's chrome:// resources
            if "redirectResponse" in params and request_id in self._requests:
                # A redirect reuses the request's id: keep the hop that answered it.
                hop = self._requests.pop(request_id)
                hop["status"] = params["redirectResponse"]["status"]
                self._requests[f"{request_id}/{len(self._requests)}"] = hop
            self._requests[request_id] = {
                "url": request["url"],
                "method": request["method"],
                "headers": request.get("headers", {}),
                "kind": params.get("type", "Other"),
                "status": None,
                "failure": None,
            }
        elif method == "Network.responseReceived" and params["requestId"] in self._requests:
            noted = self._requests[params["requestId"]]
            noted["status"] = params["response"]["status"]
            noted["kind"] = params.get("type", noted["kind"])
        elif method == "Network.loadingFailed" and params["requestId"] in self._requests:
            noted = self._requests[params["requestId"]]
            cors = params.get("corsErrorStatus", {}).get("corsError")
            noted["failure"] = params.get("errorText", "failed") + (f" ({cors})" if cors else "")

    @property
    def requests(self) -> list[Request]:
        return [Request(request_id, **noted) for request_id, noted in self._requests.items()]

    def report(self) -> str:
        """Everything seen, for an assertion message; refused preflights are sent again to
        show the server's reason, which the browser keeps to itself."""
        lines = ["requests:", *(f"  {request}" for request in self.requests)]
        refused = [r for r in self.requests if r.kind == "Preflight" and not _ok(r.status)]
        if refused:
            lines += ["refused preflights, sent again:", *(f"  {_replay(r)}" for r in refused)]
        lines += ["console:", *(f"  {message}" for message in self.console)]
        return "\n".join(lines)


def _ok(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def _replay(preflight: Request) -> str:
    sent = {
        name: value
        for name, value in preflight.headers.items()
        if name.lower() == "origin" or name.lower().startswith("access-control-request-")
    }
    try:
        response = httpx.options(preflight.url, headers=sent, timeout=5)
    except httpx.HTTPError as exc:
        return f"OPTIONS {preflight.path} {sent}: {exc!r}"
    return f"OPTIONS {preflight.path} {sent} answered {response.status_code}: {response.text[:300]}"


@contextmanager
def artifacts_on_failure(driver: webdriver.Chrome, name: str) -> Iterator[None]:
    """On an exception inside, keep a screenshot and the page's DOM in .podium/e2e/."""
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))
        (ARTIFACTS / f"{name}.html").write_text(driver.page_source)
        raise
