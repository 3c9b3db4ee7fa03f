"""The schema's metadata (the ormar models declare the tables) and the app's one asyncpg pool."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias

import asyncpg
import ormar
import sqlalchemy
from ormar.databases.connection import DatabaseConnection
from sqlalchemy.dialects import postgresql

from podium.config import PgBouncerMode
from podium.database_url import plain_url, sqlalchemy_url

# Stable constraint names so Alembic sees the same names the models declare.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sqlalchemy.MetaData(naming_convention=NAMING_CONVENTION)

# asyncpg is untyped: a row, read by column name or position.
Record: TypeAlias = asyncpg.Record


class _PooledConnection(asyncpg.Connection):  # type: ignore[misc]  # asyncpg is untyped
    """A connection of the app's pool: given back without asyncpg's reset query.

    The reset (`SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`) is a round
    trip at every release, there to undo session state; the app leaves none behind. Its reads
    are single autocommit statements, its writes one transaction (asyncpg rolls back an open one
    at release whatever the reset query says), and its locks transaction-scoped.
    """

    def get_reset_query(self) -> str:
        return ""


class _SharedServerConnection(_PooledConnection):
    """A connection through a pooler that hands the server connection to another client after
    each transaction (PgBouncer's transaction pooling without prepared-statement support).

    With `statement_cache_size=0` asyncpg names no statement, and re-sends the Parse with the
    Bind and Execute before one Sync, so a statement runs where it was parsed. What remains is
    asyncpg's type introspection (the first time a connection meets a type without a built-in
    codec): `set_config('jit', 'off', false)`, the query, then `jit` restored, three round trips
    that PgBouncer may send to three server connections, leaving `jit` off on one of another
    client's. In one transaction they share one server connection, which ends as it began.
    """

    async def _introspect_types(self, typeoids: Any, timeout: Any) -> Any:  # noqa: ASYNC109
        if self.is_in_transaction():
            return await super()._introspect_types(typeoids, timeout)
        async with self.transaction(readonly=True):
            return await super()._introspect_types(typeoids, timeout)


async def _decode_json(conn: asyncpg.Connection) -> None:
    # JSON columns arrive decoded (and are sent encoded), as ormar's models declare them.
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, schema="pg_catalog", encoder=json.dumps, decoder=json.loads
        )


class Executor(Protocol):
    """Where a query runs: the database (each statement on its own, autocommit) or a
    transaction. podium.queries takes one of these as its first argument."""

    async def fetch(self, query: str, *args: Any) -> list[Record]: ...

    async def fetchrow(self, query: str, *args: Any) -> Record | None: ...

    async def fetchval(self, query: str, *args: Any) -> Any: ...

    async def execute(self, query: str, *args: Any) -> str: ...


class Transaction(Executor, Protocol):
    """The request's transaction: an asyncpg connection inside `BEGIN … COMMIT`.

    What needs one (a row lock, several writes that stand or fall together) takes this type, so
    the autocommit `Database` cannot be passed where a transaction is needed. `transaction()`
    inside it is a savepoint: for a retry that must survive a failed statement (join codes) only.
    """

    def is_in_transaction(self) -> bool: ...

    def transaction(self) -> Any: ...


class Database:
    """The app's one asyncpg pool: every statement the web app sends goes through it.

    Reads outside a transaction go straight to the pool (`fetch`…: acquire, one statement,
    release); writes run in `transaction()`. The pool opens connections lazily (`min_size=0`),
    so the process starts, and /health answers 503, while the database is down. Behind a
    transaction-pooling PgBouncer < 1.21 (`pgbouncer=TRANSACTION`) it prepares no named
    statement: asyncpg's per-connection names (`__asyncpg_stmt_7__`) would meet another
    client's statement of the same name on a shared server connection, or none.
    """

    def __init__(
        self,
        url: str,
        *,
        size: int,
        connect_timeout: float = 5.0,
        on_connect: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
        pgbouncer: PgBouncerMode = PgBouncerMode.OFF,
    ) -> None:
        self._url = plain_url(url)
        self._shared_servers = pgbouncer is PgBouncerMode.TRANSACTION
        self._size = size
        self._connect_timeout = connect_timeout
        self._on_connect = on_connect
        self._pool: asyncpg.Pool | None = None

    async def _init(self, conn: asyncpg.Connection) -> None:
        await _decode_json(conn)
        if self._on_connect is not None:  # e.g. a test's query logger
            await self._on_connect(conn)

    async def open(self) -> None:
        # Behind a shared server connection: unnamed statements only, parsed again at each
        # execution (a round trip more per statement than asyncpg's cached, named ones).
        unnamed = {"statement_cache_size": 0} if self._shared_servers else {}
        self._pool = await asyncpg.create_pool(
            self._url,
            # Fixed size: past it a request waits for a connection rather than opening one (a
            # connection costs a backend fork, far more than the wait).
            min_size=0,
            max_size=self._size,
            connection_class=(
                _SharedServerConnection if self._shared_servers else _PooledConnection
            ),
            init=self._init,
            timeout=self._connect_timeout,
            **unnamed,
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the database is not open (the app's lifespan opens it)")
        return self._pool

    # No ping before use: a connection the server closed is seen closed by asyncpg when the
    # server says so, and the pool replaces it at the next acquire (tests/perf/test_pool.py).
    async def fetch(self, query: str, *args: Any) -> list[Record]:
        rows: list[Record] = await self.pool.fetch(query, *args)
        return rows

    async def fetchrow(self, query: str, *args: Any) -> Record | None:
        row: Record | None = await self.pool.fetchrow(query, *args)
        return row

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self.pool.fetchval(query, *args)

    async def execute(self, query: str, *args: Any) -> str:
        status: str = await self.pool.execute(query, *args)
        return status

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """One connection inside BEGIN … COMMIT (ROLLBACK when the block raises)."""
        async with self.pool.acquire() as conn, conn.transaction():
            yield conn


@dataclass(frozen=True)
class Violation:
    """What a failed statement broke, as PostgreSQL reports it."""

    sqlstate: str | None
    constraint: str | None


def violation(exc: BaseException) -> Violation:
    """The SQLSTATE and constraint name of a database error, however wrapped.

    SQLAlchemy wraps the driver's error (`orig`), which wraps asyncpg's (`__cause__`); asyncpg's
    exceptions carry both fields when PostgreSQL sent them.
    """
    sqlstate: str | None = None
    error: BaseException | None = exc
    while error is not None:
        found = getattr(error, "sqlstate", None)
        sqlstate = sqlstate or (found if isinstance(found, str) else None)
        name = getattr(error, "constraint_name", None)
        if isinstance(name, str):
            return Violation(sqlstate, name)
        error = getattr(error, "orig", None) or error.__cause__
    return Violation(sqlstate, None)


class OrmarDatabase(DatabaseConnection):
    """ormar's own handle, which its models need to exist, bound to a URL when connected.

    The web app never connects it: its SQL goes through `Database` (podium.queries). The demo
    seeder and the tests connect it to arrange rows with ormar's API.
    """

    def __init__(self) -> None:
        super().__init__("postgresql+asyncpg://unconfigured")

    async def connect_to(self, url: str, *, pool_size: int = 2) -> None:
        if self.is_connected:
            raise RuntimeError("connect_to() while connected")
        self._url = sqlalchemy_url(url)
        self._options = {**self._options, "pool_size": pool_size, "max_overflow": 0}
        await self.connect()


ormar_database = OrmarDatabase()

base_ormar_config = ormar.OrmarConfig(metadata=metadata, database=ormar_database)


class NativeUUID(ormar.UUID):  # type: ignore[valid-type,misc]  # ormar fields are factories
    """ormar's UUID stored as PostgreSQL's native `uuid` instead of CHAR(32)."""

    @classmethod
    def get_column_type(cls, **kwargs: Any) -> Any:
        return postgresql.UUID(as_uuid=True)


def new_uuid() -> uuid.UUID:
    return uuid.uuid4()


class JSONB(ormar.JSON):  # type: ignore[valid-type,misc]  # ormar fields are factories
    """ormar's JSON stored as PostgreSQL's `jsonb` (compact, comparable, indexable)."""

    @classmethod
    def get_column_type(cls, **kwargs: Any) -> Any:
        return postgresql.JSONB(none_as_null=True)
