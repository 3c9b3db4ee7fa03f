"""The fault tests' stack: a PostgreSQL of their own, migrated and seeded, and `podium serve
--workers 2` on it, with short timeouts so that a fault shows within seconds."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from benchmarks.loadbench.seed import SeededEvent, SeedPlan, generate, write

from podium import migrate
from podium.database_url import sqlalchemy_url
from podium.ids import DEVELOPMENT_ID_KEY
from podium.public_ids import configure_codec
from podium.services.access import max_votes_per_user
from podium_devtools.sockets import LISTEN, free_port, sockets_on_port
from tests.conftest import TEST_JWT_SECRET
from tests.faults.postgres import OwnedPostgres

WORKERS = 2
PROJECTS = 20
VOTERS = 800
START_TIMEOUT_SECONDS = 90
# What the server runs with: each wait a second or two, so a fault shows within seconds, and a
# request deadline longer than any freeze the tests make (a COMMIT in flight is waited for).
SERVER_ENV = {
    "PODIUM_DATABASE_POOL_SIZE": "5",
    "PODIUM_DATABASE_CONNECT_TIMEOUT": "1",
    "PODIUM_DATABASE_ACQUIRE_TIMEOUT": "1",
    "PODIUM_DATABASE_STATEMENT_TIMEOUT": "1",
    "PODIUM_REQUEST_TIMEOUT": "8",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.faults)


@dataclass(frozen=True)
class Stack:
    postgres: OwnedPostgres
    database_url: str
    base: str
    event: SeededEvent
    vote_limit: int
    server_log: Path


def _seed(database_url: str) -> SeededEvent:
    plan = SeedPlan(
        small_events=0,
        big_event_projects=PROJECTS,
        attendees=VOTERS,
        votes=0,
        burst_voters=VOTERS,
        big_event_share=1.0,
        referral_share=0.0,
    )
    rows, dataset = generate(plan)

    async def copy() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await write(conn, rows)
        finally:
            await conn.close()

    asyncio.run(copy())
    return dataset.big


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def serving(database_url: str, log_path: Path, **env: str) -> Iterator[str]:
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "podium.cli", "serve", "--no-access-log"),
                *("--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS)),
            ],
            env={
                **os.environ,
                "DATABASE_URL": database_url,
                "PODIUM_ENV": "development",
                "PODIUM_JWT_SECRET": TEST_JWT_SECRET,
                "PODIUM_ID_KEY": DEVELOPMENT_ID_KEY,
                **SERVER_ENV,
                **env,
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            while not (len(sockets_on_port(port, LISTEN)) == WORKERS and _healthy(base)):
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()[-3000:]
                time.sleep(0.1)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def fault_stack(server_env: dict[str, str] | None = None, **postgres: str) -> Iterator[Stack]:
    """A seeded PostgreSQL of the test's own (`postgres` settings on top) and `podium serve`."""
    configure_codec(DEVELOPMENT_ID_KEY)
    server = OwnedPostgres(**postgres)
    try:
        server.start()
        asyncio.run(_create_database(server.url()))
        database_url = server.url("podium")
        migrate.upgrade(sqlalchemy_url(database_url))
        event = _seed(database_url)
        log_path = server.root / "podium.log"
        with serving(database_url, log_path, **(server_env or {})) as base:
            try:
                yield Stack(
                    server, database_url, base, event, max_votes_per_user(PROJECTS), log_path
                )
            except BaseException:
                # What the server said is what explains a failed check.
                print(f"\n--- podium serve's log ---\n{log_path.read_text()[-8000:]}")
                raise
        log = log_path.read_text()
        assert "Traceback" not in log, log[-5000:]
    finally:
        server.remove()


async def _create_database(admin_url: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute("CREATE DATABASE podium")
    finally:
        await conn.close()
