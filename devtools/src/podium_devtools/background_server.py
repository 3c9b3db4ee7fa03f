"""Serve an ASGI app over real HTTP on 127.0.0.1 from a daemon thread (for the local fakes).

    with BackgroundServer(app, name="the fake Loops") as server:
        httpx.get(server.url + "/health")

Port 0 (the default) binds an ephemeral port; `url` reads the bound one from the socket.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Self

import uvicorn
from starlette.types import ASGIApp

HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 10.0


class BackgroundServer:
    """uvicorn serving `app` from a daemon thread; start()/stop() or a context manager."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        name: str,
        port: int = 0,
        graceful_shutdown_seconds: int = 2,
    ) -> None:
        self.app = app
        self.name = name  # says which fake failed, in errors and the thread's name
        self.port = port
        self.graceful_shutdown_seconds = graceful_shutdown_seconds
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None or not self._server.started:
            raise RuntimeError(f"{self.name} is not running")
        port = self._server.servers[0].sockets[0].getsockname()[1]
        return f"http://{HOST}:{port}"

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError(f"{self.name} is already running")
        config = uvicorn.Config(
            self.app,
            host=HOST,
            port=self.port,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            timeout_graceful_shutdown=self.graceful_shutdown_seconds,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=_run, args=(server,), name=self.name, daemon=True)
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} could not start on {HOST}:{self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout=STOP_TIMEOUT_SECONDS)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _run(server: uvicorn.Server) -> None:
    # uvicorn exits when it cannot bind; start() sees the thread end and raises instead.
    with contextlib.suppress(SystemExit):
        server.run()
