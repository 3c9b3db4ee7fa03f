"""The replica tests' stack: a primary PostgreSQL of their own, a hot standby streaming from it
(`pg_basebackup -R` into a temporary directory, started on another loopback port), and the app
in process with DATABASE_URL on the primary and PODIUM_DATABASE_READ_URL on the standby.

Both servers log every statement, so a test can tell which of them answered a request.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import re
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from podium import migrate
from podium.app import create_app
from podium.config import Environment, Settings
from podium.database_url import sqlalchemy_url
from podium.ids import DEVELOPMENT_ID_KEY
from podium.read_replica import ReadReplica
from podium_devtools.sockets import free_port
from tests.conftest import TEST_JWT_SECRET
from tests.faults.postgres import BIN, OwnedPostgres

# Logged by both servers: which of them ran a statement is read from their logs.
LOGGED = {"log_statement": "all", "log_min_duration_statement": "-1"}
# How long a standby may take to replay what the primary committed (two busy cores).
CATCH_UP_SECONDS = 20.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.replica)


class Standby(OwnedPostgres):
    """A hot standby of `primary`: its base backup, with `-R`'s standby.signal and
    primary_conninfo, started on a port of its own."""

    def __init__(self, primary: OwnedPostgres, **settings: str) -> None:
        # Not OwnedPostgres.__init__: the data directory comes from the primary, not initdb.
        self.root = Path(tempfile.mkdtemp(prefix="podium-standby-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.settings = {**primary.settings, "hot_standby": "on", **settings}
        self._user = "postgres" if os.geteuid() == 0 else None
        if self._user is not None:
            account = pwd.getpwnam(self._user)
            os.chown(self.root, account.pw_uid, account.pw_gid)
        self._run(
            [
                *(str(BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port)),
                *("-U", "postgres", "-D", str(self.data), "-R", "-X", "stream"),
                *("--checkpoint=fast", "--no-sync"),
            ]
        )


def allow_replication(primary: OwnedPostgres) -> None:
    """Let a standby on loopback stream from `primary` (initdb -A trust writes the same line;
    stated here so the test does not rest on initdb's defaults)."""
    hba = primary.data / "pg_hba.conf"
    hba.write_text(hba.read_text() + "\nhost replication all 127.0.0.1/32 trust\n")


class ServerLog:
    """The statements a server logged, read from where the last `mark()` left off."""

    def __init__(self, server: OwnedPostgres) -> None:
        self.path = server.log
        self._offset = 0

    def mark(self) -> None:
        self._offset = self.path.stat().st_size

    def statements_since_mark(self) -> list[str]:
        with self.path.open("rb") as log:
            log.seek(self._offset)
            text = log.read().decode(errors="replace")
        # `LOG:  execute <name>: SELECT …` (asyncpg's extended protocol) or `statement: …`.
        return re.findall(r"LOG:\s+(?:execute [^:]*|statement): (.*)", text)


class Pair:
    """The primary, its standby, their logs and superuser connections to both."""

    def __init__(self) -> None:
        self.primary = OwnedPostgres(wal_level="replica", **LOGGED)
        self.standby: Standby | None = None

    def start(self) -> None:
        allow_replication(self.primary)
        self.primary.start()
        asyncio.run(_execute(self.primary.url(), "CREATE DATABASE podium"))
        migrate.upgrade(sqlalchemy_url(self.primary.url("podium")))
        self.standby = Standby(self.primary)
        self.standby.start()
        self.primary_log = ServerLog(self.primary)
        self.standby_log = ServerLog(self.standby)

    @property
    def replica(self) -> Standby:
        assert self.standby is not None
        return self.standby

    def remove(self) -> None:
        if self.standby is not None:
            self.standby.remove()
        self.primary.remove()


async def _execute(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def on_server(server: OwnedPostgres, query: str) -> object:
    """One value from `server`'s podium database, on a connection of the test's own."""
    conn = await asyncpg.connect(server.url("podium"))
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


async def caught_up(pair: Pair) -> None:
    """Wait until the standby has replayed everything the primary has written so far."""
    target = await on_server(pair.primary, "SELECT pg_current_wal_lsn()::text")
    query = f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while not await on_server(pair.replica, query):
        assert time.monotonic() < deadline, "the standby did not catch up with the primary"
        await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    servers = Pair()
    try:
        servers.start()
        yield servers
    finally:
        servers.remove()


def replica_settings(pair: Pair, **overrides: object) -> Settings:
    """The app's settings: the primary, the standby for reads, waits of a second or two."""
    values: dict[str, object] = {
        "env": Environment.DEVELOPMENT,
        "database_url": pair.primary.url("podium"),
        "database_read_url": pair.replica.url("podium"),
        "jwt_secret": SecretStr(TEST_JWT_SECRET),
        "id_key": SecretStr(DEVELOPMENT_ID_KEY),
        "database_pool_size": 4,
        "database_connect_timeout": 1.0,
        "database_acquire_timeout": 1.0,
        "database_statement_timeout": 2.0,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]  # the fields, by name


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app with its lifespan run, and a client calling it in process."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield app, http


def replica_of(app: FastAPI) -> ReadReplica:
    replica: ReadReplica = app.state.read_replica
    return replica


async def until(condition_met: Callable[[], Awaitable[bool]], seconds: float, what: str) -> float:
    """Poll an async predicate until it holds; how long that took."""
    started = time.monotonic()
    while not await condition_met():
        assert time.monotonic() - started < seconds, f"not within {seconds} s: {what}"
        await asyncio.sleep(0.05)
    return time.monotonic() - started
