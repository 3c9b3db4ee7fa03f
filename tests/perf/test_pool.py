"""The app's pool (podium.db.Database): a connection the server killed is replaced without a
ping, a transaction reads its own writes on its one connection, JSON arrives decoded, and no
session state outlives a statement or a transaction; behind a transaction-pooling PgBouncer
(`PgBouncerMode.TRANSACTION`) it names no statement and introspects types in a transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest

from podium.config import PgBouncerMode
from podium.db import Database, Timeouts
from podium.errors import DatabaseUnavailable


@asynccontextmanager
async def _open(
    database_url: str,
    pgbouncer: PgBouncerMode = PgBouncerMode.OFF,
    on_connect: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
) -> AsyncIterator[Database]:
    """A Database of one connection, open for the block."""
    database = Database(database_url, size=1, pgbouncer=pgbouncer, on_connect=on_connect)
    await database.open()
    try:
        yield database
    finally:
        await database.close()


async def _terminate(database_url: str, pid: int) -> None:
    """End a backend from another connection, as a server restart or an idle timeout would."""
    admin = await asyncpg.connect(database_url)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1, 5000)", pid)
    finally:
        await admin.close()


async def test_read_after_the_server_killed_its_connection_gets_a_new_one(
    database_url: str,
) -> None:
    async with _open(database_url) as database:
        first = await database.fetchval("SELECT pg_backend_pid()")
        await _terminate(database_url, first)

        # No ping and no error: asyncpg saw the server close it, and the pool reconnects.
        second = await database.fetchval("SELECT pg_backend_pid()")

        assert second != first


async def test_transaction_after_the_server_killed_its_connection_gets_a_new_one(
    database_url: str,
) -> None:
    async with _open(database_url) as database:
        async with database.transaction() as tx:
            first = await tx.fetchval("SELECT pg_backend_pid()")
        await _terminate(database_url, first)

        async with database.transaction() as tx:
            second = await tx.fetchval("SELECT pg_backend_pid()")

        assert second != first


async def test_a_connection_lost_as_it_is_given_back_changes_nothing_of_the_answer(
    database_url: str,
) -> None:
    """The work is done (here a row read; in a request a COMMIT answered) when the socket goes
    (`pg_terminate_backend`, a reset). asyncpg learns it in a callback that runs before its own
    release task, frees the pool slot there, and the release then raises "called on a free
    connection holder": that must not turn a finished request into a 500 (it did, once, in the
    fault tests). Aborting the transport as the block ends puts the two in exactly that order."""
    async with _open(database_url) as database:
        async with database._connection() as conn:
            pid = await conn.fetchval("SELECT pg_backend_pid()")
            # The socket is cut now; asyncpg's connection_lost runs at the loop's next turn.
            conn._con._transport.abort()

        assert await database.fetchval("SELECT pg_backend_pid()") != pid


async def test_a_transaction_reads_its_own_writes_on_one_connection(database_url: str) -> None:
    async with _open(database_url) as database:
        async with database.transaction() as tx:
            await tx.execute("CREATE TEMPORARY TABLE seen (n int) ON COMMIT DROP")
            await tx.execute("INSERT INTO seen VALUES (7)")
            inside = await tx.fetch("SELECT n, pg_backend_pid() AS pid FROM seen")
            assert tx.is_in_transaction()
            transaction_pid = await tx.fetchval("SELECT pg_backend_pid()")

        assert [row["n"] for row in inside] == [7]
        assert inside[0]["pid"] == transaction_pid


async def test_a_transaction_that_raises_is_rolled_back(database_url: str) -> None:
    async with _open(database_url) as database:
        await database.execute("CREATE TABLE IF NOT EXISTS pool_test_rollback (n int)")
        try:
            with pytest.raises(RuntimeError):
                async with database.transaction() as tx:
                    await tx.execute("INSERT INTO pool_test_rollback VALUES (1)")
                    raise RuntimeError("the handler failed")
            assert await database.fetchval("SELECT count(*) FROM pool_test_rollback") == 0
        finally:
            await database.execute("DROP TABLE pool_test_rollback")


async def test_pool_decodes_json_and_keeps_no_session_state(database_url: str) -> None:
    async with _open(database_url) as database:
        row = await database.fetchrow("SELECT $1::jsonb AS doc", {"a": [1, "é"]})
        assert row is not None and row["doc"] == {"a": [1, "é"]}
        # One connection: a statement's SET LOCAL ends with it (autocommit), a transaction's
        # with the transaction.
        await database.fetch("SELECT set_config('statement_timeout', '1234', true)")
        assert await database.fetchval("SHOW statement_timeout") != "1234ms"
        async with database.transaction() as tx:
            await tx.execute("SET LOCAL statement_timeout = '4321'")
        assert await database.fetchval("SHOW statement_timeout") != "4321ms"
        # Advisory locks the app takes are transaction-scoped: none survives to the next user.
        async with database.transaction() as tx:
            await tx.execute("SELECT pg_advisory_xact_lock(42)")
        assert (
            await database.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
            == 0
        )


async def test_the_database_opens_while_the_server_is_down() -> None:
    # min_size=0: no connection at start, so the process starts and /health can answer 503.
    database = Database(
        "postgresql://postgres@127.0.0.1:9/podium", size=2, timeouts=Timeouts(connect=1)
    )
    await database.open()
    try:
        # Refused: a connection fault, so the 503 of podium.errors.DatabaseUnavailable.
        with pytest.raises(DatabaseUnavailable):
            await database.fetchval("SELECT 1")
    finally:
        await database.close()


@pytest.mark.parametrize(
    ("pgbouncer", "named"), [(PgBouncerMode.OFF, 1), (PgBouncerMode.TRANSACTION, 0)]
)
async def test_behind_a_transaction_pooler_the_pool_prepares_no_named_statement(
    database_url: str, pgbouncer: PgBouncerMode, named: int
) -> None:
    async with _open(database_url, pgbouncer) as database:
        async with database.transaction() as tx:
            await tx.fetchval("SELECT $1::int + 1", 1)
            prepared = await tx.fetch("SELECT name FROM pg_prepared_statements")
        assert len([row for row in prepared if row["name"].startswith("__asyncpg")]) >= named
        if not named:
            assert prepared == []


async def test_behind_a_transaction_pooler_type_introspection_is_one_transaction(
    database_url: str,
) -> None:
    sent: list[str] = []

    async def log_queries(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(lambda logged: sent.append(" ".join(logged.query.split())))

    async with _open(database_url, PgBouncerMode.TRANSACTION, log_queries) as database:
        # int4range has no built-in codec: asyncpg introspects it (turning JIT off around it).
        value: Any = await database.fetchval("SELECT int4range(1, $1)", 3)
        assert (value.lower, value.upper) == (1, 3)
    introspection = [n for n, query in enumerate(sent) if "set_config('jit'" in query]
    assert introspection, sent
    assert sent[introspection[0] - 1] == "BEGIN READ ONLY;"
    assert sent[introspection[-1] + 1] == "COMMIT;"
