"""The server under test: `podium serve`'s workers in a subprocess (`loadbench/serve.py`).

Production mode, uvloop + httptools (uvicorn's defaults when installed, as for `podium serve`),
`--workers N`, no access log (`podium serve --no-access-log`): the access log is a per-request
cost a deployment chooses, and the load would otherwise measure the terminal.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from podium_devtools.sockets import LISTEN, free_port, sockets_on_port

BENCHMARKS_DIR = Path(__file__).resolve().parents[1]
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0


@dataclass
class ServerProcess:
    database_url: str
    workers: int
    port: int = field(default_factory=free_port)
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    id_key: str = field(default_factory=lambda: "bench-" + secrets.token_hex(16))
    pool_size: int | None = None
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            PODIUM_ENV="production",
            DATABASE_URL=self.database_url,
            PODIUM_JWT_SECRET=self.jwt_secret,
            PODIUM_ID_KEY=self.id_key,
            # Production refuses to start without mail settings; the benchmark sends no mail.
            PODIUM_LOOPS_API_KEY="bench-no-mail",
            PODIUM_LOOPS_TRANSACTIONAL_ID="bench-no-mail",
        )
        if self.pool_size is not None:
            env["PODIUM_DATABASE_POOL_SIZE"] = str(self.pool_size)
        return env

    def start(self) -> None:
        command = [sys.executable, "-m", "loadbench.serve", str(self.port), str(self.workers)]
        output = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            command,
            env=self.environment(),
            cwd=BENCHMARKS_DIR,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.process.returncode}; see {self.log_path}"
                )
            try:
                healthy = httpx.get(f"{self.base_url}/health", timeout=1.0).status_code == 200
                # Every worker listening on its own socket: connections opened before that
                # would all stay with the workers that were.
                if healthy and len(sockets_on_port(self.port, LISTEN)) >= self.workers:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server not ready within {START_TIMEOUT_SECONDS} s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
