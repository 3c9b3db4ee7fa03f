"""What `DATABASE_URL` leads to: PostgreSQL itself or a connection pooler, and whether the app's
pool is safe behind it as configured (`podium serve` asks before it starts its workers).

Three looks, each decisive on its own terms:
- A pooler answers the start-up with a cancel key of its own, so the backend PID the client was
  given is not the PID of the backend that runs its statements (`pg_backend_pid()`).
- A pooler that tracks prepared statements (PgBouncer >= 1.21 with `max_prepared_statements`)
  prepares them on the server under names of its own; one that does not passes the client's
  name through.
- A pooler that shares server connections gives the backend that one client just used to the
  next client that asks, while the first is still connected (PgBouncer reuses the most recently
  released server connection first); one that pools by session never does.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

import asyncpg

from podium.config import PgBouncerMode
from podium.database_url import plain_url

log = logging.getLogger(__name__)

# How many times the two-client look is made: under load another client may take the released
# server connection first.
SHARING_TRIES = 3
# A session pooler whose pool is full makes the second client wait: that is not sharing.
SECOND_CLIENT_WAIT_SECONDS = 3.0


@dataclass(frozen=True)
class Pooler:
    """What was found; `pooled` False means PostgreSQL itself."""

    pooled: bool
    tracks_prepared_statements: bool = False
    shares_server_connections: bool = False


async def probe(url: str, *, connect_timeout: float = 5.0) -> Pooler:
    """Look at what `url` leads to (two short connections, a few statements, nothing left)."""
    url = plain_url(url)
    # No statement cache: the probe itself must be safe behind whatever it finds.
    first = await asyncpg.connect(url, statement_cache_size=0, timeout=connect_timeout)
    try:
        if await first.fetchval("SELECT pg_backend_pid()") == first.get_server_pid():
            return Pooler(pooled=False)
        tracks = await _tracks_prepared_statements(first)
        shares = False if tracks else await _shares_server_connections(first, url, connect_timeout)
        return Pooler(
            pooled=True, tracks_prepared_statements=tracks, shares_server_connections=shares
        )
    finally:
        await first.close()


async def _tracks_prepared_statements(conn: asyncpg.Connection) -> bool:
    name = f"podium_probe_{secrets.token_hex(6)}"
    query = f"SELECT '{name}'"
    # One transaction: one server connection, whatever the pooling mode.
    async with conn.transaction():
        await conn.prepare(query, name=name)
        server_names = [
            row["name"]
            for row in await conn.fetch(
                "SELECT name FROM pg_prepared_statements WHERE statement = $1", query
            )
        ]
        if name in server_names:
            # Passed through as it is: the server holds it under our name, so remove it there.
            await conn.execute(f"DEALLOCATE {name}")
            return False
    return bool(server_names)


async def _shares_server_connections(
    first: asyncpg.Connection, url: str, connect_timeout: float
) -> bool:
    second = await asyncpg.connect(url, statement_cache_size=0, timeout=connect_timeout)
    try:
        for _ in range(SHARING_TRIES):
            used = await first.fetchval("SELECT pg_backend_pid()")
            try:
                given = await second.fetchval(
                    "SELECT pg_backend_pid()", timeout=SECOND_CLIENT_WAIT_SECONDS
                )
            except TimeoutError:
                return False
            if given == used:
                return True
        return False
    finally:
        await second.close()


def refusal(found: Pooler, mode: PgBouncerMode) -> str | None:
    """Why the app must not start behind `found` with `PODIUM_DATABASE_PGBOUNCER=mode`; None
    when it may."""
    if not found.pooled or found.tracks_prepared_statements or mode is PgBouncerMode.TRANSACTION:
        return None
    fix = (
        "set PODIUM_DATABASE_PGBOUNCER=transaction (no named prepared statements), or use "
        "PgBouncer >= 1.21 with max_prepared_statements > 0"
    )
    if found.shares_server_connections:
        return (
            "DATABASE_URL leads to a connection pooler that shares server connections between "
            "clients and does not track prepared statements (PgBouncer < 1.21 in transaction "
            f"pooling, or max_prepared_statements = 0): asyncpg's named statements would run "
            f"another client's statement or fail. {fix}"
        )
    if mode is PgBouncerMode.SESSION:
        return None
    return (
        "DATABASE_URL leads to a connection pooler that does not track prepared statements "
        "(PgBouncer < 1.21, or max_prepared_statements = 0); it seemed to pool by session, which "
        "is safe as it is, but that cannot be told for sure: "
        f"{fix}; or, if it pools by session, PODIUM_DATABASE_PGBOUNCER=session"
    )


async def check(url: str, mode: PgBouncerMode, statement_timeout: float = 0.0) -> str | None:
    """`podium serve`'s check before it starts: why it must not start (see `refusal`), or None.

    `statement_timeout` (seconds, 0: none) is what the app's pool sends as a startup parameter at
    `PODIUM_DATABASE_PGBOUNCER=off`, which PgBouncer refuses unless told to ignore it.
    """
    if mode is PgBouncerMode.TRANSACTION:
        return None  # safe behind anything: nothing to look for
    try:
        found = await probe(url)
        refused = (
            await _refuses_statement_timeout(url, statement_timeout)
            if found.pooled and mode is PgBouncerMode.OFF and statement_timeout
            else None
        )
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        # The app starts while the database is down (/health answers 503); so does this.
        log.warning("could not look for a connection pooler at DATABASE_URL (%s)", exc)
        return None
    if found.pooled:
        log.info("DATABASE_URL leads to a connection pooler: %s", found)
    return refusal(found, mode) or refused


async def _refuses_statement_timeout(url: str, seconds: float) -> str | None:
    """Why the pooler would refuse each of the app's connections, or None: the app's pool sends
    `statement_timeout` at connect at PODIUM_DATABASE_PGBOUNCER=off, and PgBouncer (any
    version) answers "unsupported startup parameter" unless `ignore_startup_parameters` names it:
    every request would be a 503."""
    try:
        conn = await asyncpg.connect(
            plain_url(url),
            statement_cache_size=0,
            server_settings={"statement_timeout": str(round(seconds * 1000))},
        )
    except asyncpg.PostgresError as exc:
        if "startup parameter" not in str(exc):
            raise
        return (
            f"the connection pooler at DATABASE_URL refuses the statement_timeout the app sends "
            f"when it connects ({exc}): add `ignore_startup_parameters = statement_timeout` to "
            "pgbouncer.ini and set the timeout on the role instead (ALTER ROLE … SET "
            "statement_timeout = '5s'), or set PODIUM_DATABASE_STATEMENT_TIMEOUT=0 (docs/"
            'operations.md, "PgBouncer")'
        )
    await conn.close()
    return None
