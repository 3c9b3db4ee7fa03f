"""The one database handle, its metadata, and the per-request transaction."""

from __future__ import annotations

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
        options.setdefault("pool_pre_ping", True)
        self._url = url
        self._options = {"pool_size": 10, "max_overflow": 10, **options}


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
