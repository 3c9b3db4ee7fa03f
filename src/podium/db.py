"""The one database handle, its metadata, and the per-request transaction."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import ormar
import sqlalchemy
from ormar.databases.connection import DatabaseConnection
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from podium.database_url import plain_url

# Stable constraint names so Alembic sees the same names the models declare.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sqlalchemy.MetaData(naming_convention=NAMING_CONVENTION)


class _ReadConnection(asyncpg.Connection):  # type: ignore[misc]  # asyncpg is untyped
    """A connection of the read pool: given back as it is, without asyncpg's reset query.

    The reset (`SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`) is a round
    trip at every release, there to undo session state; reads are single autocommit statements
    that leave none behind.
    """

    def get_reset_query(self) -> str:
        return ""


async def _decode_json(conn: asyncpg.Connection) -> None:
    # As SQLAlchemy's asyncpg dialect does on its connections: JSON columns arrive decoded.
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, schema="pg_catalog", encoder=json.dumps, decoder=json.loads
        )


class Database(DatabaseConnection):
    """ormar's connection, but bound to a URL at start-up rather than at import time.

    Beside SQLAlchemy's pool (ormar, transactions, writes) it keeps a plain asyncpg pool for the
    hot reads outside a transaction (`fetch`, `fetchrow`): a SQLAlchemy checkout and return
    cost about 130 µs of CPU per query more than asyncpg's own pool, about a fifth of the
    event page's whole cost in a worker.
    """

    def __init__(self) -> None:
        super().__init__("postgresql+asyncpg://unconfigured")
        self._reads: asyncpg.Pool[Any] | None = None

    def configure(self, url: str, **options: Any) -> None:
        if self.is_connected:
            raise RuntimeError("configure() after connect()")
        self._url = url
        self._options = {"pool_size": 10, "max_overflow": 10, **options}

    async def connect(self) -> None:
        await super().connect()
        self._reads = await asyncpg.create_pool(
            plain_url(self._url),
            # Fixed size, no overflow: past it a read waits for a connection rather than
            # opening one (a connection costs a backend fork, far more than the wait).
            # Lazily, like SQLAlchemy's: the process starts (and /health answers 503) while
            # the database is down.
            min_size=0,
            max_size=self._options["pool_size"],
            connection_class=_ReadConnection,
            init=_decode_json,
            **self._options.get("connect_args", {}),
        )
        # Not `pool_pre_ping`: with asyncpg it costs three round trips (BEGIN, ping, ROLLBACK)
        # at every checkout, several per request. A connection that has sat idle is pinged
        # instead; one in use keeps working, and a dead one found mid-load is invalidated by
        # SQLAlchemy together with every older connection of the pool.
        pool = self.engine.sync_engine.pool
        sqlalchemy.event.listen(pool, "checkin", _mark_idle)
        sqlalchemy.event.listen(pool, "checkout", _ping_if_idle)

    async def disconnect(self) -> None:
        if self._reads is not None:
            await self._reads.close()
            self._reads = None
        await super().disconnect()

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        """The rows of one SELECT (`$n` parameters): in the current transaction, else a read.

        Plain reads only, never `FOR UPDATE`/`FOR SHARE`: SQLAlchemy's asyncpg adapter sends
        BEGIN with its own first statement, so a read sent before that runs ahead of the
        transaction (harmless for a read, fatal for a lock, which would end at once).
        """
        current = self.get_transaction_connection()
        if current is not None:
            driver = (await current.get_raw_connection()).driver_connection
            assert driver is not None
            rows: list[asyncpg.Record] = await driver.fetch(sql, *args)
            return rows
        assert self._reads is not None, "Database not connected"
        # No ping: a connection the server closed is seen closed by asyncpg when the server
        # says so, and the pool replaces it at the next acquire (tests/perf/test_pool_ping.py).
        rows = await self._reads.fetch(sql, *args)
        return rows

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        """The first row of one SELECT, or None; as `fetch`."""
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """The current transaction's connection, else an autocommit one (as ormar's queries use).

        ormar's `connection()` hands out a non-autocommit connection, so each read outside a
        transaction paid two extra round trips (BEGIN, ROLLBACK) for nothing.
        """
        current = self.get_transaction_connection()
        if current is not None:
            yield current
            return
        assert self._autocommit_engine is not None, "DatabaseConnection not connected"
        async with self._autocommit_engine.connect() as conn:
            yield conn


# A pooled connection idle for longer than this is pinged before use (see Database.connect).
PING_AFTER_IDLE_SECONDS = 10.0


def _mark_idle(dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
        return
    try:
        dbapi_connection.ping()
    except Exception as exc:  # whatever the driver raises, this connection is unusable
        # The pool discards the connection and checks out (or opens) another.
        raise sqlalchemy.exc.DisconnectionError(f"idle connection is dead: {exc}") from exc


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


database = Database()

base_ormar_config = ormar.OrmarConfig(metadata=metadata, database=database)


class NativeUUID(ormar.UUID):  # type: ignore[valid-type,misc]  # ormar fields are factories
    """ormar's UUID stored as PostgreSQL's native `uuid` instead of CHAR(32)."""

    @classmethod
    def get_column_type(cls, **kwargs: Any) -> Any:
        return postgresql.UUID(as_uuid=True)


def new_uuid() -> uuid.UUID:
    return uuid.uuid4()


@asynccontextmanager
async def transaction() -> AsyncIterator[AsyncConnection]:
    """Open (or join) the transaction of the current context and yield its connection."""
    async with database.transaction():
        conn = database.get_transaction_connection()
        assert conn is not None
        yield conn


class JSONB(ormar.JSON):  # type: ignore[valid-type,misc]  # ormar fields are factories
    """ormar's JSON stored as PostgreSQL's `jsonb` (compact, comparable, indexable)."""

    @classmethod
    def get_column_type(cls, **kwargs: Any) -> Any:
        return postgresql.JSONB(none_as_null=True)
