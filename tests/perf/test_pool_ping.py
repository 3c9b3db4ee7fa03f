"""The pools: SQLAlchemy's pings a connection only after it sat idle and replaces a dead one; the
read pool reconnects, reads in the transaction and leaves no session state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest
import sqlalchemy

from podium import db
from podium.database_url import sqlalchemy_url
from podium.db import Database


@asynccontextmanager
async def _connected(database_url: str) -> AsyncIterator[Database]:
    """A Database with one connection per pool, connected for the block."""
    database = Database()
    database.configure(
        sqlalchemy_url(database_url),
        pool_size=1,
        max_overflow=0,
    )
    await database.connect()
    try:
        yield database
    finally:
        await database.disconnect()


async def _terminate(database_url: str, pid: int) -> None:
    """End a backend from another connection, as a server restart or an idle timeout would."""
    admin = await asyncpg.connect(database_url)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1, 5000)", pid)
    finally:
        await admin.close()


async def _backend_pid(database: Database) -> int:
    async with database.connection() as conn:
        pid: int = await conn.scalar(sqlalchemy.text("SELECT pg_backend_pid()"))
    return pid


async def test_idle_connection_killed_by_the_server_is_replaced_before_use(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with _connected(database_url) as database:
        first = await _backend_pid(database)
        await _terminate(database_url, first)
        monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)

        second = await _backend_pid(database)

        assert second != first


async def test_connection_killed_while_in_steady_use_fails_once_then_is_replaced(
    database_url: str,
) -> None:
    # No ping within PING_AFTER_IDLE_SECONDS: the dead connection is found by the query itself,
    # which fails; SQLAlchemy then invalidates it (and every older one) and the next query works.
    async with _connected(database_url) as database:
        first = await _backend_pid(database)
        await _terminate(database_url, first)

        with pytest.raises(sqlalchemy.exc.DBAPIError) as failure:
            await _backend_pid(database)
        second = await _backend_pid(database)

        assert failure.value.connection_invalidated
        assert second != first


async def test_read_after_the_server_killed_its_connection_gets_a_new_one(
    database_url: str,
) -> None:
    async with _connected(database_url) as database:
        first = (await database.fetchrow("SELECT pg_backend_pid() AS pid"))["pid"]
        await _terminate(database_url, first)

        # No ping and no error: asyncpg saw the server close it, and the pool reconnects.
        second = (await database.fetchrow("SELECT pg_backend_pid() AS pid"))["pid"]

        assert second != first


async def test_reads_in_a_transaction_use_its_connection_and_see_its_writes(
    database_url: str,
) -> None:
    async with _connected(database_url) as database:
        outside = (await database.fetchrow("SELECT pg_backend_pid() AS pid"))["pid"]
        async with database.transaction():
            conn = database.get_transaction_connection()
            assert conn is not None
            await conn.execute(sqlalchemy.text("CREATE TEMPORARY TABLE seen (n int)"))
            await conn.execute(sqlalchemy.text("INSERT INTO seen VALUES (7)"))
            inside = await database.fetch("SELECT n, pg_backend_pid() AS pid FROM seen")
            transaction_pid = await conn.scalar(sqlalchemy.text("SELECT pg_backend_pid()"))

        assert [row["n"] for row in inside] == [7]
        assert inside[0]["pid"] == transaction_pid != outside


async def test_read_pool_decodes_json_and_keeps_no_session_state_between_reads(
    database_url: str,
) -> None:
    async with _connected(database_url) as database:
        row = await database.fetchrow("SELECT $1::jsonb AS doc", {"a": [1, "é"]})
        assert row is not None and row["doc"] == {"a": [1, "é"]}
        # One connection (pool_size=1): a statement's SET LOCAL ends with it (autocommit).
        await database.fetch("SELECT set_config('statement_timeout', '1234', true)")
        after = await database.fetchrow("SELECT current_setting('statement_timeout') AS value")
        assert after is not None and after["value"] != "1234ms"
