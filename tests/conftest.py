"""Test harness: one fresh, migrated database per run; every test starts from empty tables.

The server is `PODIUM_TEST_DATABASE_URL` (any database on it; ours is created beside it) or,
when unset, an embedded PostgreSQL in a temporary directory. Tests that touch the database are
marked `db` automatically, so CI can re-run exactly those against a second PostgreSQL major.

With `PODIUM_TEST_PGBOUNCER=transaction` (or `session`) the app under test reaches that database
through a PgBouncer the run starts in that pool mode (Debian's `pgbouncer`), with fewer server
connections than the app's pool, and `PODIUM_DATABASE_PGBOUNCER` set to match; the tests' own
helpers (migrations, ormar, `raw_db`) stay on the server, as an operator's would. When the
PgBouncer is >= 1.21 (`PODIUM_TEST_PGBOUNCER_BIN`, e.g. `devtools/build-pgbouncer.sh`'s), it
tracks prepared statements (`max_prepared_statements`) and the app runs as it would on
PostgreSQL itself, `PODIUM_DATABASE_PGBOUNCER=off` (named prepared statements).
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from podium import migrate
from podium.app import create_app
from podium.config import Environment, PgBouncerMode, Settings
from podium.database_url import plain_url, sqlalchemy_url
from podium.db import Database, ormar_database
from podium.ids import DEVELOPMENT_ID_KEY
from podium.models import User
from podium.rate_limit import RateLimit
from podium.security import TokenType, create_token
from podium.services.rate_limits import Bucket

TEST_JWT_SECRET = "test-secret-" + "x" * 32
DB_FIXTURES = {"server_url", "database_url", "app", "client", "db", "make_user", "count_queries"}
# The app's pool in the tests, and PgBouncer's server connections per database when the app runs
# through it in transaction pooling: fewer, so clients really share them (session pooling needs
# one per client connection).
TEST_POOL_SIZE = 40
TEST_PGBOUNCER_POOL_SIZE = 5
# What docs/operations.md recommends for PgBouncer >= 1.21 (the app has a few dozen statements).
TEST_MAX_PREPARED_STATEMENTS = 200


@dataclass(frozen=True)
class PgServer:
    """A PostgreSQL server the tests may create databases on."""

    admin_url: str  # postgresql:// URL of a maintenance database

    def database_url(self, name: str) -> str:
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    async def create_database(self, name: str, template: str | None = None) -> str:
        """Create database `name` (a copy of `template` when given); its URL."""
        copy = f' TEMPLATE "{template}"' if template else ""
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"{copy}')
        finally:
            await conn.close()
        return self.database_url(name)

    async def drop_database(self, name: str) -> None:
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if DB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    given = os.environ.get("PODIUM_TEST_DATABASE_URL")
    if given:
        yield PgServer(plain_url(given))
        return
    from podium.dev import embedded

    data_dir = Path(tempfile.mkdtemp(prefix="podium-test-")) / "pgdata"
    server = embedded.start(data_dir, delete_on_stop=True)
    try:
        yield PgServer(server.url("postgres"))
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def database_url(pg_server: PgServer) -> AsyncIterator[str]:
    """A fresh database for this run, built by `alembic upgrade head`."""
    name = f"podium_test_{os.getpid()}_{secrets.token_hex(3)}"
    url = await pg_server.create_database(name)
    try:
        await _run_sync(migrate.upgrade, _asyncpg_url(url))
        yield url
    finally:
        await pg_server.drop_database(name)


@pytest.fixture(scope="session")
async def migrated_template(pg_server: PgServer) -> AsyncIterator[str]:
    """The name of a migrated, empty database to copy: a copy takes ~0.1 s, a migration seconds."""
    name = f"podium_template_{os.getpid()}_{secrets.token_hex(3)}"
    url = await pg_server.create_database(name)
    try:
        await _run_sync(migrate.upgrade, _asyncpg_url(url))
        yield name
    finally:
        await pg_server.drop_database(name)


def _asyncpg_url(url: str) -> str:
    return sqlalchemy_url(url)


async def _run_sync(fn: Callable[..., Any], *args: Any) -> Any:
    # Alembic's env.py runs its own event loop, so it must not run on the tests' loop thread.
    import asyncio

    return await asyncio.to_thread(fn, *args)


@pytest.fixture(scope="session")
def app_database(pg_server: PgServer, database_url: str) -> Iterator[tuple[str, PgBouncerMode]]:
    """The URL the app under test connects to and its `PODIUM_DATABASE_PGBOUNCER`: the test
    database itself, or that database through PgBouncer (`PODIUM_TEST_PGBOUNCER`)."""
    mode = os.environ.get("PODIUM_TEST_PGBOUNCER")
    if not mode:
        yield database_url, PgBouncerMode.OFF
        return
    from podium_devtools.pgbouncer import PgBouncer, tracks_prepared_statements

    # By session: the app's pool and count_queries' pool of 4 beside it, one server connection each.
    by_session = TEST_POOL_SIZE + 4
    pool_size = TEST_PGBOUNCER_POOL_SIZE if mode == PgBouncerMode.TRANSACTION else by_session
    tracking = tracks_prepared_statements()
    with PgBouncer.start(
        pg_server.admin_url,
        pool_size=pool_size,
        pool_mode=mode,
        max_prepared_statements=TEST_MAX_PREPARED_STATEMENTS if tracking else 0,
        # `off` sends statement_timeout at connect, which PgBouncer refuses unless told to
        # ignore it (docs/operations.md, "PgBouncer"): the app's own bound still applies.
        ignore_startup_parameters=("statement_timeout",) if tracking else (),
    ) as bouncer:
        app_mode = PgBouncerMode.OFF if tracking else PgBouncerMode(mode)
        yield bouncer.url(make_url(database_url).database or ""), app_mode


@pytest.fixture(scope="session")
def settings(app_database: tuple[str, PgBouncerMode]) -> Settings:

    url, pgbouncer = app_database
    return app_settings(url, pgbouncer, TEST_POOL_SIZE)


# The tests make events, projects and votes quickly from one address: every limit far above what
# they do, still checked on every request (tests/api/test_rate_limits.py sets low ones).
UNLIMITED: dict[str, Any] = {
    f"rate_limit_{bucket.value}": RateLimit(1_000_000, 60) for bucket in Bucket
}


def app_settings(url: str, pgbouncer: PgBouncerMode, pool_size: int) -> Settings:
    """The settings of an app under test on `url`: development, the tests' secrets."""
    from pydantic import SecretStr

    return Settings(
        env=Environment.DEVELOPMENT,
        database_url=url,
        database_pgbouncer=pgbouncer,
        jwt_secret=SecretStr(TEST_JWT_SECRET),
        id_key=SecretStr(DEVELOPMENT_ID_KEY),
        database_pool_size=pool_size,
        **UNLIMITED,
    )


