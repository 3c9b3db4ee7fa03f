"""PgBouncer on a loopback port in front of a PostgreSQL server, for tests and CI.

    with PgBouncer.start("postgresql://postgres@127.0.0.1:5432/postgres", pool_size=4) as bouncer:
        bouncer.url("podium_test")   # the same database, through PgBouncer

Every database of the server is reachable under its own name (`* =` in `[databases]`), logged
in as the server URL's user (`auth_type = any`: loopback only). The ini, in a temporary
directory, is removed on the way out, and the process stopped.

The binary is Debian's (`pgbouncer`, 1.18 on Debian 12) unless `PODIUM_TEST_PGBOUNCER_BIN`
names another, e.g. the 1.24 that `devtools/build-pgbouncer.sh` builds. `max_prepared_statements`
is written to the ini of any PgBouncer that knows it (>= 1.21), 0 unless asked for: 1.24's own
default (200) would otherwise make it track prepared statements where a test wants 1.18's
pass-through.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

from podium_devtools.sockets import free_port

HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 10.0
# PgBouncer refuses to run as root; it switches to this user itself (`-u`).
UNPRIVILEGED_USER = "nobody"
BINARY_VARIABLE = "PODIUM_TEST_PGBOUNCER_BIN"
# The first release that tracks prepared statements in transaction pooling.
TRACKING_VERSION = (1, 21)


def binary() -> str:
    """The PgBouncer the tests run: `PODIUM_TEST_PGBOUNCER_BIN`, or Debian's."""
    chosen = os.environ.get(BINARY_VARIABLE) or shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(chosen).exists():
        raise RuntimeError(
            f"pgbouncer not found at {chosen} (apt-get install pgbouncer, or set "
            f"{BINARY_VARIABLE} to a binary, e.g. devtools/build-pgbouncer.sh's)"
        )
    return chosen


def version(path: str | None = None) -> tuple[int, ...]:
    """`(1, 24, 1)` for the binary at `path` (default: `binary()`)."""
    output = subprocess.run(
        [path or binary(), "--version"], capture_output=True, text=True, check=True
    ).stdout
    found = re.match(r"PgBouncer (\d+(?:\.\d+)*)", output)
    if found is None:
        raise RuntimeError(f"cannot read PgBouncer's version from {output!r}")
    return tuple(int(part) for part in found.group(1).split("."))


def tracks_prepared_statements(path: str | None = None) -> bool:
    """Whether that PgBouncer can track prepared statements (`max_prepared_statements`)."""
    return version(path) >= TRACKING_VERSION


class PgBouncer:
    """A running PgBouncer; `url(database)` is that database through it."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, directory: Path) -> None:
        self.process = process
        self.port = port
        self.directory = directory

    @classmethod
    def start(
        cls,
        server_url: str,
        *,
        pool_size: int,
        pool_mode: str = "transaction",
        max_prepared_statements: int = 0,
        ignore_startup_parameters: tuple[str, ...] = (),
    ) -> Self:
        """PgBouncer in front of the server of `server_url`, `pool_size` server connections
        per database; `max_prepared_statements` > 0 needs a PgBouncer >= 1.21. Start-up
        parameters it would refuse may be listed in `ignore_startup_parameters` (accepted and
        not applied)."""
        program = binary()
        tracking = tracks_prepared_statements(program)
        if max_prepared_statements and not tracking:
            raise RuntimeError(
                f"{program} is older than 1.21: it cannot track prepared statements "
                f"(set {BINARY_VARIABLE}, e.g. to devtools/build-pgbouncer.sh's binary)"
            )
        server = urlsplit(server_url)
        port = free_port()
        directory = Path(tempfile.mkdtemp(prefix="podium-pgbouncer-"))
        directory.chmod(0o755)  # readable by the unprivileged user PgBouncer switches to
        ini = directory / "pgbouncer.ini"
        ini.write_text(
            "[databases]\n"
            f"* = host={server.hostname or HOST} port={server.port or 5432} "
            f"user={server.username or 'postgres'}"
            + (f" password={server.password}" if server.password else "")
            + "\n\n[pgbouncer]\n"
            f"listen_addr = {HOST}\nlisten_port = {port}\nunix_socket_dir =\n"
            "auth_type = any\n"
            f"pool_mode = {pool_mode}\ndefault_pool_size = {pool_size}\n"
            "max_client_conn = 1000\nmin_pool_size = 0\nreserve_pool_size = 0\n"
            "log_connections = 0\nlog_disconnections = 0\n"
            + (f"max_prepared_statements = {max_prepared_statements}\n" if tracking else "")
            + (
                f"ignore_startup_parameters = {', '.join(ignore_startup_parameters)}\n"
                if ignore_startup_parameters
                else ""
            )
        )
        ini.chmod(0o644)
        command = [program, str(ini)]
        if os.geteuid() == 0:
            command[1:1] = ["-u", UNPRIVILEGED_USER]
        # Its log goes to a file, not a pipe nobody reads (a full pipe would block it).
        with (directory / "pgbouncer.log").open("wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=log)
        bouncer = cls(process, port, directory)
        try:
            bouncer._wait_until_listening()
        except BaseException:
            bouncer.stop()
            raise
        return bouncer

    def url(self, database: str, user: str = "postgres") -> str:
        return f"postgresql://{user}@{HOST}:{self.port}/{database}"

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = (self.directory / "pgbouncer.log").read_text(errors="replace")
                raise RuntimeError(f"pgbouncer exited ({self.process.returncode}): {error}")
            with socket.socket() as sock:
                if sock.connect_ex((HOST, self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"pgbouncer did not listen on {HOST}:{self.port}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: immediate shutdown
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
