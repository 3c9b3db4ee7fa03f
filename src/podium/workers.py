"""Several uvicorn workers, each accepting connections on its own SO_REUSEPORT socket.

Why not `uvicorn --workers N`: its workers share one listening socket, and the worker that wakes
first accepts every connection waiting (asyncio and uvloop accept in a loop). Keep-alive clients
(a reverse proxy, a browser, the load benchmark) then stay with whichever worker accepted them.
Measured with two workers: one served the whole event-page load at 100 % of a core while the
other idled, so a second worker added nothing. With SO_REUSEPORT every worker listens on a
socket of its own and the kernel spreads new connections across them.

The supervisor here does what uvicorn's does otherwise: starts the workers, replaces one that
dies, and on SIGINT/SIGTERM asks each to shut down gracefully (finishing the requests it has).
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import threading
import time
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from podium import metrics

log = logging.getLogger("podium.workers")

# A worker still running this long after SIGTERM is killed (uvicorn waits for open requests).
SHUTDOWN_TIMEOUT_SECONDS = 30.0
# How often the supervisor looks for a worker that died.
CHECK_INTERVAL_SECONDS = 0.5
# A worker dying this soon after it started, this many times in a row, is a crash loop (an app
# that fails to import, say): the supervisor stops instead of restarting it for ever.
EARLY_EXIT_SECONDS = 5.0
EARLY_EXITS_ALLOWED = 5


def _socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound with SO_REUSEPORT (not listening yet)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _worker(app: str, host: str, port: int, options: dict[str, Any]) -> None:
    """One worker process: its own socket, one uvicorn server (which listens on it)."""
    try:
        sock = _socket(host, port)
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", host, port, exc.strerror)
        sys.exit(STARTUP_FAILURE)
    config = uvicorn.Config(app, host=host, port=port, **options)
    uvicorn.Server(config).run(sockets=[sock])


def serve(app: str, *, host: str, port: int, workers: int, **options: Any) -> int:
    """Serve the ASGI app `module:attribute` with `workers` processes; the exit status.

    `options` are uvicorn.Config's (factory, proxy_headers, log_level, …).
    """
    if workers <= 1:
        uvicorn.run(app, host=host, port=port, **options)
        return 0
    # Fail now, with the plain error, if the address is taken by a server without SO_REUSEPORT
    # (or not ours to bind): a bound socket that does not listen receives no connections.
    try:
        _socket(host, port).close()
    except OSError as exc:
        raise SystemExit(f"podium: cannot listen on {host}:{port}: {exc.strerror}") from None
    # Every worker writes its metrics to files in one directory, so that a scrape through any
    # of them reads the whole server's (podium.metrics).
    with metrics.multiprocess_directory():
        return _Supervisor(app, host, port, workers, options).run()


class _Supervisor:
    def __init__(
        self, app: str, host: str, port: int, workers: int, options: dict[str, Any]
    ) -> None:
        self.args = (app, host, port, options)
        self.count = workers
        self.context = multiprocessing.get_context("spawn")
        self.stopping = threading.Event()
        self.status = 0
        self.started_at: dict[int | None, float] = {}
        self.early_exits = 0

    def _start(self) -> BaseProcess:
        process = self.context.Process(target=_worker, args=self.args, name="podium-worker")
        process.start()
        self.started_at[process.pid] = time.monotonic()
        log.info("started worker %s", process.pid)
        return process

    def _crash_loop(self, process: BaseProcess) -> bool:
        lived = time.monotonic() - self.started_at.pop(process.pid, 0.0)
        self.early_exits = self.early_exits + 1 if lived < EARLY_EXIT_SECONDS else 0
        return self.early_exits >= EARLY_EXITS_ALLOWED

    def _stop_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping.set()

    def run(self) -> int:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._stop_signal)
        processes = [self._start() for _ in range(self.count)]
        _, host, port, _ = self.args
        log.info("serving on http://%s:%s with %d workers (Ctrl-C to stop)", host, port, self.count)
        while not self.stopping.wait(CHECK_INTERVAL_SECONDS):
            for index, process in enumerate(processes):
                if process.is_alive():
                    continue
                if process.exitcode == STARTUP_FAILURE or self._crash_loop(process):
                    # The app cannot start (settings, database, socket) or dies as soon as it
                    # does: another try would fail alike.
                    log.error("worker %s failed to start; stopping", process.pid)
                    self.status = STARTUP_FAILURE
                    self.stopping.set()
                    break
                log.warning(
                    "worker %s exited (%s); starting another", process.pid, process.exitcode
                )
                processes[index] = self._start()
        self._shut_down(processes)
        return self.status

    def _shut_down(self, processes: list[BaseProcess]) -> None:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn's graceful shutdown
        deadline = time.monotonic() + SHUTDOWN_TIMEOUT_SECONDS
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.warning("worker %s did not stop in time; killing it", process.pid)
                process.kill()
                process.join()
