"""The app served for real: uvicorn in a subprocess on a free loopback port, for tests over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from podium_devtools.sockets import free_port

START_TIMEOUT_SECONDS = 30


@contextmanager
def running_server(
    env: Mapping[str, str],
    *,
    expect_healthy: bool = True,
    log_path: Path | None = None,
    log_level: str = "warning",
) -> Iterator[str]:
    """Serve `podium.app:create_app` with `env` over this process's environment; yield its URL.

    Ready means /health answers 200, or answers at all when `expect_healthy` is false (a server
    whose database is down). With `log_path`, the server's output (development login links
    among it) goes to that file. The process is terminated on exit.
    """
    port = free_port()
    files = ExitStack()
    output = None if log_path is None else files.enter_context(log_path.open("wb"))
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "podium.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            log_level,
        ],
        env={**os.environ, **env},
        stdout=output,
        stderr=output,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                response = httpx.get(f"{base}/health", timeout=10)
                if response.status_code == 200 or not expect_healthy:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, "server exited"
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)
        files.close()
