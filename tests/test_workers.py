"""`podium serve --workers N`: every worker takes a share of the connections, and is supervised."""

from __future__ import annotations

import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from podium.workers import (
    RESTART_DELAY_CAP_SECONDS,
    UNSERVED_KILLS_ALLOWED,
    RestartBackoff,
    describe_exit,
)
from podium_devtools.sockets import ESTABLISHED, LISTEN, free_port, sockets_on_port

START_TIMEOUT_SECONDS = 60  # a loaded 2-core machine takes ~30 s to start two workers
CONNECTIONS = 32
POLL_SECONDS = 0.05


def serve_command(port: int, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "podium.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


@contextmanager
def serving(
    database_url: str, workers: int, log_path: Path | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`podium serve` on a free loopback port; stopped (SIGTERM) on the way out. With
    `log_path`, its output goes to that file."""
    port = free_port()
    files = ExitStack()
    output = None if log_path is None else files.enter_context(log_path.open("wb"))
    process = subprocess.Popen(
        [*serve_command(port, workers), "--no-access-log"],
        env={**os.environ, "DATABASE_URL": database_url, "PODIUM_ENV": "development"},
        stdout=output,
        stderr=output,
    )
    try:
        # Every worker listening on its own socket (until then the kernel sends them all to
        # the ones that are), and answering.
        _wait_until(lambda: len(sockets_on_port(port, LISTEN)) == workers and _healthy(port))
        yield process, port
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=40)
        files.close()


def _wait_until(condition: object, timeout: float = START_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def _workers(parent: int) -> list[int]:
    """The worker processes of `parent` (not multiprocessing's resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if ppid == parent and b"spawn_main" in command:
            found.append(int(entry.name))
    return found


def _connections_by_worker(workers: list[int], port: int) -> Counter[int]:
    """Established server-side connections on `port`, counted by the worker holding them."""
    inodes = sockets_on_port(port, ESTABLISHED)
    counts: Counter[int] = Counter()
    for pid in workers:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) in inodes:
                    counts[pid] += 1
            except OSError:
                continue
    return counts


def _burst_of_keep_alive_connections(port: int) -> list[socket.socket]:
    """CONNECTIONS connections opened at once (as a proxy or a browser does), each used once."""
    sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(CONNECTIONS)]
    for sock in sockets:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: podium\r\n\r\n")
    for sock in sockets:
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    return sockets


def test_every_worker_takes_a_share_of_a_burst_of_connections(database_url: str) -> None:
    # With uvicorn's own --workers, the first worker to wake accepted the whole burst.
    with serving(database_url, workers=2) as (process, port):
        sockets = _burst_of_keep_alive_connections(port)
        try:
            counts = _connections_by_worker(_workers(process.pid), port)
        finally:
            for sock in sockets:
                sock.close()

    assert sum(counts.values()) == CONNECTIONS
    # Spread by a hash of the address: the chance a fair split leaves one worker under 4 of
    # 32 is about 1 in 100,000.
    assert len(counts) == 2 and min(counts.values()) >= 4, counts


def test_a_worker_that_dies_is_replaced_and_sigterm_stops_them_all(database_url: str) -> None:
    with serving(database_url, workers=2) as (process, port):
        first = _workers(process.pid)
        os.kill(first[0], signal.SIGKILL)
        _wait_until(lambda: first[0] not in _workers(process.pid))
        _wait_until(
            lambda: len(sockets_on_port(port, LISTEN)) == 2 and len(_workers(process.pid)) == 2
        )
        assert _healthy(port)

        survivors = _workers(process.pid)
        process.terminate()
        assert process.wait(timeout=40) == 0
    assert not [pid for pid in survivors if Path(f"/proc/{pid}").exists()]


def test_a_worker_that_cannot_start_stops_the_server_with_uvicorns_startup_status() -> None:
    # No DATABASE_URL: the app's start-up fails in every worker; restarting would loop forever.
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    process = subprocess.run(
        serve_command(free_port(), workers=2),
        env={**env, "PODIUM_ENV": "development"},
        capture_output=True,
        timeout=60,
    )
    assert process.returncode == 3, process.stderr.decode()[-2000:]
    assert b"failed to start (exit status 3 before it served)" in process.stderr
    assert b"restarting" not in process.stderr


def test_a_port_taken_by_another_server_is_a_plain_error() -> None:
    with socket.socket() as taken:  # no SO_REUSEPORT: the port cannot be shared
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = subprocess.run(
            serve_command(port, workers=2),
            env={**os.environ, "PODIUM_ENV": "development"},
            capture_output=True,
            timeout=60,
        )
    assert process.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}".encode() in process.stderr
    assert b"Traceback" not in process.stderr


