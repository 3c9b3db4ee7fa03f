"""Database faults answer 503 with Retry-After and the JSON error body, never 500; a request past
its deadline is a 503 whose transaction was rolled back. The faults of a real server (restart,
SIGKILL, SIGSTOP, connection pressure) are in tests/faults/."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from fastapi import APIRouter, FastAPI

from podium.app import create_app
from podium.config import Settings
from podium.db import Database, Timeouts, connection_fault
from podium.deps import Db
from podium.errors import DatabaseUnavailable
from tests.api.conftest import assert_error

# Nothing listens on the discard port: every connection attempt is refused at once.
REFUSED_URL = "postgresql://postgres@127.0.0.1:9/podium"


@pytest.fixture
async def refused(app: FastAPI) -> AsyncIterator[None]:
    """The app's database swapped for one whose server refuses connections."""
    down = Database(REFUSED_URL, size=2, timeouts=Timeouts(connect=1))
    await down.open()
    previous, app.state.database = app.state.database, down
    try:
        yield
    finally:
        app.state.database = previous
        await down.close()


def assert_unavailable(response: httpx.Response) -> None:
    assert_error(response, 503, "database_unavailable")
    assert response.headers["retry-after"] == "1"


@pytest.mark.usefixtures("refused")
async def test_reads_and_writes_are_503_while_the_database_refuses(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="podium")
    assert_unavailable(await client.get("/users/u_NkM7Ied"))
    assert_unavailable(await client.get("/events/id/some-slug"))
    assert_unavailable(
        await client.post("/users/", json={"email": "ada@example.com", "first_name": "Ada"})
    )
    # One line per request, no traceback: the cause is outside the app.
    lines = [r for r in caplog.records if "503 database unavailable" in r.getMessage()]
    assert len(lines) == 3
    assert all(record.exc_info is None for record in lines)


@pytest.mark.usefixtures("refused")
async def test_a_legacy_redirect_is_503_while_the_database_refuses(
    client: httpx.AsyncClient,
) -> None:
    # Answered by middleware in front of the routes, which the exception handlers do not see.
    assert_unavailable(await client.get("/users/recAAAAAAAAAAAAAA"))


@pytest.mark.usefixtures("refused")
async def test_health_is_503_while_the_database_refuses(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/health"), 503, "database_unavailable")


async def test_a_statement_past_the_statement_timeout_is_unavailable(database_url: str) -> None:
    database = Database(database_url, size=1, timeouts=Timeouts(statement=0.2))
    await database.open()
    try:
        with pytest.raises(DatabaseUnavailable) as read:
            await database.fetchval("SELECT pg_sleep(2)")
        with pytest.raises(DatabaseUnavailable) as write:
            async with database.transaction() as tx:
                await tx.execute("SELECT pg_sleep(2)")
        assert "QueryCanceledError" in read.value.reason
        assert "QueryCanceledError" in write.value.reason
        # The server cancelled the statement; the pool goes on serving.
        assert await database.fetchval("SELECT 1") == 1
    finally:
        await database.close()


async def test_a_full_pool_is_unavailable_after_the_acquire_timeout(database_url: str) -> None:
    database = Database(database_url, size=1, timeouts=Timeouts(acquire=0.2))
    await database.open()
    try:
        async with database.transaction():
            with pytest.raises(DatabaseUnavailable) as caught:
                await database.fetchval("SELECT 1")
            assert caught.value.reason == "no answer in time"
        assert await database.fetchval("SELECT 1") == 1
    finally:
        await database.close()


@pytest.fixture
async def probe_table(raw_db: asyncpg.Pool) -> AsyncIterator[str]:
    await raw_db.execute("CREATE TABLE deadline_probe (n int)")
    try:
        yield "deadline_probe"
    finally:
        await raw_db.execute("DROP TABLE deadline_probe")


async def test_a_request_past_its_deadline_is_503_and_writes_nothing(
    settings: Settings, raw_db: asyncpg.Pool, probe_table: str
) -> None:
    app = create_app(settings.model_copy(update={"request_timeout": 0.5}))
    slow = APIRouter()

    @slow.post("/slow-write")
    async def slow_write(db: Db) -> dict[str, str]:
        """Writes, then takes longer than the deadline."""
        async with db.transaction() as tx:
            await tx.execute(f"INSERT INTO {probe_table} VALUES (1)")
            await asyncio.sleep(5)
        return {}

    app.include_router(slow)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            response = await http.post("/slow-write")
            assert_error(response, 503, "request_timeout")
            assert response.headers["retry-after"] == "1"
            # The app goes on serving after the cancelled request.
            assert (await http.get("/health")).status_code == 200
    assert await raw_db.fetchval(f"SELECT count(*) FROM {probe_table}") == 0


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.AdminShutdownError(
            "terminating connection due to administrator command"
        ),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.InterfaceError("connection is closed"),
        ConnectionRefusedError(111, "Connection refused"),
        ConnectionResetError(104, "Connection reset by peer"),
        TimeoutError(),
    ],
    ids=type,
)
def test_connection_faults_are_unavailable(error: BaseException) -> None:
    assert connection_fault(error) is not None


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.UniqueViolationError("duplicate key value"),
        asyncpg.exceptions.CheckViolationError("new row violates check constraint"),
        asyncpg.exceptions.DataError("invalid input"),
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
        ValueError("a bug"),
    ],
    ids=type,
)
def test_errors_of_the_request_itself_are_not_unavailable(error: BaseException) -> None:
    assert connection_fault(error) is None