@pytest.fixture(scope="session")
async def app(settings: Settings, database_url: str) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        # ormar's own handle, for the tests' arrange helpers (`User.objects.create`…): the app
        # sends its SQL through app.state.database and never connects this one.
        await ormar_database.connect_to(database_url, pool_size=4)
        try:
            yield application
        finally:
            await ormar_database.disconnect()


@pytest.fixture
async def count_queries(app: FastAPI, settings: Settings) -> AsyncIterator[list[str]]:
    """Every SQL statement the app sends while the test runs (asyncpg's query logger on a pool
    of the app's own kind, swapped in for the test)."""
    statements: list[str] = []
    introspecting = False

    def record(logged: Any) -> None:
        # Not asyncpg's own type introspection (with JIT turned off around it), sent the first
        # time a connection meets a type; through PgBouncer in a read-only transaction of its
        # own (db._SharedServerConnection).
        nonlocal introspecting
        query = logged.query
        marks = ("pg_catalog.pg_type", "'jit'", "BEGIN READ ONLY;")
        if any(mark in query for mark in marks) or (introspecting and query == "COMMIT;"):
            introspecting = query != "COMMIT;"
            return
        introspecting = False
        statements.append(query)

    async def log_queries(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(record)

    counted = Database(
        settings.database_url or "",
        size=4,
        on_connect=log_queries,
        pgbouncer=settings.database_pgbouncer,
    )
    await counted.open()
    previous, app.state.database = app.state.database, counted
    try:
        yield statements
    finally:
        app.state.database = previous
        await counted.close()


@pytest.fixture(scope="session")
async def raw_db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A plain asyncpg pool on the test database, for arranging and inspecting rows."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
async def db(app: FastAPI, raw_db: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    """Empty tables for this test (truncated afterwards, whatever the test committed)."""
    yield raw_db
    async with raw_db.acquire() as conn:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
        names = ", ".join(f'"{row["tablename"]}"' for row in tables)
        await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture
async def client(app: FastAPI, db: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def access_token(email: str, lifetime: timedelta = timedelta(hours=1)) -> str:
    return create_token(email, TokenType.ACCESS, TEST_JWT_SECRET, lifetime)


def auth_headers(user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token(user.email)}"}


MakeUser = Callable[..., Awaitable[User]]


@pytest.fixture
def make_user(db: asyncpg.Pool) -> MakeUser:
    """Create a user row directly; `auth_headers(user)` gives its bearer header."""
    counter = iter(range(1, 1_000_000))

    async def make(**fields: Any) -> User:
        n = next(counter)
        fields.setdefault("email", f"user{n}-{secrets.token_hex(3)}@example.com")
        fields.setdefault("first_name", f"User{n}")
        fields.setdefault("last_name", "Tester")
        fields.setdefault("display_name", f"{fields['first_name']} {fields['last_name'][:1]}.")
        return await User.objects.create(**fields)

    return make
