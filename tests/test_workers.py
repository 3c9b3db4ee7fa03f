"""`podium serve --workers N`: every worker takes a share of the connections, and is supervised."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from podium_devtools.sockets import ESTABLISHED, LISTEN, free_port, sockets_on_port

START_TIMEOUT_SECONDS = 60  # a loaded 2-core machine takes ~30 s to start two workers
CONNECTIONS = 32


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
def serving(database_url: str, workers: int) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`podium serve` on a free loopback port; stopped (SIGTERM) on the way out."""
    port = free_port()
    process = subprocess.Popen(
        [*serve_command(port, workers), "--no-access-log"],
        env={**os.environ, "DATABASE_URL": database_url, "PODIUM_ENV": "development"},
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
    assert b"failed to start" in process.stderr


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


def test_workers_that_die_as_soon_as_they_start_stop_the_server_instead_of_looping(
    tmp_path: Path,
) -> None:
    # An app that imports but kills its process at start-up: exit 1, not uvicorn's status 3.
    (tmp_path / "dying_app.py").write_text(
        "import os\n\n\nasync def app(scope, receive, send):\n    os._exit(1)\n"
    )
    script = (
        "from podium.workers import serve\n"
        f"raise SystemExit(serve('dying_app:app', host='127.0.0.1', port={free_port()},"
        " workers=2))\n"
    )
    process = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    assert process.returncode == 3, process.stderr.decode()[-2000:]
    # Two workers, then one replacement per early exit until the fifth in a row.
    assert process.stderr.count(b"exited (1); starting another") == 4
    assert b"failed to start; stopping" in process.stderr