def _serve_app(tmp_path: Path, source: str, workers: int = 2) -> subprocess.CompletedProcess[bytes]:
    """The supervisor serving `source` (a module `app` with an ASGI `app`) until it stops."""
    (tmp_path / "app.py").write_text(source)
    script = (
        "import logging\n"
        "from podium.workers import serve\n"
        "logging.basicConfig(level=logging.INFO)\n"
        f"raise SystemExit(serve('app:app', host='127.0.0.1', port={free_port()},"
        f" workers={workers}))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("raise RuntimeError('broken at import')\n", id="import error"),
        # Imports, but kills its process when uvicorn starts its lifespan.
        pytest.param(
            "import os\n\n\nasync def app(scope, receive, send):\n    os._exit(1)\n",
            id="dies at start-up",
        ),
    ],
)
def test_a_worker_that_exits_before_it_served_stops_the_server_at_once(
    tmp_path: Path, source: str
) -> None:
    started = time.monotonic()
    process = _serve_app(tmp_path, source)
    print(f"\nstopped {time.monotonic() - started:.1f} s after it was started")
    assert process.returncode == 3, process.stderr.decode()[-2000:]
    assert b"failed to start (exit status 1 before it served); stopping the server" in (
        process.stderr
    )
    # Another try would fail alike: none is made.
    assert b"restarting" not in process.stderr, process.stderr.decode()[-2000:]


def test_workers_killed_by_a_signal_before_they_serve_are_retried_then_stop_the_server(
    tmp_path: Path,
) -> None:
    # An OOM killer during start-up, or a segfault on import: retried, but not for ever.
    source = (
        "import os\nimport signal\n\n\nasync def app(scope, receive, send):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    process = _serve_app(tmp_path, source)
    log = process.stderr.decode()
    assert process.returncode == 3, log[-2000:]
    assert log.count("died (killed by SIGKILL) before it served; restarting it in") == (
        UNSERVED_KILLS_ALLOWED - 1
    ), log[-3000:]
    assert (
        f"failed to start (killed by SIGKILL before it served, {UNSERVED_KILLS_ALLOWED} in a row);"
        " stopping the server" in log
    )


class _Poller(threading.Thread):
    """GET /health on a new connection every POLL_SECONDS; when each answer came, and whether
    it was a 200."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.answers: list[tuple[float, bool]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(POLL_SECONDS):
            self.answers.append((time.monotonic(), _healthy(self.port)))

    def __enter__(self) -> _Poller:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.join()


# Two minutes and more on a loaded machine (replacement workers starting): run with the fault
# tests (`pytest -m faults tests/faults tests/test_workers.py`, a step of .ci/run).
@pytest.mark.faults
def test_a_worker_sigkilled_five_times_in_a_row_is_restarted_with_backoff_while_the_other_serves(
    database_url: str, tmp_path: Path
) -> None:
    # An OOM killer killing the same worker again and again, ~1 s after each restart served.
    log_path = tmp_path / "serve.log"
    kills = 5
    with serving(database_url, workers=2, log_path=log_path) as (process, port):
        steady, victim = _workers(process.pid)
        with _Poller(port) as poller:
            for _ in range(kills):
                time.sleep(1.0)
                os.kill(victim, signal.SIGKILL)
                _wait_until(lambda: victim not in _workers(process.pid))  # noqa: B023
                # The replacement, once it listens (its lifespan has started by then).
                _wait_until(
                    lambda: (
                        len(sockets_on_port(port, LISTEN)) == 2 and len(_workers(process.pid)) == 2
                    ),
                    timeout=START_TIMEOUT_SECONDS + RESTART_DELAY_CAP_SECONDS,
                )
                [victim] = [pid for pid in _workers(process.pid) if pid != steady]
        assert process.poll() is None, "the supervisor stopped the server"
        assert steady in _workers(process.pid)
        # The restarted worker takes its share of new connections beside the steady one.
        sockets = _burst_of_keep_alive_connections(port)
        try:
            counts = _connections_by_worker(_workers(process.pid), port)
        finally:
            for sock in sockets:
                sock.close()
    assert set(counts) == {steady, victim}, counts

    log = log_path.read_text()
    delays = [
        float(d) for d in re.findall(r"after serving [\d.]+ s; restarting it in ([\d.]+) s", log)
    ]
    failures = [at for at, ok in poller.answers if not ok]
    print(f"\nrestart delays: {delays}; {len(failures)} of {len(poller.answers)} polls failed")
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0], log[-3000:]
    assert log.count("died (killed by SIGKILL) after serving") == kills
    assert "failed to start" not in log
    # Answered all along, by the steady worker while the other was down: a request the kernel
    # had queued on the killed worker's socket may fail (one per kill at most), no more.
    assert len(poller.answers) > 50
    assert len(failures) <= kills, failures
    times = [at for at, ok in poller.answers if ok]
    assert max(b - a for a, b in itertools.pairwise(times)) < 1.0


def test_restart_delays_double_up_to_the_cap_and_reset_after_a_healthy_run() -> None:
    backoff = RestartBackoff(first=0.5, cap=10.0, healthy_after=60.0)
    assert [backoff.next_delay() for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    backoff.served(59.0)  # not long enough: still backing off
    assert backoff.next_delay() == 10.0
    backoff.served(60.0)
    assert backoff.next_delay() == 0.5


def test_exits_are_described_by_signal_name_or_status() -> None:
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"
    assert describe_exit(3) == "exit status 3"
