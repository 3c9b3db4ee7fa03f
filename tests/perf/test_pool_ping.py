"""The pool pings a connection only after it sat idle, and replaces one that died meanwhile."""

from __future__ import annotations

import asyncpg
import pytest
import sqlalchemy

from podium import db
from podium.db import Database


async def _backend_pid(database: Database) -> int:
    async with database.connection() as conn:
        pid: int = await conn.scalar(sqlalchemy.text("SELECT pg_backend_pid()"))
    return pid


async def test_idle_connection_killed_by_the_server_is_replaced_before_use(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = Database()
    database.configure(
        "postgresql+asyncpg://" + database_url.removeprefix("postgresql://"),
        pool_size=1,
        max_overflow=0,
    )
    await database.connect()
    try:
        first = await _backend_pid(database)
        admin = await asyncpg.connect(database_url)
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1, 5000)", first)
        finally:
            await admin.close()
        monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)

        second = await _backend_pid(database)

        assert second != first
    finally:
        await database.disconnect()


async def test_connection_killed_while_in_steady_use_fails_once_then_is_replaced(
    database_url: str,
) -> None:
    # No ping within PING_AFTER_IDLE_SECONDS: the dead connection is found by the query itself,
    # which fails; SQLAlchemy then invalidates it (and every older one) and the next query works.
    database = Database()
    database.configure(
        "postgresql+asyncpg://" + database_url.removeprefix("postgresql://"),
        pool_size=1,
        max_overflow=0,
    )
    await database.connect()
    try:
        first = await _backend_pid(database)
        admin = await asyncpg.connect(database_url)
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1, 5000)", first)
        finally:
            await admin.close()

        with pytest.raises(sqlalchemy.exc.DBAPIError) as failure:
            await _backend_pid(database)
        second = await _backend_pid(database)

        assert failure.value.connection_invalidated
        assert second != first
    finally:
        await database.disconnect()
