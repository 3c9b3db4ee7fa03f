"""Several uvicorn workers, each accepting connections on its own SO_REUSEPORT socket.

Why not `uvicorn --workers N`: its workers share one listening socket, and the worker that wakes
first accepts every connection waiting (asyncio and uvloop accept in a loop). Keep-alive clients
(a reverse proxy, a browser, the load benchmark) then stay with whichever worker accepted them.
Measured with two workers: one served the whole event-page load at 100 % of a core while the
other idled, so a second worker added nothing. With SO_REUSEPORT every worker listens on a
socket of its own and the kernel spreads new connections across them.

The supervisor starts the workers, replaces one that dies, and on SIGINT/SIGTERM asks each to
shut down gracefully (finishing the requests it has). It tells two deaths apart by whether the
worker had got as far as serving (its lifespan started and its socket accepting, reported
through an Event the worker sets):

- A worker that dies after it served (SIGKILLed by an OOM killer, a crash in a request) is
  restarted after a backoff (0.5 s, doubling to 10 s; back to 0.5 s once a worker of that slot
  has served for a minute), however often: the other workers keep serving meanwhile, and
  stopping them too would turn one worker's trouble into an outage.
- A worker that exits before it ever served (an import error, settings it refuses, uvicorn's
  start-up failure status 3) cannot start, and its replacement would fail alike: the server
  stops with status 3 and a log line naming the worker's exit status.
- A worker killed by a signal before it served is ambiguous (an OOM killer during start-up, or a
  segfault on import): restarted with the backoff, but five of those in a row stop the server.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from podium import metrics

log = logging.getLogger("podium.workers")

# A worker still running this long after SIGTERM is killed (uvicorn waits for open requests).
SHUTDOWN_TIMEOUT_SECONDS = 30.0
# The longest the supervisor sleeps between looks (it wakes at once when a worker dies).
CHECK_INTERVAL_SECONDS = 0.5
# Restart delays of a slot whose worker died: first, doubling up to the cap; reset once the
# slot's worker has served this long (a worker killed once an hour is restarted in 0.5 s).
RESTART_DELAY_SECONDS = 0.5
RESTART_DELAY_CAP_SECONDS = 10.0
HEALTHY_AFTER_SECONDS = 60.0
# Workers killed by a signal before they served, in a row, that stop the server.
UNSERVED_KILLS_ALLOWED = 5


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


class _WorkerServer(uvicorn.Server):
    """uvicorn's server, reporting to the supervisor once it is serving."""

    def __init__(self, config: uvicorn.Config, serving: Event) -> None:
        super().__init__(config)
        self.serving = serving

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn's startup runs the app's lifespan startup, then listens on the socket; it
        # exits the process (status 3) when the lifespan fails.
        await super().startup(sockets)
        if self.started:
            self.serving.set()


def _worker(app: str, host: str, port: int, options: dict[str, Any], serving: Event) -> None:
    """One worker process: its own socket, one uvicorn server (which listens on it)."""
    try:
        sock = _socket(host, port)
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", host, port, exc.strerror)
        sys.exit(STARTUP_FAILURE)
    config = uvicorn.Config(app, host=host, port=port, **options)
    _WorkerServer(config, serving).run(sockets=[sock])


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


@dataclass
class RestartBackoff:
    """The restart delays of one worker slot: doubling from `first` to `cap`, reset by a worker
    that served `healthy_after` seconds."""

    first: float = RESTART_DELAY_SECONDS
    cap: float = RESTART_DELAY_CAP_SECONDS
    healthy_after: float = HEALTHY_AFTER_SECONDS
    restarts: int = 0  # in a row, since the slot's worker last served `healthy_after`

    def next_delay(self) -> float:
        delay = min(self.first * 2.0**self.restarts, self.cap)
        self.restarts += 1
        return delay

    def served(self, seconds: float) -> None:
        if seconds >= self.healthy_after:
            self.restarts = 0


def describe_exit(exitcode: int | None) -> str:
    """`killed by SIGKILL` or `exit status 1`, for the log."""
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit status {exitcode}"


