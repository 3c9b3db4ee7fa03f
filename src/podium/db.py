"""The one database handle, its metadata, and the per-request transaction."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import ormar
import sqlalchemy
from ormar.databases.connection import DatabaseConnection
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

# Stable constraint names so Alembic sees the same names the models declare.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sqlalchemy.MetaData(naming_convention=NAMING_CONVENTION)


class Database(DatabaseConnection):
    """ormar's connection, but bound to a URL at start-up rather than at import time."""

    def __init__(self) -> None:
        super().__init__("postgresql+asyncpg://unconfigured")

    def configure(self, url: str, **options: Any) -> None:
        if self.is_connected:
            raise RuntimeError("configure() after connect()")
        self._url = url
        self._options = {"pool_size": 10, "max_overflow": 10, **options}

    async def connect(self) -> None:
        await super().connect()
        # Not `pool_pre_ping`: with asyncpg it costs three round trips (BEGIN, ping, ROLLBACK)
        # at every checkout, several per request. A connection that has sat idle is pinged
        # instead; one in use keeps working, and a dead one found mid-load is invalidated by
        # SQLAlchemy together with every older connection of the pool.
        pool = self.engine.sync_engine.pool
        sqlalchemy.event.listen(pool, "checkin", _mark_idle)
        sqlalchemy.event.listen(pool, "checkout", _ping_if_idle)

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
