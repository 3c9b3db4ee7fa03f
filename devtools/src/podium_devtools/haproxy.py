"""Debian's HAProxy on a loopback port in front of several `podium serve` instances, for tests.

    with HAProxy.start({"a": 8001, "b": 8002}) as balancer:
        httpx.get(balancer.url + "/events/…")   # round robin over a and b
        balancer.responses()                    # {"a": 12, "b": 12}: answers each one gave

Every answer carries `X-Podium-Instance: <server name>`, so a test can tell which instance
answered each request. Servers are health-checked on `/health` every half second and taken out
of the rotation after two failed checks; the config is the one docs/operations-instances.md
recommends (`config()` writes it). The config, in a temporary directory, is removed on the
way out, and the process stopped.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from podium_devtools.sockets import free_port

HOST = "127.0.0.1"
BACKEND = "podium"
INSTANCE_HEADER = "X-Podium-Instance"
START_TIMEOUT_SECONDS = 30.0
HEALTH_PATH = "/health"


def config(listen_port: int, stats_port: int, servers: Mapping[str, int]) -> str:
    """The haproxy.cfg: round robin over `servers` (name → loopback port), a stats page."""
    lines = "".join(
        f"    server {name} {HOST}:{port} check inter 500ms fall 2 rise 1\n"
        for name, port in servers.items()
    )
    return (
        "global\n"
        "    maxconn 4096\n"
        "\n"
        "defaults\n"
        "    mode http\n"
        "    timeout connect 5s\n"
        "    timeout client 60s\n"
        "    timeout server 60s\n"
        "    timeout check 5s\n"
        # uvicorn trusts X-Forwarded-For from 127.0.0.1 (podium serve --forwarded-allow-ips).
        "    option forwardfor\n"
        # A connection an instance refused (it is down) is tried on another one: the request
        # was never sent, so even a POST is safe to send again.
        "    retries 2\n"
        "    option redispatch\n"
        "\n"
        f"frontend api\n    bind {HOST}:{listen_port}\n    default_backend {BACKEND}\n"
        "\n"
        f"backend {BACKEND}\n"
        "    balance roundrobin\n"
        "    option httpchk\n"
        f"    http-check send meth GET uri {HEALTH_PATH}\n"
        # 503 is an instance whose database is unreachable: every instance shares it, so
        # taking them all out would only swap the API's JSON 503 for HAProxy's own page.
        "    http-check expect rstatus ^(200|503)$\n"
        # %s: the name of the server that answered.
        f"    http-response set-header {INSTANCE_HEADER} %s\n"
        f"{lines}"
        "\n"
        f"frontend stats\n    bind {HOST}:{stats_port}\n    stats enable\n    stats uri /stats\n"
    )


class HAProxy:
    """A running HAProxy; `url` is the balanced API."""

    def __init__(
        self, process: subprocess.Popen[bytes], port: int, stats_port: int, directory: Path
    ) -> None:
        self.process = process
        self.port = port
        self.stats_port = stats_port
        self.directory = directory

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @classmethod
    def start(cls, servers: Mapping[str, int]) -> Self:
        """HAProxy balancing over `servers` (name → port on 127.0.0.1); returns once every
        server passed its health check."""
        binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not Path(binary).exists():
            raise RuntimeError("haproxy is not installed (apt-get install haproxy)")
        port, stats_port = free_port(), free_port()
        directory = Path(tempfile.mkdtemp(prefix="podium-haproxy-"))
        cfg = directory / "haproxy.cfg"
        cfg.write_text(config(port, stats_port, servers))
        # -db: in the foreground, not daemonised, so the test owns the process. Its output goes
        # to a file, not a pipe nobody reads (a full pipe would block it).
        with (directory / "haproxy.log").open("wb") as log:
            process = subprocess.Popen([binary, "-f", str(cfg), "-db"], stdout=log, stderr=log)
        balancer = cls(process, port, stats_port, directory)
        try:
            balancer._wait_until_up(set(servers))
        except BaseException:
            balancer.stop()
            raise
        return balancer

    def log(self) -> str:
        return (self.directory / "haproxy.log").read_text(errors="replace")

    def servers(self) -> dict[str, dict[str, str]]:
        """The stats page's row of each server of the backend (HAProxy's CSV columns)."""
        response = httpx.get(f"http://{HOST}:{self.stats_port}/stats;csv", timeout=5)
        response.raise_for_status()
        rows = csv.DictReader(io.StringIO(response.text.removeprefix("# ")))
        return {
            row["svname"]: row
            for row in rows
            if row["pxname"] == BACKEND and row["svname"] not in ("FRONTEND", "BACKEND")
        }

    def responses(self) -> dict[str, int]:
        """HTTP answers each server has given through the balancer (health checks not counted)."""
        columns = ("hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other")
        return {
            name: sum(int(row[column] or 0) for column in columns)
            for name, row in self.servers().items()
        }

    def _wait_until_up(self, names: set[str]) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"haproxy exited ({self.process.returncode}): {self.log()}")
            try:
                up = {name for name, row in self.servers().items() if row["status"] == "UP"}
            except httpx.TransportError:
                up = set()
            if up == names:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"haproxy: servers not up in time ({sorted(up)} of {names})")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
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
