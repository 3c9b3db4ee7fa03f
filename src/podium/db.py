"""The schema's metadata (the ormar models declare the tables) and the app's one asyncpg pool."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
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
from podium.errors import DatabaseUnavailable

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class Timeouts:
    """How long the app waits for the database, in seconds (settings: docs/operations.md)."""

    # Opening a connection (TCP, TLS, authentication, the init statements).
    connect: float = 5.0
    # Waiting for a free connection of the pool (and opening it when there is none).
    acquire: float = 5.0
    # PostgreSQL's `statement_timeout`, sent at connect; 0 sends none (the server's own holds).
    statement: float = 5.0
    # An idle connection is closed after this long (0: never); the pool reopens one on demand.
    idle: float = 60.0
    # A COMMIT already sent is waited for this long before the answer is "unavailable".
    commit: float = 15.0

    @property
    def client_statement(self) -> float | None:
        """The client-side bound on a statement or a transaction's body: a second past the
        server's own, so it only fires when the server cannot answer (frozen, cut off)."""
        return self.statement + STATEMENT_MARGIN_SECONDS if self.statement else None


# The server cancels a statement at `statement_timeout`; the client gives it this much more to
# say so before deciding the server is gone.
STATEMENT_MARGIN_SECONDS = 1.0


def connection_fault(exc: BaseException, conn: asyncpg.Connection | None = None) -> str | None:
    """Why `exc` means "the database is unavailable" (a reason for the log), or None for an
    error of the request itself (a constraint, bad data, a bug), which stays what it is.

    The one place that decides what answers 503: the connection failed, was refused, was cut,
    the server is shutting down or starting up, has no connection slot free, cancelled a
    statement at our statement timeout, or nothing answered in time.
    """
    if isinstance(exc, DatabaseUnavailable):
        return exc.reason
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, asyncpg.PostgresError):
        sqlstate = getattr(exc, "sqlstate", None) or ""
        # 08: connection exception; 57: operator intervention (shutdown, starting up, statement
        # cancelled); 53300: too many connections; 25P03: idle-in-transaction timeout.
        if sqlstate[:2] in ("08", "57") or sqlstate in ("53300", "25P03"):
            return f"{type(exc).__name__}: {exc}"
        return None
    if isinstance(exc, OSError):
        return f"{type(exc).__name__}: {exc.strerror or exc}"
    if isinstance(exc, asyncpg.InterfaceError | asyncpg.InternalClientError) and (
        (conn is not None and conn.is_closed()) or "closed" in str(exc)
    ):
        # Whatever asyncpg says of a connection that is gone ("connection is closed", "cannot
        # switch to state …" after the server dropped it mid-protocol) is a lost connection.
        return f"{type(exc).__name__}: {exc}"
    return None


# What the driver and the network raise: the types `connection_fault` sorts out.
DRIVER_ERRORS: tuple[type[Exception], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
    TimeoutError,
)


def _raise_as_unavailable(exc: BaseException, conn: asyncpg.Connection | None = None) -> None:
    """Raise DatabaseUnavailable from `exc` when it is a connection fault; else return."""
    reason = connection_fault(exc, conn)
    if reason is not None and not isinstance(exc, DatabaseUnavailable):
        raise DatabaseUnavailable(reason) from exc


