"""The benchmark's database: a fresh, migrated database on the embedded PostgreSQL or a server."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from podium import migrate
from podium.database_url import plain_url, sqlalchemy_url


@dataclass(frozen=True)
class BenchDatabase:
    url: str  # postgresql:// URL of the fresh database
    server_version: str
    where: str  # "embedded" or the server's host


def _plain(url: str) -> str:
    return plain_url(url)


@asynccontextmanager
async def fresh_database(server_url: str | None, *, keep: bool) -> AsyncIterator[BenchDatabase]:
    """A new database on `server_url`'s server (or an embedded one), dropped afterwards."""
    embedded_server = None
    temporary: Path | None = None
    if server_url is None:
        from podium.dev import embedded

        temporary = Path(tempfile.mkdtemp(prefix="podium-bench-"))
        data_dir = temporary / "pgdata"
        embedded_server = await asyncio.to_thread(embedded.start, data_dir, delete_on_stop=not keep)
        server_url = embedded_server.url("postgres")
    admin_url = _plain(server_url)
    name = f"podium_bench_{secrets.token_hex(4)}"
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        version = await admin.fetchval("SHOW server_version")
    finally:
        await admin.close()
    try:
        # Alembic's env.py runs its own event loop: keep it off this one.
        await asyncio.to_thread(migrate.upgrade, sqlalchemy_url(url))
        where = "embedded" if embedded_server else str(make_url(admin_url).host or "socket")
        yield BenchDatabase(url=url, server_version=str(version), where=where)
    finally:
        if not keep:
            admin = await asyncpg.connect(admin_url)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()
        if embedded_server is not None and not keep:
            await asyncio.to_thread(embedded_server.stop)
            if temporary is not None:
                shutil.rmtree(temporary, ignore_errors=True)
