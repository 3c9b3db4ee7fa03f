from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx


async def test_health_is_ok_with_the_database_up(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_health_is_503_with_the_database_down() -> None:
    # A real server whose database is a closed loopback port: the process is up, the database not.
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:9/podium",
        "PODIUM_ENV": "development",
    }
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
            "warning",
        ],
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not start"
                assert server.poll() is None, "server exited"
                time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert response.status_code == 503
    body = response.json()
    assert body["error"]["code"] == "database_unavailable"