class Database:
    """The app's one asyncpg pool: every statement the web app sends goes through it.

    Reads outside a transaction go straight to the pool (`fetch`…: acquire, one statement,
    release); writes run in `transaction()`. The pool opens connections lazily (`min_size=0`),
    so the process starts, and /health answers 503, while the database is down. Behind a
    transaction-pooling PgBouncer < 1.21 (`pgbouncer=TRANSACTION`) it prepares no named
    statement: asyncpg's per-connection names (`__asyncpg_stmt_7__`) would meet another
    client's statement of the same name on a shared server connection, or none.

    Every wait is bounded (`Timeouts`), and a connection fault (`connection_fault`) leaves as
    `DatabaseUnavailable`, a 503. A connection that timed out or was cancelled is terminated,
    never given back: a frozen server must not be asked for a rollback, and its backend ends the
    transaction when it sees the socket closed.
    """

    def __init__(
        self,
        url: str,
        *,
        size: int,
        timeouts: Timeouts | None = None,
        on_connect: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
        pgbouncer: PgBouncerMode = PgBouncerMode.OFF,
    ) -> None:
        self._url = plain_url(url)
        self._shared_servers = pgbouncer is PgBouncerMode.TRANSACTION
        self._behind_pgbouncer = pgbouncer is not PgBouncerMode.OFF
        self._size = size
        self.timeouts = timeouts or Timeouts()
        self._on_connect = on_connect
        self._pool: asyncpg.Pool | None = None
        # Requests in `_acquire` now (asyncpg does not say how many wait): the metrics' figure.
        self._waiting = 0

    async def _init(self, conn: asyncpg.Connection) -> None:
        await _decode_json(conn)
        if self._behind_pgbouncer and not self._shared_servers and self.timeouts.statement:
            # Session pooling: the session is this client's, so the setting PgBouncer would
            # refuse as a startup parameter is set once the connection is up.
            milliseconds = round(self.timeouts.statement * 1000)
            await conn.execute(f"SET statement_timeout = {milliseconds}")
        if self._on_connect is not None:  # e.g. a test's query logger
            await self._on_connect(conn)

    def _server_settings(self) -> dict[str, str]:
        # PgBouncer 1.18 refuses startup parameters it does not know ("unsupported startup
        # parameter"). In session pooling `_init` sets it instead; in transaction pooling a
        # session setting means nothing on a shared server connection: set statement_timeout on
        # the server (ALTER ROLE … SET), docs/operations.md ("PgBouncer"). The app's own limit per
        # statement (timeouts.statement + 1 s) applies either way.
        if not self.timeouts.statement or self._behind_pgbouncer:
            return {}
        return {"statement_timeout": str(round(self.timeouts.statement * 1000))}

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
            timeout=self.timeouts.connect,
            server_settings=self._server_settings(),
            # Idle connections go back to the server: a quiet worker holds none of its slots.
            max_inactive_connection_lifetime=self.timeouts.idle,
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

    def pool_figures(self) -> tuple[int, int, int, int]:
        """(in use, idle, waiting, maximum) connections of the pool, for podium.metrics."""
        if self._pool is None:
            return 0, 0, self._waiting, self._size
        open_, idle = self._pool.get_size(), self._pool.get_idle_size()
        return open_ - idle, idle, self._waiting, self._size

    async def _acquire(self) -> asyncpg.Connection:
        self._waiting += 1
        try:
            conn: asyncpg.Connection = await self.pool.acquire(timeout=self.timeouts.acquire)
        except Exception as exc:
            _raise_as_unavailable(exc)
            raise
        finally:
            self._waiting -= 1
        return conn

    async def _give_back(self, conn: asyncpg.Connection, exc: BaseException | None) -> None:
        """Release `conn`, or terminate it when it may be stuck mid-statement."""
        stuck = isinstance(exc, TimeoutError | asyncio.CancelledError)
        if stuck or (exc is not None and connection_fault(exc, conn) is not None):
            _terminate(conn)
        try:
            await self.pool.release(conn)
        except Exception:
            # The work is done (a COMMIT answered, the rows are in hand): a connection that
            # died since, or that the pool already took back when the server closed it ("called
            # on a free connection holder"), changes nothing of the answer. release() terminated
            # it; the pool opens another when one is needed.
            log.debug("a connection could not be given back to the pool", exc_info=True)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        conn = await self._acquire()
        failure: BaseException | None = None
        try:
            yield conn
        except BaseException as exc:
            failure = exc
            _raise_as_unavailable(exc, conn)
            raise
        finally:
            await self._give_back(conn, failure)

    # No ping before use: a connection the server closed is seen closed by asyncpg when the
    # server says so, and the pool replaces it at the next acquire (tests/perf/test_pool.py).
    async def fetch(self, query: str, *args: Any) -> list[Record]:
        async with self._connection() as conn:
            rows: list[Record] = await conn.fetch(
                query, *args, timeout=self.timeouts.client_statement
            )
            return rows

    async def fetchrow(self, query: str, *args: Any) -> Record | None:
        async with self._connection() as conn:
            row: Record | None = await conn.fetchrow(
                query, *args, timeout=self.timeouts.client_statement
            )
            return row

    async def fetchval(self, query: str, *args: Any) -> Any:
        async with self._connection() as conn:
            return await conn.fetchval(query, *args, timeout=self.timeouts.client_statement)

    async def execute(self, query: str, *args: Any) -> str:
        async with self._connection() as conn:
            status: str = await conn.execute(query, *args, timeout=self.timeouts.client_statement)
            return status

    @asynccontextmanager
    async def transaction(
        self,
        *,
        snapshot: bool = False,
        seconds: float | None = None,
        before_begin: Callable[[Executor], Awaitable[None]] | None = None,
    ) -> AsyncIterator[Transaction]:
        """One connection inside BEGIN … COMMIT (ROLLBACK when the block raises).

        `snapshot`: a read-only REPEATABLE READ transaction, so that several statements read one
        state of the database (an export read in chunks). `seconds` replaces the block's time
        limit (an export streams to a client that may read slowly). `before_begin` runs on the
        same connection first, on its own (autocommit): what must stand whatever becomes of the
        transaction, e.g. a rate limit's count, without a connection of its own from the pool.
        What it raises (a 429) leaves before BEGIN.

        The block gets `Timeouts.client_statement` in all; past it, or on any connection fault,
        the connection is terminated and the block raises DatabaseUnavailable: nothing of it was
        committed. Only a COMMIT already sent is waited for (`Timeouts.commit`), so that a 503
        never stands for a write that was stored.
        """
        conn = await self._acquire()
        failure: BaseException | None = None
        try:
            if before_begin is not None:
                async with asyncio.timeout(self.timeouts.client_statement):
                    await before_begin(conn)
            transaction = (
                conn.transaction(isolation="repeatable_read", readonly=True)
                if snapshot
                else conn.transaction()
            )
            try:
                async with asyncio.timeout(seconds or self.timeouts.client_statement):
                    await transaction.start()
                    yield conn
            except BaseException as exc:
                failure = exc
                if not isinstance(exc, TimeoutError | asyncio.CancelledError) and (
                    connection_fault(exc, conn) is None
                ):
                    # A healthy connection (a constraint, a rule, a bug): roll back on it.
                    await transaction.rollback()
                raise
            await _commit(conn, transaction, self.timeouts.commit)
        except BaseException as exc:
            failure = failure or exc
            _raise_as_unavailable(exc, conn)
            raise
        finally:
            await self._give_back(conn, failure)


def _terminate(conn: asyncpg.Connection) -> None:
    """Close `conn` at once, without a word to the server."""
    # A connection the server closed was already handed back to the pool by asyncpg itself.
    with contextlib.suppress(asyncpg.InterfaceError):
        conn.terminate()


async def _commit(conn: asyncpg.Connection, transaction: Any, wait: float) -> None:
    """COMMIT, waited for even past the request's deadline (up to `wait` seconds).

    Once COMMIT is sent the write may be stored whatever the client does, so its outcome is the
    only honest answer: the request deadline's cancellation is held off until it is known. Only
    a server silent for `wait` seconds leaves it unknown (the connection is terminated and the
    answer is 503, see docs/operations.md).
    """
    commit = asyncio.ensure_future(transaction.commit())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while not commit.done():
        remaining = deadline - loop.time()
        if remaining <= 0:
            commit.cancel()
            _terminate(conn)
            raise DatabaseUnavailable("COMMIT unanswered; its outcome is unknown")
        try:
            await asyncio.wait([commit], timeout=remaining)
        except asyncio.CancelledError:
            # The request's deadline: keep waiting for the outcome (see above).
            continue
    commit.result()


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