@dataclass
class _Slot:
    """One of the N workers: the process serving it now, or the time its replacement starts."""

    backoff: RestartBackoff = field(default_factory=RestartBackoff)
    process: BaseProcess | None = None
    serving: Event | None = None
    serving_since: float | None = None  # when the supervisor saw `serving` set
    restart_at: float = 0.0


class _Supervisor:
    def __init__(
        self, app: str, host: str, port: int, workers: int, options: dict[str, Any]
    ) -> None:
        self.args = (app, host, port, options)
        self.context = multiprocessing.get_context("spawn")
        self.slots = [_Slot() for _ in range(workers)]
        self.stopping = threading.Event()
        self.status = 0
        self.unserved_kills = 0

    def _start(self, slot: _Slot) -> None:
        slot.serving = self.context.Event()
        slot.serving_since = None
        slot.process = self.context.Process(
            target=_worker, args=(*self.args, slot.serving), name="podium-worker"
        )
        slot.process.start()
        log.info("started worker %s", slot.process.pid)

    def _stop_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping.set()

    def run(self) -> int:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._stop_signal)
        for slot in self.slots:
            self._start(slot)
        _, host, port, _ = self.args
        log.info(
            "serving on http://%s:%s with %d workers (Ctrl-C to stop)", host, port, len(self.slots)
        )
        while not self.stopping.is_set():
            self._wait()
            now = time.monotonic()
            for slot in self.slots:
                if self.stopping.is_set():
                    break
                self._look_after(slot, now)
        self._shut_down()
        return self.status

    def _wait(self) -> None:
        """Until a worker dies, a restart is due, or CHECK_INTERVAL_SECONDS have passed."""
        sentinels = [s.process.sentinel for s in self.slots if s.process is not None]
        due = [s.restart_at for s in self.slots if s.process is None]
        timeout = CHECK_INTERVAL_SECONDS
        if due:
            timeout = max(0.0, min(timeout, min(due) - time.monotonic()))
        # A stop signal interrupts nothing here (Python retries the wait), hence the interval.
        wait(sentinels, timeout)

    def _look_after(self, slot: _Slot, now: float) -> None:
        process = slot.process
        if process is None:
            if now >= slot.restart_at:
                self._start(slot)
            return
        assert slot.serving is not None
        if slot.serving_since is None and slot.serving.is_set():
            slot.serving_since = now
            self.unserved_kills = 0
        if process.is_alive():
            if slot.serving_since is not None:
                slot.backoff.served(now - slot.serving_since)
            return
        process.join()
        how = describe_exit(process.exitcode)
        if slot.serving_since is None:
            self._died_before_serving(slot, process, how)
            return
        slot.backoff.served(now - slot.serving_since)
        self._restart_later(
            slot,
            f"worker {process.pid} died ({how}) after serving {now - slot.serving_since:.1f} s",
        )

    def _died_before_serving(self, slot: _Slot, process: BaseProcess, how: str) -> None:
        killed = process.exitcode is not None and process.exitcode < 0
        if killed:
            self.unserved_kills += 1
        if not killed or self.unserved_kills >= UNSERVED_KILLS_ALLOWED:
            # It cannot start (import, settings, the app's lifespan), or dies every time it
            # tries: another try would fail alike.
            in_a_row = f", {self.unserved_kills} in a row" if killed else ""
            log.error(
                "worker %s failed to start (%s before it served%s); stopping the server",
                process.pid,
                how,
                in_a_row,
            )
            self.status = STARTUP_FAILURE
            self.stopping.set()
            return
        self._restart_later(slot, f"worker {process.pid} died ({how}) before it served")

    def _restart_later(self, slot: _Slot, what: str) -> None:
        delay = slot.backoff.next_delay()
        log.warning(
            "%s; restarting it in %.1f s (restart %d in a row)", what, delay, slot.backoff.restarts
        )
        slot.process = slot.serving = None
        slot.restart_at = time.monotonic() + delay

    def _shut_down(self) -> None:
        processes = [s.process for s in self.slots if s.process is not None]
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
